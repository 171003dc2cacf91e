"""
Opening the database at start-up, before anything listens.

twistd calls every service's C{privilegedStartService} before the reactor
runs, and the listeners listen in theirs (L{chat.tap.Listener}).
L{Opening}, first in the service tree, takes that moment, when a blocking
call holds up nobody, to open the database and bring its schema up to date.
A file the server cannot use (one of a newer server, damaged, truncated,
not a database, a directory) then ends twistd with one line that says what
is wrong and what to do, rather than starting a server that refuses every
login, with tracebacks in its log. During service, the database is only
ever used from its threads (L{chat.store.thread}).
"""

from __future__ import annotations

import os
import sqlite3

from twisted.application.service import Service

from chat.store import database

CHECKED = ("accounts", "bans", "offline")
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


def check(path: str) -> None:
    """
    Open the database at C{path} (created if need be), bring its schema up
    to date and check what logins read; raise L{Unusable} if it cannot be
    used.
    """
    if os.path.isdir(path):
        raise Unusable(f"--db {path} is a directory; give the path of a file (created if need be)")
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
    except database.NewerSchema as e:
        raise Unusable(
            f"the database {path} has schema version {e.found}, from a newer version of chat "
            f"(this one knows up to {database.LATEST}); run that version, or restore a backup "
            "made before the upgrade"
        ) from e
    except sqlite3.Error as e:
        raise Unusable(
            f"cannot use the database {path} ({e}); restore it from a backup, or move it "
            "away to start with an empty one"
        ) from e
    finally:
        db.close()


class Opening(Service):
    """
    Checks the database in C{privilegedStartService}, before any listener
    listens, and ends twistd with one line if it cannot be used.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def privilegedStartService(self) -> None:
        super().privilegedStartService()  # type: ignore[no-untyped-call]
        try:
            check(self.path)
        except Unusable as e:
            raise SystemExit(f"chat: {e}") from None
