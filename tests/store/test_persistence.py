"""
History across restarts and crashes of a real twistd.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat.store.guard import FS_IMMUTABLE_FL, FS_IOC_GETFLAGS
from tests.live import TIMEOUT, connect_raw, in_lobby, start_twistd


class PersistenceTests(TestCase):
    async def test_history_survives_restart(self) -> None:
        """
        Messages said before a clean shutdown (SIGTERM) are shown as history
        after a restart on the same database, and exported by chat.transcript;
        a nickname registered before it still needs its password after it, and
        a message kept for it is delivered at its login.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        first, port = await start_twistd(workdir)
        alice = await in_lobby(port, "alice")
        alice.send("said before the restart")
        alice.send("/me waves goodbye")
        alice.send("/register secret1")
        await alice.wait_line(
            "*** alice is now registered: logging in as alice will ask for this password."
        )
        assert first.transport is not None
        first.transport.signalProcess("TERM")
        await first.ended.addTimeout(TIMEOUT, reactor)

        second, port = await start_twistd(workdir)
        self.addCleanup(stop, second)
        bob = await connect_raw(port)
        bob.send("bob")
        await bob.wait_line("*** End of history.")
        history = bob.lines[bob.lines.index("*** Recent messages in lobby:") + 1 : -1]
        self.assertEqual(len(history), 2)
        self.assertTrue(history[0].endswith("] <alice> said before the restart"), history)
        self.assertTrue(history[1].endswith("] * alice waves goodbye"), history)
        bob.send("/msg alice welcome back")
        await bob.wait_line("-> *alice* welcome back")
        alice = await connect_raw(port)
        alice.send("alice")
        await alice.wait_line("*** alice is registered. Send its password (or /login PASSWORD):")
        alice.send("secret1")
        await alice.wait_line("*** End of messages.")
        self.assertTrue(alice.lines[-2].endswith("] *bob* welcome back"), alice.lines)

        export = subprocess.run(
            [sys.executable, "-m", "chat.transcript", "--db", str(workdir / "chat.sqlite3")],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        lines = export.stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].endswith(" [lobby] <alice> said before the restart"), lines)

    async def test_kill_9_keeps_a_prefix(self) -> None:
        """
        Killed with SIGKILL while messages flow, the server leaves a database
        that opens cleanly, passes SQLite's integrity check, and holds exactly
        the first messages sent, in order, with no gaps and nothing corrupted.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--flood", "off")
        listener = await in_lobby(port, "listener")
        sender = await connect_raw(port)
        sender.send("sender")
        await listener.wait_line("*** sender has joined")
        assert sender.transport is not None
        # A first part that has surely been committed before the kill ...
        for n in range(100):
            sender.send(f"m{n}")
        await listener.wait_line("<sender> m99")
        await deferLater(reactor, 0.3, lambda: None)
        # ... then a stream that is still flowing when the process dies.
        for n in range(100, 3000):
            sender.send(f"m{n}")
        await listener.wait_line("<sender> m1000")
        assert process.transport is not None
        process.transport.signalProcess("KILL")
        ended = await process.ended.addTimeout(TIMEOUT, reactor)
        self.assertEqual(ended, ("signal", signal.SIGKILL))

        db = sqlite3.connect(workdir / "chat.sqlite3")
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        stored = [row[0] for row in db.execute("SELECT text FROM messages ORDER BY id")]
        db.close()
        self.assertGreaterEqual(len(stored), 100)
        self.assertEqual(stored, [f"m{n}" for n in range(len(stored))])

    async def test_immutable_database_does_not_kill_the_server(self) -> None:
        """
        The database files made immutable (C{chattr +i}) while the server
        runs: SQLite's next write to its mapped C{-shm} file would be SIGBUS,
        the whole server gone. The server lives on: lines are still relayed,
        a registration is refused plainly (try again later), and the messages said meanwhile
        are stored once the files can be written again.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        process, port = await start_twistd(workdir)
        self.addCleanup(stop, process)
        alice = await in_lobby(port, "alice")
        bob = await connect_raw(port)
        bob.send("bob")
        await alice.wait_line("*** bob has joined")
        alice.send("before")
        await bob.wait_line("<alice> before")
        await deferLater(reactor, 0.3, lambda: None)
        files = sorted(workdir.glob("chat.sqlite3*"))
        self.assertEqual([f.name for f in files][-1], "chat.sqlite3-wal")
        # Written back: the mapping's next write faults and asks the file system.
        os.sync()
        for path in files:
            set_immutable(path, True)
            # A clean shutdown removes the log files: only those still there.
            self.addCleanup(set_immutable, path, False, missing_ok=True)

        alice.send("during")
        await bob.wait_line("<alice> during")
        alice.send("/register secret1")
        refusal = await alice.wait_for(lambda line: line.startswith("!!! "))
        self.assertEqual(
            refusal,
            "!!! The server cannot use its database right now; try again later.",
            alice.lines,
        )
        await deferLater(reactor, 1.0, lambda: None)
        self.assertFalse(process.ended.called, process.log.decode())
        bob.send("still here")
        await alice.wait_line("<bob> still here")

        for path in files:
            set_immutable(path, False)
        # Kept and retried (every 5 s): stored once the files can be written.
        await deferLater(reactor, 6.0, lambda: None)
        assert process.transport is not None
        process.transport.signalProcess("TERM")
        await process.ended.addTimeout(TIMEOUT, reactor)
        db = sqlite3.connect(workdir / "chat.sqlite3")
        stored = [row[0] for row in db.execute("SELECT text FROM messages ORDER BY id")]
        db.close()
        self.assertEqual(stored, ["before", "during", "still here"])


FS_IOC_SETFLAGS = 0x40086602


def set_immutable(path: Path, on: bool, missing_ok: bool = False) -> None:
    """
    C{chattr +i PATH} (or C{-i}), without the chattr program.
    """
    if missing_ok and not path.exists():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, FS_IOC_GETFLAGS, bytes(8))[:4], sys.byteorder)
        flags = flags | FS_IMMUTABLE_FL if on else flags & ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags.to_bytes(8, sys.byteorder))
    finally:
        os.close(fd)


async def stop(process: object) -> None:
    transport = getattr(process, "transport", None)
    if transport is not None and transport.pid is not None:
        transport.signalProcess("TERM")
        await process.ended  # type: ignore[attr-defined]
