"""
Noticing that the database file has gone while the server runs.

SQLite keeps writing to a file that was deleted (or moved) under it: nothing
fails, and everything written from then on, accounts above all, is lost at
the next restart, after which every nickname is free for anyone. So the file
is looked at every C{interval} seconds (from the database thread: a stat is
still a system call) and its disappearance is logged, loudly, once.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.store.history import Pool

Identity = tuple[int, int]
"""
(device, inode) of a file: which file a path names.
"""


def identity(cursor: Any) -> tuple[str, Identity | None]:
    """
    The main database's path, and the file that path names now (L{None}: none).
    """
    cursor.execute("PRAGMA database_list")
    path = next(str(row[2]) for row in cursor.fetchall() if row[1] == "main")
    try:
        found = os.stat(path)
    except OSError:
        return path, None
    return path, (found.st_dev, found.st_ino)


class FileWatch(Service):
    """
    Logs once if the database file is deleted or replaced, and once if it comes back.
    """

    log = Logger()

    def __init__(self, pool: Pool, clock: IReactorTime, interval: float = 10.0) -> None:
        self.pool = pool
        self.clock = clock
        self.interval = interval
        self._file: Identity | None = None
        self._gone = False
        self._timer: IDelayedCall | None = None

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._look()

    def stopService(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        super().stopService()  # type: ignore[no-untyped-call]

    def _look(self) -> None:
        self._timer = None
        self.pool.runInteraction(identity).addCallbacks(self._seen, self._failed)

    def _again(self) -> None:
        if self.running:
            self._timer = self.clock.callLater(self.interval, self._look)

    def _seen(self, found: tuple[str, Identity | None]) -> None:
        path, now = found
        if self._file is None and not self._gone:
            self._file = now
        elif now != self._file and not self._gone:
            self._gone = True
            self.log.critical(
                "The database file {path} has been deleted or replaced: what is written "
                "from now on (messages, registrations, bans) will not survive a restart, "
                "and after one every registered nickname would be free. Put the file back "
                "(or stop the server and restore a backup).",
                path=path,
            )
        elif now == self._file and self._gone:
            self._gone = False
            self.log.info("The database file {path} is back", path=path)
        self._again()

    def _failed(self, failure: Failure) -> None:
        self.log.failure("Could not look at the database file", failure)
        self._again()
