"""
The cluster's log against real Redis servers of the tests' own: one order
for every node, each entry once, fencing, leases and reaping, a broker
killed and restarted with and without its append-only file, and a reader
left behind the log's retention.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import txredisapi  # type: ignore[import-untyped]
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat.cluster import redis, scripts
from chat.cluster.log import Entry, Fenced, Log, Settings, entry_of
from tests.cluster.brokers import Broker, Link
from tests.live import reactor


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """
    Wait until C{condition()} holds, or fail after C{timeout} seconds.
    """
    waited = 0.0
    while not condition():
        if waited > timeout:
            raise AssertionError("timed out waiting")
        await deferLater(reactor, 0.02, lambda: None)
        waited += 0.02


class Node:
    """
    A log and what it was told.
    """

    def __init__(self, broker: Broker | Link, name: str, settings: Settings) -> None:
        self.entries: list[Entry] = []
        self.fences: list[str] = []
        self.gaps: list[str] = []
        self.log = Log(
            reactor,
            broker.address,
            name,
            self.entries.extend,
            self.fences.append,
            self.gaps.append,
            settings,
        )

    def said(self) -> list[tuple[str, str]]:
        """
        The entries read that nodes appended (not the log's own), as (node, data).
        """
        return [(e.node, e.data) for e in self.entries if e.kind == "say"]


class WireTests(SynchronousTestCase):
    """
    What goes to Redis and comes back, made the fast way.
    """

    def test_entry_fields(self) -> None:
        """
        An entry's fields are read by their place when they come in the
        scripts' order, and by their names otherwise (another version's
        order): the same entry either way.
        """
        values = ["g", "7", "n", "a", "t", "f00d", "s", "3", "k", "said", "d", "[1]"]
        expected = Entry("1-2", 7, "a", "f00d", 3, "said", "[1]")
        self.assertEqual(entry_of(["1-2", values]), expected)
        pairs = list(zip(values[::2], values[1::2], strict=True))
        shuffled = [part for pair in reversed(pairs) for part in pair]
        self.assertEqual(entry_of(["1-2", shuffled]), expected)
        with self.assertRaises(KeyError):
            entry_of(["1-2", shuffled[2:]])

    def test_command_bytes(self) -> None:
        """
        A command is sent as the very bytes txredisapi would send: text as
        UTF-8, numbers, floats, booleans and bytes as it writes them.
        """
        args = ["EVALSHA", "ab12", 2, "chat:log", "é 💬", -5, 1.5, True, b"\x00raw", ""]
        ours = redis._Protocol()._build_command(*args)
        self.assertEqual(ours, txredisapi.HiredisProtocol()._build_command(*args))
        self.assertTrue(ours.startswith(b"*10\r\n$7\r\nEVALSHA\r\n"))


class LogTests(TestCase):
    timeout = 60

    async def nodes(self, broker: Broker, *names: str, **settings: Any) -> list[Node]:
        started = []
        for name in names:
            node = Node(broker, name, Settings(**settings))
            await node.log.start()
            self.addCleanup(node.log.stop)
            started.append(node)
        return started

    async def test_one_order(self) -> None:
        """
        Three nodes appending at full speed at once: every node reads every
        entry exactly once, in one order, the same on all of them, each
        node's own in the order it appended them.
        """
        broker = Broker(self)
        nodes = await self.nodes(broker, "a", "b", "c")
        appends = [
            node.log.append("say", f"{node.log.node}{n}") for n in range(500) for node in nodes
        ]
        await gatherResults(appends)
        await until(lambda: all(len(node.said()) == 1500 for node in nodes))
        orders = [node.said() for node in nodes]
        self.assertEqual(orders[0], orders[1])
        self.assertEqual(orders[0], orders[2])
        self.assertEqual(len(set(orders[0])), 1500)
        for name in "abc":
            own = [data for node, data in orders[0] if node == name]
            self.assertEqual(own, [f"{name}{n}" for n in range(500)])
        numbers = [e.number for e in nodes[2].entries]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + len(numbers))))
        self.assertEqual([node.gaps for node in nodes], [[], [], []])

    async def test_sent_again_added_once(self) -> None:
        """
        An append sent again (its answer lost) is recognised by its number and not added.
        """
        broker = Broker(self)
        [a] = await self.nodes(broker, "a")
        await a.log.append("say", "once")
        log = a.log
        again = await log._run(
            scripts.APPEND,
            ["chat:log", "chat:count", "chat:incarnation", "chat:nodes", "chat:lease:a",
             "chat:seq:a"],
            [1000, "a", log.token, log.incarnation, 1, "say", "once"],
        )  # fmt: skip
        self.assertEqual(int(again), 0)
        await a.log.append("say", "twice")
        await until(lambda: len(a.said()) == 2)
        self.assertEqual(a.said(), [("a", "once"), ("a", "twice")])

    async def test_lease(self) -> None:
        """
        A node that stops renewing is reaped by the others within its lease
        and a reaping period: the log says so once. It has fenced itself
        before that; its appends are refused; it serves again under a new
        token once it joins again.
        """
        broker = Broker(self)
        a, b, c = await self.nodes(broker, "a", "b", "c", lease=0.6)
        old = b.log.token
        # b stops (its loops do not run: as a process that is stopped).
        b.log._stop_loops()
        await until(lambda: any(e.kind == "lost" and e.node == "b" for e in a.entries), 3)
        await deferLater(reactor, 0.7, lambda: None)
        for node in (a, c):
            lost = [e for e in node.entries if e.kind == "lost"]
            self.assertEqual([(e.node, e.token) for e in lost], [("b", old)])
        # b, running again, finds its lease gone by its own clock: it
        # fences itself before appending anything (once it has read what
        # came meanwhile: no answer to a renewal).
        await b.log._renew()
        self.assertEqual(len(b.fences), 0)
        await until(lambda: len(b.fences) > 0, 1)
        self.assertEqual(len(b.fences), 1)
        failure = await _failure(b.log.append("say", "late"))
        failure.trap(Fenced)
        up = await b.log.rejoin()
        self.assertNotEqual(up.token, old)
        await b.log.append("say", "back")
        await until(lambda: ("b", "back") in a.said())
        self.assertNotIn(("b", "late"), a.said())

    async def test_fenced_at_its_deadline(self) -> None:
        """
        A node cut off from Redis just after a renewal was answered fences
        itself at nine tenths of its lease after that renewal was sent (not
        at a later renewal, up to a third of a lease on), and before the
        other node reaps it.
        """
        broker = Broker(self)
        link = Link(self, broker)
        a = Node(link, "a", Settings(lease=3.0))
        b = Node(broker, "b", Settings(lease=3.0))
        for node in (a, b):
            await node.log.start()
            self.addCleanup(node.log.stop)
        fenced_at: list[float] = []
        a.log.fenced = lambda why: fenced_at.append(time.monotonic())
        deadline = a.log._deadline
        await until(lambda: a.log._deadline != deadline, 5)
        link.cut()
        deadline = a.log._deadline
        await until(lambda: bool(fenced_at), 10)
        self.assertLess(fenced_at[0], deadline + 0.15)
        await until(lambda: any(e.kind == "lost" and e.node == "a" for e in b.entries), 10)
        self.assertLess(fenced_at[0], time.monotonic() - 0.1)

    async def test_stale_token_refused(self) -> None:
        """
        An append under a token that is no longer the node's (it was
        reaped, and joined again) is refused by the script, whatever the
        node believes.
        """
        broker = Broker(self)
        a, b = await self.nodes(broker, "a", "b")
        old = a.log.token
        await a.log.rejoin()
        refused = await _failure(
            Deferred.fromCoroutine(
                a.log._run(
                    scripts.APPEND,
                    [
                        "chat:log",
                        "chat:count",
                        "chat:incarnation",
                        "chat:nodes",
                        "chat:lease:a",
                        "chat:seq:a",
                    ],
                    [1000, "a", old, a.log.incarnation, 99, "say", "ghost"],
                )
            )
        )
        self.assertIn("FENCED", refused.getErrorMessage())
        # The others read that its previous token is lost.
        await until(lambda: any(e.kind == "lost" for e in b.entries))
        lost = [e for e in b.entries if e.kind == "lost"]
        self.assertEqual([e.token for e in lost], [old])

    async def test_same_name_twice(self) -> None:
        """
        A second process joining under a running node's name pushes it out
        of the cluster, and the first says why (not that its lease ran out):
        the mistake is the operator's to see.
        """
        broker = Broker(self)
        (first,) = await self.nodes(broker, "a", lease=1.0)
        (second,) = await self.nodes(broker, "a", lease=1.0)
        await until(lambda: bool(first.fences))
        self.assertEqual(first.fences, [scripts.REPLACED])
        self.assertEqual(second.fences, [])

    async def test_broker_restarted_with_its_file(self) -> None:
        """
        Redis killed and started again with its append-only file: nothing
        acknowledged is lost, what waited meanwhile is appended after it,
        in order, and nothing twice; no gap.
        """
        broker = Broker(self, aof=True)
        a, b = await self.nodes(broker, "a", "b", lease=5)
        await gatherResults([a.log.append("say", f"before{n}") for n in range(100)])
        broker.kill()
        waiting = [a.log.append("say", f"during{n}") for n in range(100)]
        await deferLater(reactor, 0.3, lambda: None)
        broker.start()
        await gatherResults(waiting)
        expected = [("a", f"before{n}") for n in range(100)]
        expected += [("a", f"during{n}") for n in range(100)]
        await until(lambda: len(b.said()) >= 200 and len(a.said()) >= 200)
        self.assertEqual(b.said(), expected)
        self.assertEqual(a.said(), expected)
        self.assertEqual((a.gaps, b.gaps, a.fences), ([], [], []))

    async def test_broker_restarted_empty(self) -> None:
        """
        Redis started again without what it had: the next renewal finds it
        reset, and each node fences itself (its users must be told). A node
        still reading when another has joined the new log finds its
        numbering begun again: a gap, told.
        """
        broker = Broker(self)
        a, b = await self.nodes(broker, "a", "b", lease=0.9)
        await a.log.append("say", "before")
        await until(lambda: ("a", "before") in b.said())
        broker.restart(empty=True)
        await until(lambda: bool(a.fences), 3)
        self.assertIn("lost its state", a.fences[0])
        b.log._stop_loops()  # b has not noticed yet: it only reads
        await a.log.rejoin()
        await a.log.append("say", "after")
        await until(lambda: ("a", "after") in a.said())
        await until(lambda: bool(b.gaps), 3)
        self.assertIn("lost its state", b.gaps[0])

    async def test_reader_behind_retention(self) -> None:
        """
        A reader left behind while the log was trimmed past it is told of
        the gap, with the entries it missed, and reads on from there.
        """
        broker = Broker(self)
        a, b = await self.nodes(broker, "a", "b", maxlen=50)
        b.log._reading = False
        await deferLater(reactor, 1.2, lambda: None)  # its XREAD BLOCK returns
        await gatherResults([a.log.append("say", f"m{n}") for n in range(500)])
        b.log._reading = True
        Deferred.fromCoroutine(b.log._read())
        await until(lambda: bool(b.gaps), 5)
        self.assertIn("were missed", b.gaps[0])
        await a.log.append("say", "latest")
        await until(lambda: ("a", "latest") in b.said())
        self.assertLess(len(b.said()), 200)

    async def test_too_much_waiting(self) -> None:
        """
        While the broker is away, at most max_pending appends wait; the next is refused.
        """
        from chat.cluster.log import Unavailable

        broker = Broker(self, aof=True)
        [a] = await self.nodes(broker, "a", max_pending=10, lease=30)
        broker.kill()
        waiting = [a.log.append("say", f"w{n}") for n in range(10)]
        refused = await _failure(a.log.append("say", "one too many"))
        refused.trap(Unavailable)
        broker.start()
        await gatherResults(waiting)
        await until(lambda: len(a.said()) == 10)


async def _failure(d: Deferred[Any]) -> Any:
    try:
        await d
    except Exception:
        from twisted.python.failure import Failure

        return Failure()
    raise AssertionError("did not fail")
