"""
A real PostgreSQL server for the tests: a database of their own for each
test, dropped after it.

The server is C{CHAT_TEST_POSTGRES} (a libpq URL naming a database the user
may connect to and create databases from), by default the local one that
C{make test} makes sure is running. A test that cannot reach it fails: it
is never skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
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


def _binary(name: str) -> str:
    """
    A PostgreSQL server program (Debian keeps them out of the PATH).
    """
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    return shutil.which(name) or name


class OwnServer:
    """
    A PostgreSQL server the test owns, on a free loopback port, in a folder
    of its own (trust authentication), so that it can be restarted for real
    in the middle of a test without touching the machine's own server.
    Run as the C{postgres} user when the tests run as root (PostgreSQL
    refuses root); stopped when the test ends.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="chat-pg-"))
        case.addCleanup(shutil.rmtree, self.folder, True)
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            # Its folder is the server's own user's.
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres")
        self._run(_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        case.addCleanup(self.stop)
        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE chat")

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self._as, *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.folder,
        )

    def url(self, database: str = "chat") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self._run(
            _binary("pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-s",
            "-l", str(self.folder / "log"), "start",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        """
        Stop it (C{immediate}: as if killed, its transactions cut off).
        """
        if (self.data / "postmaster.pid").exists():
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-s", "stop")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
