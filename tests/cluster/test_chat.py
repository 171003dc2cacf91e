"""
The clustered chat, several nodes in one process over a real Redis of the
test's own: each node's replica applies the log, and its users see one chat.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import DeferredList, gatherResults
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat.cluster.chat import NODE_LOST, ClusterChat
from chat.cluster.log import Log, Settings
from chat.core.errors import NicknameTaken, NoSuchRoom
from chat.core.events import (
    Departure,
    Event,
    Joined,
    Left,
    Message,
    PrivateMessage,
    PrivateMessageSent,
    TopicChanged,
)
from chat.core.interfaces import Chat
from tests.cluster.brokers import Broker
from tests.cluster.test_log import until
from tests.live import reactor


class Person:
    """
    A participant that keeps what it is told.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.departures: list[Departure] = []

    def receive(self, event: Event) -> None:
        self.events.append(event)

    def disconnect(self, departure: Departure) -> None:
        self.departures.append(departure)

    def removed(self, room: str) -> None:
        pass

    def said(self) -> list[tuple[str, str]]:
        return [(e.sender, e.text) for e in self.events if isinstance(e, Message)]


class ClusterChatTests(TestCase):
    timeout = 60

    async def nodes(self, *names: str, **settings: Any) -> list[ClusterChat]:
        broker = Broker(self)
        chats = []
        for name in names:
            chat = ClusterChat(name, permanent_rooms=("lobby",))
            log = Log(
                reactor,
                broker.address,
                name,
                chat.apply,
                chat.fenced,
                chat.gap,
                Settings(**settings),
            )
            chat.journal = log
            await log.start()
            self.addCleanup(log.stop)
            chats.append(chat)
        return chats

    def test_a_chat(self) -> None:
        """
        A clustered chat is a chat: it has every call of the interface.
        """
        chat: Chat = ClusterChat("a")
        self.assertEqual(len(chat), 0)

    async def test_nicknames_claimed_once(self) -> None:
        """
        50 nicknames claimed at once on three nodes, each in its own case:
        exactly one claim wins each, and every node agrees which.
        """
        a, b, c = await self.nodes("a", "b", "c")
        spellings = {a: str.lower, b: str.upper, c: str.title}
        claims = [
            (node, node.login(spell(f"nick{n}"), Person()))
            for n in range(50)
            for node, spell in spellings.items()
        ]
        results = await DeferredList([d for _, d in claims], consumeErrors=True)
        won = [ok for ok, _ in results]
        self.assertEqual(won.count(True), 50)
        for ok, value in results:
            if not ok:
                failure: Any = value
                failure.trap(NicknameTaken)
        for n in range(50):
            self.assertEqual(sum(won[3 * n : 3 * n + 3]), 1)
        online = [node.online() for node in (a, b, c)]
        self.assertEqual(len(online[0]), 50)
        self.assertEqual(online[0], online[1])
        self.assertEqual(online[0], online[2])

    async def test_one_order(self) -> None:
        """
        Speakers on three nodes saying 100 numbered messages each at once:
        a listener on each node hears every message once, and all three
        hear them in the same order; each speaker hears the others'.
        """
        nodes = await self.nodes("a", "b", "c")
        people: dict[str, Person] = {}
        users: dict[str, Any] = {}
        for node in nodes:
            for role in ("speaker", "listener"):
                name = f"{role}{node.node}"
                people[name] = Person()
                users[name] = await node.login(name, people[name])
                await node.join(users[name], "lobby")
        await until(lambda: all(len(node.members("lobby")) == 6 for node in nodes))
        for n in range(100):
            for node in nodes:
                node.say(users[f"speaker{node.node}"], "lobby", f"{node.node}{n}")
        await until(lambda: all(len(people[f"listener{x}"].said()) == 300 for x in "abc"))
        heard = [people[f"listener{x}"].said() for x in "abc"]
        self.assertEqual(heard[0], heard[1])
        self.assertEqual(heard[0], heard[2])
        self.assertEqual(len(set(heard[0])), 300)
        for x in "abc":
            self.assertEqual(
                [text for sender, text in heard[0] if sender == f"speaker{x}"],
                [f"{x}{n}" for n in range(100)],
            )
            spoken = people[f"speaker{x}"].said()
            self.assertEqual(len(spoken), 200)
            self.assertNotIn(f"speaker{x}", {sender for sender, _ in spoken})

    async def test_private_across_nodes(self) -> None:
        """
        A private message to a user of another node reaches it once, and
        its sender is told once; nobody else hears it.
        """
        a, b = await self.nodes("a", "b")
        alice, bob, carol = Person(), Person(), Person()
        alice_user = await a.login("alice", alice)
        await b.login("bob", bob)
        await b.login("carol", carol)
        await until(lambda: a.is_online("bob"))
        sent = a.whisper(alice_user, "BOB", "psst")
        self.assertIsNotNone(sent)
        await until(lambda: any(isinstance(e, PrivateMessage) for e in bob.events))
        await deferLater(reactor, 0.2, lambda: None)
        self.assertEqual([e.text for e in bob.events if isinstance(e, PrivateMessage)], ["psst"])
        self.assertEqual(
            [e.text for e in alice.events if isinstance(e, PrivateMessageSent)], ["psst"]
        )
        self.assertFalse(any(isinstance(e, PrivateMessage) for e in carol.events))

    async def test_rooms_across_nodes(self) -> None:
        """
        Joins, topics and parts on one node are seen by members on another.
        """
        a, b = await self.nodes("a", "b")
        alice, bob = Person(), Person()
        alice_user = await a.login("alice", alice)
        bob_user = await b.login("bob", bob)
        await a.join(alice_user, "den")
        await until(lambda: _members(b, "den") == ["alice"])
        await b.join(bob_user, "den")
        await until(lambda: any(isinstance(e, Joined) for e in alice.events))
        a.set_topic(alice_user, "den", "chess at eight")
        await until(lambda: any(isinstance(e, TopicChanged) for e in bob.events))
        self.assertEqual(b.room("den").topic, "chess at eight")
        self.assertEqual(b.room("den").topic_at, a.room("den").topic_at)
        b.part(bob_user, "den")
        await until(lambda: _members(a, "den") == ["alice"])

    async def test_node_lost(self) -> None:
        """
        A node that stops (its lease runs out) is reaped: its users leave
        every room with "node lost", once each, and their nicknames are free.
        """
        a, b, c = await self.nodes("a", "b", "c", lease=0.6)
        watcher = Person()
        watching = await a.login("watcher", watcher)
        await a.join(watching, "lobby")
        for name in ("carol", "dave"):
            user = await c.login(name, Person())
            await c.join(user, "lobby")
        await until(lambda: len(a.members("lobby")) == 3 and len(b.members("lobby")) == 3)
        assert c.journal is not None
        c.journal._stop_loops()
        await until(lambda: a.members("lobby") == ["watcher"], 5)
        await until(lambda: b.members("lobby") == ["watcher"], 5)
        left = [e for e in watcher.events if isinstance(e, Left)]
        self.assertEqual(sorted(e.nickname for e in left), ["carol", "dave"])
        self.assertEqual({e.departure for e in left}, {NODE_LOST})
        await gatherResults([a.login("carol", Person()), b.login("dave", Person())])


def _members(node: ClusterChat, room: str) -> list[str]:
    """
    Who is in C{room} as C{node} knows it (nobody, in a room it has not heard of yet).
    """
    try:
        return node.members(room)
    except NoSuchRoom:
        return []
