"""
Real nodes: C{twistd chat --cluster} processes sharing a Redis of the test's
own and a fresh PostgreSQL database, their users on netcat's line door.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.cluster.brokers import Broker
from tests.live import TIMEOUT, TwistdRunner, connect_raw, in_lobby, reactor, start_twistd
from tests.pg import fresh_database, url_of


class NodeTests(TestCase):
    timeout = 6 * TIMEOUT

    async def node(self, name: str) -> tuple[TwistdRunner, int]:
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(
            workdir,
            "--db", self.db, "--cluster", str(self.broker.address), "--node", name,
            "--lease", "1", "--flood", "off",
        )  # fmt: skip
        self.addCleanup(process.stop)
        await process.logged(f"Node {name} joined the cluster".encode())
        return process, port

    async def test_one_chat(self) -> None:
        """
        Two nodes are one chat: a nickname is taken on both, users of both
        talk in the lobby, and when one node is killed its users leave the
        other's lobby with "node lost" within its lease and a second.
        """
        self.broker = Broker(self)
        self.db = url_of(fresh_database(self))
        one, one_port = await self.node("one")
        two, two_port = await self.node("two")
        alice = await in_lobby(one_port, "alice")
        bob = await in_lobby(two_port, "bob")
        await alice.wait_for(lambda line: line.startswith("*** bob has joined"))
        alice.send("hello from one")
        await bob.wait_line("<alice> hello from one")
        bob.send("hello from two")
        await alice.wait_line("<bob> hello from two")
        taken = await connect_raw(two_port)
        taken.send("ALICE")
        await taken.wait_for(lambda line: "The nickname ALICE is taken" in line)
        assert one.transport is not None
        os.kill(one.transport.pid, signal.SIGKILL)
        started = reactor.seconds()
        await bob.wait_for(lambda line: line == "*** alice has left (node lost)")
        self.assertLess(reactor.seconds() - started, 1.0 + 1.0 + 0.5)
        await deferLater(reactor, 0.5, lambda: None)
        self.assertEqual(
            [line for line in bob.lines if "alice has left" in line],
            ["*** alice has left (node lost)"],
        )
        again = await in_lobby(two_port, "alice")
        again.send("/quit")
        await two.stop()
