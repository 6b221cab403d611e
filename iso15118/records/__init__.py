"""What a session leaves behind: the crash-safe session journal and message traces (files, no networking).

Both are record writers the runner calls for every session event (:class:`~iso15118.transport.driver.Pump`):
the journal's writes are durable (``os.fsync``) and blocking, so the runner calls them from a worker thread; a
trace line is a buffered write.
"""
