"""
A real twistd at the edge of its open-file limit.
"""

from __future__ import annotations

import socket
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.live import TIMEOUT, connect_raw, start_twistd

LIMIT = "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def greeting(port: int) -> bytes:
    """
    What a new connection is sent first (b"" if it is closed unanswered).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            return sock.recv(200)
        except ConnectionResetError:
            return b""


class DescriptorTests(TestCase):
    async def start(self, *options: str) -> tuple[int, int]:
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--db", ":memory:", *options, prelude=LIMIT)

        async def stop() -> None:
            assert process.transport is not None
            process.transport.signalProcess("TERM")
            await process.ended.addTimeout(TIMEOUT, reactor)

        self.addCleanup(stop)
        assert process.transport is not None and process.transport.pid is not None
        return process.transport.pid, port

    async def test_refuses_politely_before_running_out(self) -> None:
        """
        By default the server stops accepting users 100 descriptors before its
        open-file limit (at least 10), and says so in one line.
        """
        _, port = await self.start("--max-per-ip", "0")
        clients = [await connect_raw(port) for _ in range(10)]
        for client in clients:
            await client.wait_line("*** Welcome to chat.")
        self.assertEqual(
            greeting(port),
            b"!!! The server is full (10 connections); try again later. Goodbye.\r\n",
        )

    async def test_out_of_descriptors_no_spin_and_recovers(self) -> None:
        """
        With no connection limit, running out of descriptors neither crashes
        nor spins the server: it sheds what it cannot accept, uses no CPU while
        it waits, and serves new connections again once some have gone.
        """
        pid, port = await self.start("--max-clients", "0", "--max-per-ip", "0")
        sockets = []
        for _ in range(100):
            sock = socket.socket()
            sock.connect(("127.0.0.1", port))
            sockets.append(sock)
        await deferLater(reactor, 0.5, lambda: None)
        before = cpu_seconds(pid)
        await deferLater(reactor, 2, lambda: None)
        self.assertLess(cpu_seconds(pid) - before, 0.3)
        for sock in sockets:
            sock.close()
        await deferLater(reactor, 0.5, lambda: None)
        client = await connect_raw(port)
        await client.wait_line("*** Welcome to chat.")
        client.send("alice")
        await client.wait_for(lambda line: line.startswith("*** You are in lobby."))
