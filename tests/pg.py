"""
A real PostgreSQL server for the tests: a database of their own for each
test, dropped after it.

The server is C{CHAT_TEST_POSTGRES} (a libpq URL naming a database the user
may connect to and create databases from), by default the local one that
C{make test} makes sure is running. A test that cannot reach it fails: it
is never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chat.store import postgres
from chat.store.dialect import Dialect


def _server() -> str:
    """
    The server's URL: C{CHAT_TEST_POSTGRES}, else the machine's own as
    C{postgres}, else as the role C{make test} makes where it installs
    PostgreSQL itself (C{chat_test}, which may create databases).
    """
    given = os.environ.get("CHAT_TEST_POSTGRES")
    if given:
        return given
    for user in ("postgres", "chat_test"):
        url = f"postgresql://{user}@127.0.0.1:5432/postgres"
        try:
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.Error:
            continue
        return url
    return "postgresql://postgres@127.0.0.1:5432/postgres"


SERVER = _server()


def fresh_database(case: SynchronousTestCase) -> str:
    """
    The URL of a new, empty database, dropped when C{case} ends.
    """
    name = f"chat_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    case.addCleanup(drop)
    return psycopg.conninfo.make_conninfo(SERVER, dbname=name)


def url_of(conninfo: str) -> str:
    """
    C{conninfo} (key=value) as the URL C{--db} takes.
    """
    parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = parts.get("user", "")
    return (
        f"postgresql://{user}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}"
        f"/{parts['dbname']}"
    )


class PostgresSyncPool:
    """
    As L{tests.helpers.SyncPool}, on a real PostgreSQL database: each
    transaction runs at once and is committed (or rolled back).
    """

    sql: Dialect = postgres

    def __init__(self, conninfo: str) -> None:
        self.db = postgres.connect(conninfo)
        self.fail_next = False

    def runInteraction(
        self, interaction: Callable[..., Any], *args: Any, **kw: Any
    ) -> Deferred[Any]:
        if self.fail_next:
            self.fail_next = False
            return fail(RuntimeError("disk on fire"))
        cursor = self.db.cursor()
        try:
            result = interaction(cursor, *args, **kw)
        except Exception:
            self.db.rollback()
            return fail()
        finally:
            cursor.close()
        self.db.commit()
        return succeed(result)

    def submit(
        self, interaction: Callable[..., Any], *args: Any, failed: Callable[[Failure], None]
    ) -> None:
        self.runInteraction(interaction, *args).addErrback(failed)

    def close(self) -> None:
        self.db.close()
