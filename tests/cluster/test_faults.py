"""
Real nodes (C{twistd chat --cluster}) stopped for real (SIGSTOP, for longer
than a node's lease and for less), cut off from Redis (a link the test
cuts), and their Redis restarted for real with its append-only file.
"""

from __future__ import annotations

import os
import signal

from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.cluster.brokers import Broker, Link
from tests.cluster.test_log import until
from tests.cluster.test_nodes import start_node, starting
from tests.live import TIMEOUT, RawClient, TwistdRunner, connect_raw, in_lobby, reactor
from tests.pg import fresh_database, url_of


class StoppedTests(TestCase):
    timeout = 6 * TIMEOUT

    async def stopped(self, lease: str) -> tuple[TwistdRunner, int, RawClient, RawClient]:
        """
        Two nodes, alice on one and bob on two, both in the lobby; then node
        one stopped (SIGSTOP).
        """
        broker = Broker(self)
        options = ("--lease", lease, "--flood", "off")
        one, one_port, _, alice, bob = await alice_and_bob(self, broker, broker, *options)
        assert one.transport is not None
        pid = one.transport.pid
        # Never left stopped, whatever fails.
        self.addCleanup(lambda: os.kill(pid, signal.SIGCONT) if one.transport else None)
        os.kill(pid, signal.SIGSTOP)
        return one, one_port, alice, bob

    async def test_stopped_longer_than_its_lease(self) -> None:
        """
        A node stopped (SIGSTOP) for 2.5 leases, then let go on (SIGCONT):
        the other node's users saw its user leave ("node lost") meanwhile;
        its user is told it was put out and let go; what that user typed
        while it was stopped reaches nobody (never sent under its old
        fence, nor its new); and it serves again, under a new fence.
        """
        one, one_port, alice, bob = await self.stopped("1")
        alice.send("typed while stopped")
        await bob.wait_for(lambda line: line == "*** alice has left (node lost)")
        await deferLater(reactor, 1.0, lambda: None)
        assert one.transport is not None
        os.kill(one.transport.pid, signal.SIGCONT)
        await alice.wait_for(starting("*** This server lost touch with the rest of the chat"))
        await alice.closed
        await one.logged(b"(fence 3)")
        again = await in_lobby(one_port, "alice")
        again.send("back again")
        await bob.wait_line("<alice> back again")
        await deferLater(reactor, 0.5, lambda: None)
        self.assertFalse(any("typed while stopped" in line for line in bob.lines))
        self.assertEqual(
            [line for line in bob.lines if "alice has left" in line],
            ["*** alice has left (node lost)"],
        )

    async def test_stopped_shorter_than_its_lease(self) -> None:
        """
        A node stopped for a third of its lease: nobody leaves, and the
        lines its user typed meanwhile arrive afterwards, once each, in order.
        """
        one, _, alice, bob = await self.stopped("3")
        for n in range(5):
            alice.send(f"typed while stopped {n}")
        await deferLater(reactor, 1.0, lambda: None)
        assert one.transport is not None
        os.kill(one.transport.pid, signal.SIGCONT)

        await arrived_in_order(self, alice, bob, "typed while stopped")
        self.assertFalse(alice.closed.called)


class CutLinkTests(TestCase):
    timeout = 6 * TIMEOUT

    async def cut_off(self, lease: str) -> tuple[TwistdRunner, int, Link, RawClient, RawClient]:
        """
        Two nodes, node one reaching Redis through a link the test cuts;
        alice on one and bob on two, both in the lobby.
        """
        broker = Broker(self)
        link = Link(self, broker)
        options = ("--lease", lease, "--flood", "off")
        one, one_port, _, alice, bob = await alice_and_bob(self, link, broker, *options)
        return one, one_port, link, alice, bob

    async def test_cut_longer_than_its_lease(self) -> None:
        """
        Node one's link to Redis cut for longer than its lease: it puts its
        user out before the other node reaps it, telling it how many of its
        lines were not acknowledged; those lines reach nobody, not when the
        link is mended either (they were sent under the old fence); and it
        serves again, under a new one.
        """
        one, one_port, link, alice, bob = await self.cut_off("1")
        link.cut()
        for n in range(3):
            alice.send(f"typed while cut off {n}")
        goodbye = await alice.wait_for(starting("*** This server lost touch"))
        put_out = reactor.seconds()
        self.assertEqual(
            goodbye,
            "*** This server lost touch with the rest of the chat; the last 3 lines you sent "
            "may have reached nobody. Connect again in a moment.",
        )
        await bob.wait_line("*** alice has left (node lost)")
        self.assertLess(put_out, reactor.seconds())
        link.mend()
        await one.logged(b"(fence 3)")
        again = await in_lobby(one_port, "alice")
        again.send("back again")
        await bob.wait_line("<alice> back again")
        await deferLater(reactor, 0.5, lambda: None)
        self.assertFalse(any("typed while cut off" in line for line in bob.lines))
        self.assertEqual([line for line in bob.lines if "alice has left" in line],
                         ["*** alice has left (node lost)"])  # fmt: skip

    async def test_cut_for_a_second(self) -> None:
        """
        The link cut for a second, a third of the lease: nobody notices but
        for the wait; the lines typed meanwhile arrive once each, in order.
        """
        _, _, link, alice, bob = await self.cut_off("3")
        link.cut()
        for n in range(5):
            alice.send(f"typed while cut off {n}")
        await deferLater(reactor, 1.0, lambda: None)
        link.mend()

        await arrived_in_order(self, alice, bob, "typed while cut off")
        self.assertFalse(alice.closed.called)


