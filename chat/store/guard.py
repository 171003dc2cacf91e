"""
Keeping SQLite away from a database file it would crash on.

In WAL mode SQLite maps the C{-shm} file into memory and writes to it on every
transaction, reads included. When that file is made immutable (C{chattr +i}),
or its file system read-only, while the server runs, the kernel answers the
next write to the mapping with SIGBUS, which kills the whole process: no error
to catch, no goodbye, every user dropped. Plain writes to the database and the
log fail politely (an error SQLite reports); only the mapping is fatal.

So before each transaction the database thread (L{chat.store.thread}) asks
the kernel, in two cheap system calls on a descriptor kept open for it,
whether the C{-shm} file can still be written; if not, the transaction is
refused with the error SQLite would give for a read-only database, and what
the server does with a failed write (keep relayed messages and retry, tell a
user that nothing changed) follows. Once the file is writable again,
transactions go through again.
"""

from __future__ import annotations

import fcntl
import os
import sys

FS_IOC_GETFLAGS = 0x80086601
"""
Linux's ioctl for a file's attributes (C{lsattr}), C{_IOR('f', 1, long)}.
"""

FS_IMMUTABLE_FL = 0x10
"""
The immutable attribute (C{chattr +i}).
"""


class ShmGuard:
    """
    Whether the C{-shm} file of the database at C{path} may be written.

    The descriptor is the file SQLite has mapped, kept even if the name is
    later given to another file; it is opened when the file first exists.
    Only the database thread uses it.
    """

    def __init__(self, path: str) -> None:
        self.shm = path + "-shm"
        self._fd: int | None = None

    def problem(self) -> str | None:
        """
        Why the mapping must not be touched now, or L{None}.
        """
        if self._fd is None:
            try:
                self._fd = os.open(self.shm, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None  # not made yet: SQLite makes it on its first transaction
        if os.fstatvfs(self._fd).f_flag & os.ST_RDONLY:
            return "its file system is read-only"
        try:
            flags = fcntl.ioctl(self._fd, FS_IOC_GETFLAGS, bytes(8))
        except OSError:
            return None  # a file system without attributes: none can be set
        if int.from_bytes(flags[:4], sys.byteorder) & FS_IMMUTABLE_FL:
            return "its -shm file is immutable"
        return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
