"""
Opening the database at start-up, before anything listens.

twistd calls every service's C{privilegedStartService} before the reactor
runs, and the listeners listen in theirs (L{chat.tap.Listener}).
L{Opening}, first in the service tree, takes that moment, when a blocking
call holds up nobody, to open the database and bring its schema up to date,
and to load what admission checks, the bans (L{chat.store.bans}), so that
they hold from the first connection, and the rooms kept before
(L{chat.store.rooms}), so that nobody makes one of them anew. A file the
server cannot use (one of a newer server, damaged, truncated, not a
database, a directory) ends twistd there with one line that says what is
wrong and what to do, rather than starting a server that refuses every
login, with tracebacks in its log.
During service, the database is only ever used from its threads
(L{chat.store.thread}).

First of all it takes a lock on the database file, held for the server's
life, so that a second server started on the same file refuses to start
(as PostgreSQL and Ergo do) instead of writing into the first one's history
while each enforces bans of its own. The lock is C{flock} on the database
file itself: SQLite's own locks are POSIX record locks, which C{flock}
neither sees nor disturbs on a local file system, so C{python -m
chat.admin} and C{python -m chat.transcript} still use the database while
the server runs; and, unlike a lock file, it cannot be left behind: the
kernel lets go of it when the process ends, however it ends.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from collections.abc import Callable
from typing import NamedTuple

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorCore

from chat.core.events import KeptRoom
from chat.store import database, rooms
from chat.store.bans import Bans

CHECKED = ("accounts", "bans", "offline", "rooms")
"""
The tables every login and connection reads, checked page by page at
start-up (SQLite's C{quick_check}): small, and without them nobody gets
in. The messages, which may be gigabytes, are not read through: a damaged
page there costs the history of some rooms, and nobody their login.
"""


class Unusable(Exception):
    """
    The database cannot be used; the message says why, and what to do.
    """


def _directory(path: str) -> Unusable:
    return Unusable(f"--db {path} is a directory; give the path of a file (created if need be)")


def lock(path: str) -> int:
    """
    A descriptor of the database file at C{path} (created if need be),
    locked for this process until it is closed; raise L{Unusable} if
    another server holds the lock, or the file cannot be opened for writing.
    """
    if os.path.isdir(path):
        raise _directory(path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise Unusable(
            f"cannot open the database {path} ({e.strerror}); the server must be able to "
            "read and write it"
        ) from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise Unusable(
                f"the database {path} is in use by another chat server; stop that one first, "
                "or give this one another --db"
            ) from e
        raise Unusable(
            f"cannot lock the database {path} ({e.strerror}); keep it on a local file system"
        ) from e
    return fd


class Stored(NamedTuple):
    """
    What the server loads at start-up: the bans, and the kept rooms.
    """

    bans: list[database.BanRow]
    rooms: list[KeptRoom]


def check(path: str) -> Stored:
    """
    Open the database at C{path} (created if need be), bring its schema up
    to date and check what logins read; return the bans and kept rooms it
    holds, or raise L{Unusable} if it cannot be used.
    """
    if os.path.isdir(path):
        raise _directory(path)
    try:
        db = sqlite3.connect(path)
    except sqlite3.Error as e:
        raise Unusable(f"cannot open the database {path} ({e}); check its directory") from e
    try:
        database.prepare(db)
        for table in CHECKED:
            found = [str(row[0]) for row in db.execute(f"PRAGMA quick_check({table})")]
            if found != ["ok"]:
                # One problem a line, under a heading; the first says enough.
                problems = [line for text in found for line in text.splitlines()]
                first = next((line for line in problems if not line.startswith("***")), "")
                raise sqlite3.DatabaseError(f"damaged: {first or problems[0]}")
        return Stored(database.bans(db.cursor()), rooms.load(db.cursor()))
    except database.NewerSchema as e:
        raise Unusable(
            f"the database {path} has schema version {e.found}, from a newer version of chat "
            f"(this one knows up to {database.LATEST}); run that version, or restore a backup "
            "made before the upgrade"
        ) from e
    except sqlite3.OperationalError as e:
        if "locked" not in str(e):
            raise _damaged(path, e) from e
        # Another program (python -m chat.admin) writing for longer than the busy timeout.
        raise Unusable(
            f"the database {path} is locked by another program ({e}); try again once it is done"
        ) from e
    except sqlite3.Error as e:
        raise _damaged(path, e) from e
    finally:
        db.close()


def _damaged(path: str, e: sqlite3.Error) -> Unusable:
    return Unusable(
        f"cannot use the database {path} ({e}); restore it from a backup, or move it away to "
        "start with an empty one"
    )


class Opening(Service):
    """
    Locks and checks the database in C{privilegedStartService}, before any
    listener listens, and ends twistd with one line if it cannot be used;
    then loads the bans and the kept rooms.
    The lock is let go of once the reactor has shut down, after the database
    threads have written their last and closed (they close in the same
    phase, and were asked to first).
    """

    def __init__(
        self,
        path: str,
        reactor: IReactorCore,
        bans: Bans | None = None,
        restore: Callable[[list[KeptRoom]], None] | None = None,
        checking: Callable[[str], Stored] = check,
        locking: bool = True,
    ) -> None:
        """
        @param bans: loaded from the database once it is checked.
        @param restore: given the kept rooms read from the database then
            (the chat's L{chat.core.interfaces.Chat.restore}).
        @param checking: how the database is opened and read: L{check} for
            an SQLite file, L{chat.store.pg.check} for PostgreSQL.
        @param locking: whether the file is locked for this server alone;
            not a PostgreSQL database, which several servers share.
        """
        self.path = path
        self.reactor = reactor
        self.bans = bans
        self.restore = restore
        self.checking = checking
        self.locking = locking
        self._lock: int | None = None

    def privilegedStartService(self) -> None:
        super().privilegedStartService()  # type: ignore[no-untyped-call]
        try:
            if self.locking:
                self._lock = lock(self.path)
            stored = self.checking(self.path)
        except Unusable as e:
            self.release()
            raise SystemExit(f"chat: {e}") from None
        self.reactor.addSystemEventTrigger("after", "shutdown", self.release)
        if self.bans is not None:
            self.bans.load(stored.bans)
        if self.restore is not None:
            self.restore(stored.rooms)

    def release(self) -> None:
        """
        Let go of the lock (another server may then use the database).
        """
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