class BrokerRestartTests(TestCase):
    timeout = 6 * TIMEOUT

    async def nodes(self, aof: bool = True) -> tuple[Broker, RawClient, RawClient]:
        broker = Broker(self, aof=aof)
        options = ("--lease", "3", "--flood", "off", "--max-per-ip", "0")
        self.one, one, two, alice, bob = await alice_and_bob(self, broker, broker, *options)
        self.ports = [one, two]
        return broker, alice, bob

    async def test_restarted_with_its_file(self) -> None:
        """
        Redis killed (kill -9) and started again a second later with its
        append-only file: the lines typed meanwhile arrive once, in order,
        and nobody leaves.
        """
        broker, alice, bob = await self.nodes()
        broker.kill()
        for n in range(5):
            alice.send(f"while away {n}")
        await deferLater(reactor, 1.0, lambda: None)
        broker.start()

        await arrived_in_order(self, alice, bob, "while away")

    async def test_restarted_empty(self) -> None:
        """
        Redis killed and started again empty (no file): each node finds it,
        puts its user out (told to connect again), and the nodes join again
        as one chat: the same nicknames log in again on either node, and
        their users hear each other.
        """
        broker, alice, bob = await self.nodes(aof=False)
        broker.restart(empty=True)
        for user in (alice, bob):
            await user.wait_for(starting("*** This server lost touch with the rest of the chat"))
            await user.closed
        started = reactor.seconds()
        # As clients do: connect again until logged in (a node joining
        # again takes a moment).
        alice = await logged_in_again(self.ports[0], "alice")
        bob = await logged_in_again(self.ports[1], "bob")
        await alice.wait_for(starting("*** bob has joined"))
        alice.send("hello again")
        await bob.wait_line("<alice> hello again")
        self.assertLess(reactor.seconds() - started, 3 * 3)

    async def test_stopped_with_redis_away(self) -> None:
        """
        A node told to stop (SIGTERM) while Redis is away stops, its user
        told goodbye, rather than wait for Redis for ever.
        """
        broker, alice, _ = await self.nodes(aof=False)
        broker.kill()
        await deferLater(reactor, 0.5, lambda: None)
        started = reactor.seconds()
        await self.one.stop()
        self.assertLess(reactor.seconds() - started, 12)
        await alice.closed
        self.assertIn("*** The server is shutting down. Goodbye.", alice.lines)


async def alice_and_bob(
    case: TestCase, one: Broker | Link, two: Broker, *options: str
) -> tuple[TwistdRunner, int, int, RawClient, RawClient]:
    """
    Nodes one and two with C{options}, reaching Redis by C{one} and C{two}
    (a link the test cuts, or the broker itself), and alice on one and bob
    on two, both in the lobby: node one, both nodes' ports, alice and bob.
    """
    db = url_of(fresh_database(case))
    process, one_port = await start_node(case, db, one, "one", *options)
    _, two_port = await start_node(case, db, two, "two", *options)
    alice = await in_lobby(one_port, "alice")
    bob = await in_lobby(two_port, "bob")
    await alice.wait_for(starting("*** bob has joined"))
    return process, one_port, two_port, alice, bob


async def arrived_in_order(case: TestCase, alice: RawClient, bob: RawClient, text: str) -> None:
    """
    The five lines alice sent (C{text} and a number) reach bob once each,
    in order, and nobody left meanwhile.
    """

    def heard() -> list[str]:
        return [line for line in bob.lines if text in line]

    await until(lambda: len(heard()) >= 5, TIMEOUT)
    await deferLater(reactor, 1.0, lambda: None)
    case.assertEqual(heard(), [f"<alice> {text} {n}" for n in range(5)])
    case.assertFalse(any("has left" in line for line in bob.lines + alice.lines))


async def logged_in_again(port: int, nickname: str) -> RawClient:
    """
    Connect and log in as C{nickname}, again and again until it works (as
    a client that reconnects does), for at most L{TIMEOUT} seconds.
    """
    deadline = reactor.seconds() + TIMEOUT
    while True:
        client = await connect_raw(port)
        client.send(nickname)
        answer = await client.wait_for(
            lambda line: line.startswith(("*** You are in lobby.", "!!! ", "*** This server"))
        )
        if answer.startswith("*** You are in lobby."):
            return client
        if reactor.seconds() > deadline:
            raise AssertionError(f"{nickname} could not log in again: {client.lines}")
        assert client.transport is not None
        client.transport.loseConnection()
        await deferLater(reactor, 0.2, lambda: None)
