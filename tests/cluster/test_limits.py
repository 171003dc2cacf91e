"""
The limits the nodes of a cluster enforce together (L{chat.cluster.limits}),
against a real Redis of the test's own: allowances taken on several nodes at
once count as on one, and connections per address count on every node,
until the node that holds them is gone.
"""

from __future__ import annotations

from twisted.internet.defer import gatherResults
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat.cluster.limits import ASK_TIMEOUT, SharedLimits
from chat.cluster.log import Settings
from chat.core.errors import StoreUnavailable
from chat.core.limits import Rate
from tests.cluster.brokers import Broker, Link
from tests.cluster.test_log import Node, until
from tests.live import reactor

GUESSES = Rate(1 / 60, 10)


class SharedLimitsTests(TestCase):
    timeout = 60

    async def nodes(
        self, *names: str, lease: float = 5.0, linked: str | None = None
    ) -> list[tuple[Node, SharedLimits]]:
        """
        Nodes on a Redis of the test's own; C{linked} reaches it through
        C{self.link}, which the test cuts.
        """
        self.broker = Broker(self)
        self.link = Link(self, self.broker)
        started = []
        for name in names:
            route = self.link if name == linked else self.broker
            node = Node(route, name, Settings(lease=lease))
            await node.log.start()
            self.addCleanup(node.log.stop)
            started.append((node, SharedLimits(node.log, reactor)))
        return started

    async def test_guesses_spread_over_nodes(self) -> None:
        """
        40 password checks of one nickname asked at once, spread over three
        nodes, get the allowance's 10, as on one node; a check wanting two
        allowances, one of them used up, takes from neither.
        """
        nodes = await self.nodes("a", "b", "c")
        asked = [
            nodes[n % 3][1].take([("login:alice", GUESSES), (f"login-host:10.0.0.{n}", GUESSES)])
            for n in range(40)
        ]
        answers = await gatherResults(asked)
        self.assertEqual(answers.count(None), 10)
        self.assertEqual(answers.count(0), 30)
        host = [("login-host:10.9.9.9", GUESSES)]
        for _ in range(10):
            self.assertIsNone(await nodes[1][1].take(host))
        self.assertEqual(await nodes[2][1].take([("login:bob", GUESSES), *host]), 1)
        # Bob's allowance is whole: the refused check took nothing from it.
        bob = [await nodes[0][1].take([("login:bob", GUESSES)]) for _ in range(11)]
        self.assertEqual(bob, [None] * 10 + [0])

    async def test_given_back_and_refilled(self) -> None:
        """
        A token given back on one node may be taken on another, but a full
        bucket holds no more than its burst; tokens come back at the rate,
        by Redis's clock.
        """
        (_, a), (_, b) = await self.nodes("a", "b")
        for _ in range(10):
            self.assertIsNone(await a.take([("login:alice", GUESSES)]))
        self.assertEqual(await b.take([("login:alice", GUESSES)]), 0)
        a.give_back("login:alice", GUESSES)
        await deferLater(reactor, 0.05, lambda: None)
        self.assertIsNone(await b.take([("login:alice", GUESSES)]))
        self.assertEqual(await b.take([("login:alice", GUESSES)]), 0)
        for _ in range(3):
            a.give_back("login:bob", GUESSES)  # full: nothing to give back
        await deferLater(reactor, 0.05, lambda: None)
        taken = [await b.take([("login:bob", GUESSES)]) for _ in range(11)]
        self.assertEqual(taken, [None] * 10 + [0])
        fast = Rate(10, 1)
        self.assertIsNone(await a.take([("register:10.0.0.1", fast)]))
        self.assertEqual(await b.take([("register:10.0.0.1", fast)]), 0)
        await deferLater(reactor, 0.15, lambda: None)
        self.assertIsNone(await b.take([("register:10.0.0.1", fast)]))

    async def test_connections_across_nodes(self) -> None:
        """
        --max-per-ip 3 counts an address's connections on every node: a
        fourth on any is refused until one closes, anywhere; other
        addresses are not counted with it.
        """
        (_, a), (_, b), (_, c) = await self.nodes("a", "b", "c")
        held = [await a.connect("10.0.0.1", 3), await b.connect("10.0.0.1", 3)]
        held.append(await c.connect("10.0.0.1", 3))
        self.assertNotIn(None, held)
        self.assertIsNone(await a.connect("10.0.0.1", 3))
        self.assertIsNotNone(await a.connect("10.0.0.2", 3))
        b.disconnect(held[1])
        await deferLater(reactor, 0.05, lambda: None)
        self.assertIsNotNone(await c.connect("10.0.0.1", 3))
        self.assertIsNone(await b.connect("10.0.0.1", 3))

    async def test_lost_node_counts_no_more(self) -> None:
        """
        The connections of a node that is lost (its lease ran out, it was
        reaped) count no more; back under a new fence, those that stayed
        (still logging in when it was put out) count again, and go when
        they close.
        """
        (watcher, a), (doomed, c) = await self.nodes("a", "c", lease=0.6)
        stayed = [await c.connect("10.0.0.1", 2), await c.connect("10.0.0.1", 2)]
        self.assertIsNone(await a.connect("10.0.0.1", 2))
        doomed.log._stop_loops()  # as a process that is stopped
        await until(lambda: any(e.kind == "lost" and e.node == "c" for e in watcher.entries), 5)
        meanwhile = await a.connect("10.0.0.1", 2)
        self.assertIsNotNone(meanwhile)
        await doomed.log.rejoin()
        await deferLater(reactor, 0.1, lambda: None)
        self.assertIsNone(await a.connect("10.0.0.1", 2))
        for held in (*stayed, meanwhile):
            (a if held is meanwhile else c).disconnect(held)
        await deferLater(reactor, 0.1, lambda: None)
        self.assertIsNotNone(await c.connect("10.0.0.1", 2))
        self.assertIsNotNone(await a.connect("10.0.0.1", 2))
        self.assertIsNone(await a.connect("10.0.0.1", 2))

    async def test_broker_away(self) -> None:
        """
        With Redis away, an allowance or a count asked fails as unavailable
        within L{ASK_TIMEOUT} (a login does not hang); giving back does not
        raise.
        """
        [(_, a)] = await self.nodes("a")
        self.broker.kill()
        started = reactor.seconds()
        with self.assertRaises(StoreUnavailable):
            await a.take([("login:alice", GUESSES)])
        with self.assertRaises(StoreUnavailable):
            await a.connect("10.0.0.1", 3)
        self.assertLess(reactor.seconds() - started, 2 * ASK_TIMEOUT + 1)
        a.give_back("login:alice", GUESSES)
        self.broker.start()  # for the node to leave

    async def test_counted_once(self) -> None:
        """
        A connection is forgotten once, however often it is said to have
        closed: another's place is not freed by it.
        """
        (_, a), (_, b) = await self.nodes("a", "b")
        first = await a.connect("10.0.0.1", 2)
        self.assertIsNotNone(await b.connect("10.0.0.1", 2))
        a.disconnect(first)
        a.disconnect(first)
        await deferLater(reactor, 0.05, lambda: None)
        self.assertIsNotNone(await a.connect("10.0.0.1", 2))
        self.assertIsNone(await a.connect("10.0.0.1", 2))

    async def test_answer_too_late(self) -> None:
        """
        A count whose answer does not come in time (the node's link to
        Redis cut for longer than L{ASK_TIMEOUT}, shorter than its lease)
        lets the connection in uncounted: once the link is back, nothing of
        it stays counted, whether Redis ran it or not.
        """
        (_, a), (_, b) = await self.nodes("a", "b", lease=10.0, linked="a")
        link = self.link
        self.assertIsNotNone(await a.connect("10.0.0.2", 1))  # its script is known to Redis
        link.cut()
        with self.assertRaises(StoreUnavailable) as raised:
            await a.connect("10.0.0.1", 1)
        self.assertIn(f"no answer within {ASK_TIMEOUT:g} s", str(raised.exception))
        link.mend()
        await deferLater(reactor, 0.3, lambda: None)
        self.assertIsNotNone(await b.connect("10.0.0.1", 1))

    async def test_forgetting_sent_again(self) -> None:
        """
        A connection's forgetting whose link to Redis is lost before the
        answer is sent again once the link is back: it is never left counted.
        """
        (_, a), (_, b) = await self.nodes("a", "b", lease=10.0, linked="a")
        link = self.link
        held = await a.connect("10.0.0.1", 1)
        link.cut()
        a.disconnect(held)
        await deferLater(reactor, 0.1, lambda: None)
        for half in list(link.halves):
            half.tcp.abortConnection()
        link.mend()
        await until(lambda: bool(link.halves), 5)
        await deferLater(reactor, 0.5, lambda: None)
        self.assertIsNotNone(await b.connect("10.0.0.1", 1))
