"""
The stores' pool on PostgreSQL, and its opening at start-up.

A L{PostgresPool} is what L{chat.store.thread.DatabaseThread} is to SQLite:
the transactions the stores ask for, run off the reactor thread, in order.
It is C{twisted.enterprise.adbapi}'s pool of one connection (one thread), so
that history batches are committed in the order they were recorded; the
server opens three, as it opens three SQLite connections, so that the
history shown on entering a room never waits behind a search.

L{check} is L{chat.store.opening.check}'s counterpart: run before anything
listens, it brings the schema up to date (once, whichever server of several
comes first) and reads the bans and kept rooms, or says in one line why the
database cannot be used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from chat.store import postgres, rooms
from chat.store.dialect import Dialect
from chat.store.opening import Stored, Unusable

_T = TypeVar("_T")

CONNECT_TIMEOUT = 10
"""
Seconds a connection may take to be made before it fails (a server that does
not answer would otherwise hold a start-up, or a thread, for minutes).
"""


def is_postgresql(db: str) -> bool:
    """
    Whether C{db}, the C{--db} option, names a PostgreSQL database.
    """
    return db.startswith(("postgresql://", "postgres://"))


def shown(conninfo: str) -> str:
    """
    C{conninfo} as it may be logged and shown: without its password.
    """
    try:
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "the PostgreSQL database given"
    host = parts.get("host", "localhost")
    port = parts.get("port", 5432)
    return f"postgresql://{parts.get('user', '')}@{host}:{port}/{parts.get('dbname', '')}"


class PostgresPool:
    """
    One PostgreSQL connection in a thread of its own (see the module's docstring).
    """

    sql: Dialect = postgres
    """
    The queries it runs: PostgreSQL's.
    """

    def __init__(self, conninfo: str, reactor: Any) -> None:
        self.conninfo = conninfo
        self._pool = adbapi.ConnectionPool(
            "psycopg",
            conninfo,
            connect_timeout=CONNECT_TIMEOUT,
            cp_min=1,
            cp_max=1,
            cp_reconnect=True,
            cp_reactor=reactor,
        )
        self._closed = False

    def runInteraction(self, interaction: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        Run C{interaction(cursor, *args)} in one transaction; fire with its
        result once committed, or fail (rolled back).
        """
        answer: Deferred[_T] = self._pool.runInteraction(interaction, *args)
        return answer

    def submit(
        self, interaction: Callable[..., object], *args: Any, failed: Callable[[Failure], None]
    ) -> None:
        """
        As L{runInteraction}, but only a failure is told, to C{failed}.
        """
        self._pool.runInteraction(interaction, *args).addErrback(failed)

    def close(self) -> None:
        """
        Run what was asked already, then close the connection.
        """
        if not self._closed:
            self._closed = True
            self._pool.close()


def check(conninfo: str) -> Stored:
    """
    Connect to the database C{conninfo}, bring its schema up to date and
    return the bans and kept rooms it holds; raise L{Unusable} if it
    cannot be used (unreachable, refused, newer than this server).
    """
    where = shown(conninfo)
    try:
        connection = psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Unusable(f"cannot connect to {where} ({why}); is it running?") from e
    try:
        postgres.prepare(connection)
        with connection.cursor() as cursor:
            stored = Stored(postgres.bans(cursor), rooms.load(cursor, postgres))
        connection.commit()
        return stored
    except postgres.NewerSchema as e:
        raise Unusable(
            f"the database {where} has schema version {e.found}, from a newer version of "
            f"chat (this one knows up to {postgres.LATEST}); run that version"
        ) from e
    except psycopg.Error as e:
        raise Unusable(f"cannot use the database {where} ({e})") from e
    finally:
        connection.close()
