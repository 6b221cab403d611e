"""I/O adapters: the only asyncio, socket and ssl code of the library."""
