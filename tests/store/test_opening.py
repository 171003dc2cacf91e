"""
The database at start-up, through a real twistd: one it cannot use is
refused in one line before anything listens.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from twisted.trial.unittest import TestCase

from chat.store import database
from chat.store.accounts import hash_password
from tests.live import (
    TIMEOUT,
    TwistdRunner,
    connect_raw,
    in_lobby,
    reactor,
    spawn_twistd,
    start_twistd,
)


async def refused(workdir: Path, *options: str) -> list[str]:
    """
    Start twistd, which must end at once with exit status 1, having never
    listened and with no traceback; what it wrote on its standard error
    (which twistd -n logs), by line.
    """
    process = spawn_twistd(workdir, *options)

    def listening(_: int) -> None:
        # One that listens has failed already: stopped at once.
        assert process.transport is not None
        process.transport.signalProcess("KILL")

    process.port.addCallbacks(listening, lambda _: None)
    ended = await process.ended.addTimeout(TIMEOUT, reactor)
    log = process.log.decode()
    assert ended == ("exit", 1), (ended, log)
    assert " starting on " not in log, log
    assert "Traceback" not in log, log
    marker = "[stderr#error] "
    return [line.split(marker, 1)[1] for line in log.splitlines() if marker in line]


def stored(path: Path) -> Path:
    """
    A chat database at C{path} with a message and an account, as a server leaves it.
    """
    db = database.connect(str(path))
    with db:
        database.write(db.cursor(), [(1.0, database.PUBLIC, "lobby", "alice", None, "hello")])
        database.create_account(db.cursor(), "alice", "hash", 1.0)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


class UnusableDatabaseTests(TestCase):
    """
    A database the server cannot use ends twistd at start-up with one line
    that says what is wrong and what to do; nothing listens, nothing is written.
    """

    def setUp(self) -> None:
        self.workdir = Path(self.mktemp()).resolve()
        self.workdir.mkdir()
        self.db = self.workdir / "chat.sqlite3"

    async def test_newer_schema(self) -> None:
        """
        A database of a newer server is refused, and left as it was.
        """
        stored(self.db)
        db = sqlite3.connect(self.db)
        db.execute("PRAGMA user_version=99")
        db.close()
        before = self.db.read_bytes()
        self.assertEqual(
            await refused(self.workdir),
            [
                "chat: the database chat.sqlite3 has schema version 99, from a newer version "
                f"of chat (this one knows up to {database.LATEST}); run that version, or "
                "restore a backup made before the upgrade"
            ],
        )
        self.assertEqual(self.db.read_bytes(), before)

    async def test_truncated(self) -> None:
        """
        A truncated database (a copy cut short, a full disk) is refused.
        """
        stored(self.db)
        os.truncate(self.db, self.db.stat().st_size // 2)
        self.assertEqual(
            await refused(self.workdir, "--db", "chat.sqlite3"),
            [
                "chat: cannot use the database chat.sqlite3 (database disk image is "
                "malformed); restore it from a backup, or move it away to start with an "
                "empty one"
            ],
        )

    async def test_not_a_database(self) -> None:
        """
        A file that is not a database at all is refused.
        """
        self.db.write_bytes(b"not a database\n" * 1000)
        self.assertEqual(
            await refused(self.workdir),
            [
                "chat: cannot use the database chat.sqlite3 (file is not a database); restore "
                "it from a backup, or move it away to start with an empty one"
            ],
        )

    async def test_damaged_accounts(self) -> None:
        """
        A database whose accounts (which every login reads) are damaged is
        refused, though its header is sound.
        """
        stored(self.db)
        db = sqlite3.connect(self.db)
        [(page,)] = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'accounts'")
        [(size,)] = db.execute("PRAGMA page_size")
        db.close()
        with self.db.open("r+b") as damaged:
            damaged.seek((page - 1) * size)
            damaged.write(b"\xff" * 64)
        [line] = await refused(self.workdir)
        self.assertTrue(line.startswith("chat: cannot use the database chat.sqlite3 ("), line)
        self.assertTrue(line.endswith("restore it from a backup, or move it away to start "
                                      "with an empty one"), line)  # fmt: skip

    async def test_directory(self) -> None:
        """
        A directory given as the database is refused.
        """
        self.db.mkdir()
        self.assertEqual(
            await refused(self.workdir),
            [
                "chat: --db chat.sqlite3 is a directory; give the path of a file "
                "(created if need be)"
            ],
        )

    async def test_locked_by_another_program(self) -> None:
        """
        A database to bring up to date that another program keeps locked for
        longer than SQLite waits (five seconds) is refused with that reason,
        not called damaged.
        """
        holder = database.connect(str(self.db), target=database.LATEST - 1)
        self.addCleanup(holder.close)
        holder.isolation_level = None
        holder.execute("BEGIN EXCLUSIVE")
        self.assertEqual(
            await refused(self.workdir),
            [
                "chat: the database chat.sqlite3 is locked by another program (database is "
                "locked); try again once it is done"
            ],
        )

    async def test_usable_database_still_starts(self) -> None:
        """
        A sound database of this version, and a new one, start as before.
        """
        stored(self.db)
        for options in [(), ("--db", "new.sqlite3")]:
            process, port = await start_twistd(self.workdir, *options)
            await in_lobby(port, "bob")
            await process.stop()


class SecondServerTests(TestCase):
    async def test_second_server_on_the_same_database(self) -> None:
        """
        A second server started on the database of one that runs refuses to
        start, in one line, and the first serves on; once the first has
        stopped, the second starts.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        first, port = await start_twistd(workdir)
        self.addCleanup(first.stop)
        self.assertEqual(
            await refused(workdir),
            [
                "chat: the database chat.sqlite3 is in use by another chat server; stop that "
                "one first, or give this one another --db"
            ],
        )
        await in_lobby(port, "alice")
        await first.stop()
        second, port = await start_twistd(workdir)
        self.addCleanup(second.stop)
        await in_lobby(port, "bob")


