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
from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
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

CONNECTION: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT,
    # A server that stops answering on an open connection (frozen, its
    # network cut) is given up in about ten seconds, not the kernel's
    # quarter of an hour: logins and history waiting on it are told, and
    # shutting down does not wait for it.
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
    # No statement holds a connection longer (searches have their own, shorter, budget).
    "options": "-c statement_timeout=30000",
}
"""
How every connection to PostgreSQL is made.
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


def scrubbed(text: str, conninfo: str) -> str:
    """
    C{text}, an error of libpq's about C{conninfo}, without the password
    (libpq quotes the part of an address it cannot read, password or not).
    """
    try:
        password = psycopg.conninfo.conninfo_to_dict(conninfo).get("password")
    except psycopg.Error:
        return "the address is not one PostgreSQL reads (is its password %-escaped?)"
    address = conninfo.partition("://")[2]
    raw = address.rpartition("@")[0].partition(":")[2] if "@" in address else ""
    for secret in (str(password or ""), raw):
        if secret:
            text = text.replace(secret, "***")
    return text


class _Connection(adbapi.Connection):
    """
    adbapi's connection, which tells of a connection found dead in one line
    of the log rather than a traceback (it is made again at once).
    """

    log = Logger()

    def rollback(self) -> None:
        connection: Any = self._connection
        try:
            connection.rollback()
            return
        except psycopg.Error as e:
            self.log.warn(
                "The connection to PostgreSQL was lost ({why}); making it again",
                why=str(e).strip() or type(e).__name__,
            )
        # The transaction's own failure goes on to its caller (who tries again).
        self._pool.disconnect(connection)


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
            **CONNECTION,
            cp_min=1,
            cp_max=1,
            cp_reconnect=True,
            cp_reactor=reactor,
        )
        self._pool.connectionFactory = _Connection
        self._closed = False

    def runInteraction(self, interaction: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        Run C{interaction(cursor, *args)} in one transaction; fire with its
        result once committed, or fail (rolled back).
        """
        answer: Deferred[_T] = self._pool.runInteraction(interaction, *args)

        def again(failure: Failure) -> Deferred[_T]:
            # A connection found dead (the server restarted since it was
            # last used) is made again by adbapi as the transaction fails:
            # the transaction is tried once more, on the new one. (Each
            # message is stored once whatever happens: its id is unique.)
            if failure.check(psycopg.OperationalError, adbapi.ConnectionLost):
                retried: Deferred[_T] = self._pool.runInteraction(interaction, *args)
                return retried
            return fail(failure)

        return answer.addErrback(again)

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
        connection = psycopg.connect(conninfo, **CONNECTION)
    except psycopg.Error as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = "; is it running?" if "refused" in why or "timeout" in why else ""
        raise Unusable(f"cannot connect to {where} ({scrubbed(why, conninfo)}){hint}") from e
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
        raise Unusable(f"cannot use the database {where} ({scrubbed(str(e), conninfo)})") from e
    finally:
        connection.close()
