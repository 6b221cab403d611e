"""The URI and local-name partitions of the string table, per stream (EXI 1.0 §7.3).

Only qualified names that the grammar does not imply pass through them (``xsi:type`` values, SE(*), AT(*)); the
value partitions stay empty under the ISO profile (valuePartitionCapacity 0, see :mod:`exi.runtime`). Coding:

* URI: an n-bit unsigned integer, n = ceil(log2(entries + 1)); a hit is the entry's id + 1, a miss 0 followed by the
  URI as a String (length, code points), which then becomes the next entry with an empty local-name partition;
* local name: a hit is Unsigned Integer 0 followed by the id in ceil(log2(entries)) bits, a miss the Unsigned
  Integer length + 1 followed by the code points, which then become the partition's next entry.

The initial partitions (:class:`Partitions`, shared by every stream of a schema set) are never copied: a stream's
table keeps only what it added.
"""

from __future__ import annotations

from exi.datatypes import bits_for
from exi.model import QName

__all__ = ["Partitions", "Strings"]


class Partitions:
    """The initial URI and local-name partitions of a schema set, with their lookup maps."""

    __slots__ = ("name_ids", "names", "uri_ids", "uris")

    def __init__(self, uris: tuple[str, ...], local_names: tuple[tuple[str, ...], ...]) -> None:
        self.uris = uris
        self.uri_ids = {u: i for i, u in enumerate(uris)}
        self.names = local_names
        self.name_ids = tuple({n: i for i, n in enumerate(p)} for p in local_names)


class Strings:
    """The qualified-name string table of one stream: the initial partitions plus what the stream added."""

    __slots__ = ("added", "base", "learned", "new_uris")

    def __init__(self, base: Partitions) -> None:
        self.base = base
        self.new_uris: list[str] = []
        self.added: dict[int, list[str]] = {}
        """URI id -> local names added to its partition, in order."""
        self.learned: set[QName] = set()
        """Undeclared elements whose built-in grammar learned AT(xsi:type): EXIficient, with the ISO profile's
        limit of 0 built-in grammars, writes every undeclared element as xsi:type="xs:anyType" (or the type it
        names) through the second level, and that first cast adds the production to the element's grammar, so a
        later occurrence of the same name codes the escape to the second level in 1 bit."""

    @property
    def uri_count(self) -> int:
        """Entries of the URI partition."""
        return len(self.base.uris) + len(self.new_uris)

    def uri(self, index: int) -> str:
        """The URI with id ``index``."""
        base = self.base.uris
        return base[index] if index < len(base) else self.new_uris[index - len(base)]

    def uri_width(self) -> int:
        """Bits of a URI code right now."""
        return bits_for(self.uri_count + 1)

    def find_uri(self, uri: str) -> int | None:
        """The id of a URI, or None (a miss)."""
        found = self.base.uri_ids.get(uri)
        if found is None and uri in self.new_uris:
            found = len(self.base.uris) + self.new_uris.index(uri)
        return found

    def add_uri(self, uri: str) -> int:
        """Append a URI (after a miss); returns its id."""
        self.new_uris.append(uri)
        return self.uri_count - 1

    def _count(self, uri: int) -> int:
        base = len(self.base.names[uri]) if uri < len(self.base.uris) else 0
        return base + len(self.added.get(uri, ()))

    def find_name(self, uri: int, local: str) -> int | None:
        """The id of a local name in URI ``uri``'s partition, or None (a miss)."""
        if uri < len(self.base.uris):
            found = self.base.name_ids[uri].get(local)
            if found is not None:
                return found
        added = self.added.get(uri)
        if added and local in added:
            return self._count(uri) - len(added) + added.index(local)
        return None

    def name_width(self, uri: int) -> int:
        """Bits of a local-name hit's id in URI ``uri``'s partition."""
        return bits_for(self._count(uri))

    def name(self, uri: int, index: int) -> str | None:
        """The local name with id ``index`` in URI ``uri``'s partition (None if out of range)."""
        base = self.base.names[uri] if uri < len(self.base.uris) else ()
        if index < len(base):
            return base[index]
        added = self.added.get(uri, [])
        index -= len(base)
        return added[index] if index < len(added) else None

    def add_name(self, uri: int, local: str) -> None:
        """Append a local name to URI ``uri``'s partition (after a miss)."""
        self.added.setdefault(uri, []).append(local)

    def qname(self, uri: int, index: int) -> QName:
        """The qualified name of a hit."""
        name = self.name(uri, index)
        assert name is not None
        return (self.uri(uri), name)