SLOW_BANS = """
import time
from chat.store import database
_bans = database.bans
def slow_bans(cursor):
    time.sleep(1.0)  # a slow disk
    return _bans(cursor)
database.bans = slow_bans
"""


class BansAtStartTests(TestCase):
    async def test_banned_address_refused_from_the_first_connection(self) -> None:
        """
        An address banned in the database is refused by the first
        connection it makes once the server listens, even when reading the
        bans takes a second.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        db = database.connect(str(workdir / "chat.sqlite3"))
        with db:
            database.save_ban(db.cursor(), ("ip", "127.0.0.1", None, None, "root", 0.0))
        db.close()
        process, port = await start_twistd(workdir, prelude=SLOW_BANS)
        self.addCleanup(process.stop)
        client = await connect_raw(port)
        first = await client.wait_for(lambda line: True)
        self.assertEqual(first, "!!! This address is banned. Goodbye.")
        await client.closed.addTimeout(TIMEOUT, reactor)
        self.assertEqual(client.lines, [first])


def irc_port(process: TwistdRunner) -> int:
    """
    The port of the IRC listener of C{process} (the second to start: the
    line listener is the first).
    """
    ports = re.findall(rb" starting on (\d+)", process.log)
    return int(ports[1])


class KeptRoomsAtStartTests(TestCase):
    async def test_kept_rooms_and_the_lobby_outlive_a_restart(self) -> None:
        """
        After twistd is stopped and started again, a kept room is there,
        empty, with its topic and key; its founder gets +o on joining it;
        the lobby has its topic, and the time it was made is the server's
        first start, not 1970.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        db = database.connect(str(workdir / "chat.sqlite3"))
        with db:
            database.set_operator(db.cursor(), "root", hash_password("rootpass", 2**4), 0.0)
        db.close()
        options = ("--irc", "tcp:0:interface=127.0.0.1", "--admins", "root")
        process, port = await start_twistd(workdir, *options)
        self.addCleanup(process.stop)
        root = await connect_raw(port)
        for line in ("root", "rootpass", "/topic hello lobby"):
            root.send(line)
        await root.wait_line("*** root set the topic: hello lobby")
        alice = await in_lobby(port, "alice")
        for line in ("/register secret-alice", "/join games", "/keep"):
            alice.send(line)
        alice.send("/mode +k sesame")
        await alice.wait_line("*** alice set mode +k sesame")
        irc = await connect_raw(irc_port(process))
        irc.send("NICK irc\r\nUSER irc 0 * :I\r\nMODE #lobby")
        made = await irc.wait_for(lambda line: " 329 irc #lobby " in line)
        self.assertGreater(int(made.split()[-1].lstrip(":")), 1_700_000_000)
        await process.stop()
        process, port = await start_twistd(workdir, *options)
        self.addCleanup(process.stop)
        bob = await in_lobby(port, "bob")
        await bob.wait_line("*** Topic: hello lobby")
        bob.send("/rooms")
        await bob.wait_line("***   games (0)")
        bob.send("/join games")
        await bob.wait_line("!!! games takes a key: /join games KEY")
        alice = await connect_raw(port)
        for line in ("alice", "secret-alice", "/join games"):
            alice.send(line)
        await alice.wait_line("*** You are in games. 1 user here: alice (room operator)")
        irc = await connect_raw(irc_port(process))
        irc.send("NICK irc\r\nUSER irc 0 * :I\r\nMODE #lobby")
        self.assertEqual(await irc.wait_for(lambda line: " 329 irc #lobby " in line), made)

    async def test_mask_lists_and_flags_outlive_a_restart(self) -> None:
        """
        After twistd is stopped and started again, a kept room has its
        exceptions (C{+e}), its invite exceptions (C{+I}) and its C{+C}, as
        IRC's MODE shows them, besides its bans.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        options = ("--irc", "tcp:0:interface=127.0.0.1")
        process, port = await start_twistd(workdir, *options)
        self.addCleanup(process.stop)
        alice = await in_lobby(port, "alice")
        for line in ("/register secret-alice", "/join games", "/keep", "/mode +Cb troll"):
            alice.send(line)
        alice.send("/mode +e friend")
        alice.send("/mode +I ~a:pal")
        await alice.wait_line("*** alice set mode +I ~a:pal")
        await process.stop()
        process, port = await start_twistd(workdir, *options)
        self.addCleanup(process.stop)
        await process.logged(b"IRCFactory starting on ")
        irc = await connect_raw(irc_port(process))
        irc.send("NICK irc\r\nUSER irc 0 * :I\r\nMODE #games b\r\nMODE #games e")
        irc.send("MODE #games I\r\nMODE #games")
        await irc.wait_for(lambda line: " 324 irc #games " in line)
        said = [line.split(" ", 1)[1] for line in irc.lines if " #games " in line]
        self.assertIn("324 irc #games :+Cnt", said)
        self.assertEqual(
            [line.rsplit(" ", 1)[0] for line in said if line[:3] in ("367", "348", "346")],
            [
                "367 irc #games troll!*@* alice!alice@chat",
                "348 irc #games friend!*@* alice!alice@chat",
                "346 irc #games ~a:pal alice!alice@chat",
            ],
        )
