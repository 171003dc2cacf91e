"""
The clustered chat, several nodes in one process over a real Redis of the
test's own: each node's replica applies the log, and its users see one chat.
"""

from __future__ import annotations

import json
import random
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, gatherResults
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat.cluster import scripts
from chat.cluster.chat import ClusterChat
from chat.cluster.log import Log, Settings
from chat.cluster.replica import NODE_LOST
from chat.core.errors import (
    CannotJoin,
    CannotSend,
    ChatError,
    NicknameTaken,
    NoSuchRoom,
    NotRoomOperator,
    StoreUnavailable,
)
from chat.core.events import (
    Ctcp,
    Departure,
    Entered,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    PrivateMessage,
    PrivateMessageSent,
    Redacted,
    StatusMessage,
    TagMessage,
    TopicChanged,
    Welcome,
    Why,
)
from chat.core.interfaces import Chat
from chat.core.modes import Mode, ModeChange
from tests.cluster.brokers import Broker
from tests.cluster.test_log import until
from tests.helpers import Recorder
from tests.live import reactor


class Person(Recorder):
    """
    A participant that keeps what it is told, and says which messages.
    """

    def said(self) -> list[tuple[str, str]]:
        return [(e.sender, e.text) for e in self.events if isinstance(e, Message)]


class Nodes(TestCase):
    """
    Nodes of one cluster, on a Redis of the test's own.
    """

    timeout = 60

    async def nodes(self, *names: str, aof: bool = False, **settings: Any) -> list[ClusterChat]:
        self.broker = broker = Broker(self, aof=aof)
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
            await chat.start(log, reactor)
            self.addCleanup(chat.stop)
            chats.append(chat)
        return chats


class ClusterChatTests(Nodes):
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


class JoiningTests(Nodes):
    """
    A node joining a chat that has users, rooms and topics already.
    """

    async def test_given_the_state(self) -> None:
        """
        The newcomer is given the chat as the others have it: who is
        online, the rooms with their members, operators and topics; its
        users then talk with the others' at once.
        """
        [a, b] = await self.nodes("a", "b")
        alice, bob = Person(), Person()
        alice_user = await a.login("alice", alice)
        await a.join(alice_user, "den")
        a.set_topic(alice_user, "den", "chess")
        bob_user = await b.login("bob", bob)
        await b.join(bob_user, "den")
        b.set_away(bob_user, "lunch")
        await until(lambda: getattr(a.lookup("bob"), "away", None) == "lunch")
        c = ClusterChat("c", permanent_rooms=("lobby",))
        log = Log(reactor, self.broker.address, "c", c.apply, c.fenced, c.gap, Settings())
        await c.start(log, reactor)
        self.addCleanup(c.stop)
        self.assertEqual(c.online(), ["alice", "bob"])
        room = c.room("den")
        self.assertEqual((room.topic, room.topic_by), ("chess", "alice"))
        self.assertEqual(c.members("den"), ["alice", "bob"])
        self.assertEqual({u.nickname for u in room.operators}, {"alice"})
        self.assertEqual(c.find("bob").away, "lunch")
        carol = Person()
        carol_user = await c.login("carol", carol)
        await c.join(carol_user, "den")
        a.say(alice_user, "den", "welcome")
        await until(lambda: ("alice", "welcome") in carol.said())
        c.say(carol_user, "den", "thanks")
        await until(lambda: ("carol", "thanks") in bob.said())
        await until(lambda: a.lookup("carol") is not None)
        # Refused where it is taken, on the newcomer as on the others.
        failure = await _failed(c.login("ALICE", Person()))
        failure.trap(NicknameTaken)


async def _failed(d: Any) -> Any:
    try:
        await d
    except Exception:
        from twisted.python.failure import Failure

        return Failure()
    raise AssertionError("did not fail")


class ModerationTests(Nodes):
    """
    What operators do on one node holds on every node.
    """

    async def test_ghost_replaced_from_another_node(self) -> None:
        """
        A user put out from another node (a ghost replaced: its owner logs
        in elsewhere with its password) leaves every node with that entry:
        the login right after it takes the nickname, and its room mates
        see it leave once.
        """
        a, b, c = await self.nodes("a", "b", "c")
        ghost, mate = Person(), Person()
        await b.join(await b.login("gus", ghost), "lobby")
        await c.join(await c.login("mate", mate), "lobby")
        await until(lambda: a.members("lobby") == ["gus", "mate"])
        a.disconnect(a.find("gus"), Departure(Why.REPLACED))
        owner = await a.login("gus", Person())
        self.assertEqual(owner.nickname, "gus")
        await until(lambda: bool(ghost.departures))
        self.assertEqual(ghost.departures, [Departure(Why.REPLACED)])
        await until(lambda: b.is_online("gus") and c.is_online("gus"))
        left = [e for e in mate.events if isinstance(e, Left)]
        self.assertEqual(left, [Left("lobby", "gus", Departure(Why.REPLACED))])

    async def test_moderation_across_nodes(self) -> None:
        """
        Modes, kicks and invitations made on one node reach and bind the
        users of another; what users say of themselves is known everywhere.
        """
        a, b = await self.nodes("a", "b")
        op, guest = Person(), Person()
        op_user = await a.login("op", op)
        guest_user = await b.login("guest", guest)
        await a.join(op_user, "den")
        await until(lambda: _members(b, "den") == ["op"])
        await b.join(guest_user, "den")
        await until(lambda: _members(a, "den") == ["guest", "op"])
        a.change_modes(op_user, "den", [ModeChange(Mode.MODERATED, True, None)])
        await until(lambda: Mode.MODERATED in b.room("den").flags)
        with self.assertRaises(CannotSend):
            b.say(guest_user, "den", "may I?")
        a.change_modes(op_user, "den", [ModeChange(Mode.VOICE, True, "guest")])
        await until(lambda: guest_user in b.room("den").voiced)
        b.say(guest_user, "den", "thank you")
        await until(lambda: ("guest", "thank you") in op.said())
        with self.assertRaises(NotRoomOperator):
            b.kick(guest_user, "den", "op", None)
        a.kick(op_user, "den", "guest", "enough")
        await until(lambda: any(isinstance(e, Kicked) for e in guest.events))
        await until(lambda: _members(b, "den") == ["op"])
        a.change_modes(op_user, "den", [ModeChange(Mode.INVITE_ONLY, True, None)])
        await until(lambda: Mode.INVITE_ONLY in b.room("den").flags)
        refused = await _failed(b.join(guest_user, "den"))
        refused.trap(CannotJoin)
        a.invite(op_user, "den", "guest")
        await until(lambda: any(isinstance(e, Invited) for e in guest.events))
        await b.join(guest_user, "den")
        b.describe(guest_user, "gst", "A Guest")
        b.set_account(guest_user, "guest")
        b.set_bot(guest_user, True)
        await until(lambda: getattr(a.lookup("guest"), "realname", None) == "A Guest")
        seen = a.find("guest")
        await until(lambda: seen.bot and seen.account == "guest")
        self.assertEqual((seen.username, seen.account), ("gst", "guest"))


class StateTests(TestCase):
    """
    The chat's state as plain values, and back (chat.core.state).
    """

    def test_round_trip(self) -> None:
        """
        Users, rooms, their members in order, operators, voiced, masks,
        keys, limits and invitations come back as they were.
        """
        from chat.core import state
        from chat.core.domain import MemoryChat

        first = MemoryChat(permanent_rooms=("lobby",), clock=lambda: 100.0)
        alice = self.successResultOf(first.login("alice", Person(), account="alice"))
        bob = self.successResultOf(first.login("bob", Person()))
        carol = self.successResultOf(first.login("carol", Person()))
        self.successResultOf(first.join(alice, "den"))
        self.successResultOf(first.join(bob, "den"))
        first.change_modes(
            alice,
            "den",
            [
                ModeChange(Mode.VOICE, True, "bob"),
                ModeChange(Mode.BAN, True, "troll!*@*"),
                ModeChange(Mode.KEY, True, "sesame"),
                ModeChange(Mode.LIMIT, True, "10"),
            ],
        )
        first.invite(alice, "den", "carol")
        ids = {alice: "a.1", bob: "a.2", carol: "a.3"}
        dumped = json.loads(json.dumps(state.dump(first, ids)))
        second = MemoryChat(permanent_rooms=("lobby",), clock=lambda: 100.0)
        made = state.load(second, dumped, lambda _: Person())
        self.assertEqual(second.online(), ["alice", "bob", "carol"])
        room = second.room("den")
        self.assertEqual([u.nickname for u in room.members], ["alice", "bob"])
        self.assertEqual({u.nickname for u in room.operators}, {"alice"})
        self.assertEqual({u.nickname for u in room.voiced}, {"bob"})
        self.assertEqual([ban.mask for ban in room.bans], ["troll!*@*"])
        self.assertEqual((room.key, room.limit), ("sesame", 10))
        self.assertEqual(second.invitations(made["a.3"]), ["den"])
        self.assertEqual(made["a.1"].account, "alice")
        self.assertEqual([r.name for r in made["a.2"].rooms], ["den"])
        self.assertEqual(state.dump(second, {u: i for i, u in made.items()}), dumped)


class KindsTests(Nodes):
    """
    Every kind of message crosses nodes.
    """

    async def test_every_kind(self) -> None:
        """
        Actions, CTCP, messages to operators, tags alone (to a room and to a
        user) and deletions reach a user of another node once each.
        """
        a, b = await self.nodes("a", "b")
        alice, bob = Person(), Person()
        alice_user = await a.login("alice", alice)
        bob_user = await b.login("bob", bob)
        await b.join(bob_user, "den")
        await until(lambda: _members(a, "den") == ["bob"])
        await a.join(alice_user, "den")
        await until(lambda: _members(b, "den") == ["alice", "bob"])
        a.act(alice_user, "den", "waves")
        a.ctcp(alice_user, "den", "VERSION")
        a.say_to(alice_user, "den", Mode.OPERATOR, "ops only")
        a.tag(alice_user, "den", (("+typing", "active"),), room=True)
        a.tag(alice_user, "bob", (("+typing", "paused"),), room=False)
        said = a.say(alice_user, "den", "oops")
        assert said is not None and said.meta is not None
        a.redact(alice_user, "den", said.meta.msgid, "typo")
        await until(lambda: any(isinstance(e, Redacted) for e in bob.events))
        kinds = [
            type(e).__name__ for e in bob.events if not isinstance(e, (Welcome, Joined, Entered))
        ]
        self.assertEqual(
            kinds,
            ["Action", "Ctcp", "StatusMessage", "TagMessage", "TagMessage", "Message", "Redacted"],
        )
        tags = [e for e in bob.events if isinstance(e, TagMessage)]
        self.assertEqual([(t.room, t.recipient) for t in tags], [("den", None), (None, "bob")])
        self.assertFalse(
            any(isinstance(e, (Ctcp, StatusMessage, TagMessage)) for e in alice.events)
        )


class FencingTests(Nodes):
    """
    A node that finds itself out of the cluster.
    """

    async def test_fenced_node_serves_again(self) -> None:
        """
        A node that stopped for longer than its lease finds, once running
        again, that it is out: its users are disconnected with "node lost"
        (the others have seen them leave), and it joins again, given the
        chat's state, and serves new logins.
        """
        a, b = await self.nodes("a", "b", lease=0.6)
        anne, bert = Person(), Person()
        anne_user = await a.login("anne", anne)
        await a.join(anne_user, "lobby")
        bert_user = await b.login("bert", bert)
        await b.join(bert_user, "lobby")
        await until(lambda: a.members("lobby") == ["anne", "bert"])
        assert b.journal is not None
        b.journal._stop_loops()  # as a process that is stopped
        await until(lambda: a.members("lobby") == ["anne"], 5)
        await b.journal._renew()  # running again
        # Decided once the reactor has read what came meanwhile (or learnt
        # from its own reaping, read in the log).
        await until(lambda: bool(bert.departures), 2)
        self.assertEqual(bert.departures, [NODE_LOST])
        await until(lambda: b.journal is not None and b.journal.token is not None, 5)
        await until(lambda: b.is_online("anne"), 5)
        self.assertFalse(b.is_online("bert"))
        cora = Person()
        await b.login("cora", cora)
        await until(lambda: a.is_online("cora"))

    async def test_same_name_twice(self) -> None:
        """
        A second process given a running node's name takes the name over:
        the first reads, in the log, that it was replaced, and says so
        rather than that its lease ran out; its users are told the node
        was lost.
        """
        (a,) = await self.nodes("a")
        anne = Person()
        await a.login("anne", anne)
        assert a.journal is not None
        reasons: list[str] = []
        told = a.journal.fenced

        def fenced(why: str) -> None:
            reasons.append(why)
            told(why)

        a.journal.fenced = fenced
        again = ClusterChat("a", permanent_rooms=("lobby",))
        log = Log(
            reactor, self.broker.address, "a", again.apply, again.fenced, again.gap, Settings()
        )
        await again.start(log, reactor)
        self.addCleanup(again.stop)
        await until(lambda: bool(reasons), 5)
        self.assertEqual(reasons[0], scripts.REPLACED)
        await until(lambda: bool(anne.departures), 2)
        self.assertEqual(anne.departures, [NODE_LOST])

    async def test_claim_under_way_when_fenced(self) -> None:
        """
        A login whose entry was not acknowledged when the node is put out
        of the cluster fails as the database being unavailable (its user
        is told to try again), not with the log's own error.
        """
        a, _ = await self.nodes("a", "b", lease=0.6)
        assert a.journal is not None
        claiming = a.login("dora", Person())
        a.journal.fence("as if its lease ran out")
        with self.assertRaises(StoreUnavailable):
            await claiming

    async def test_logins_while_fenced(self) -> None:
        """
        Logins on the other nodes while a fenced node waits to join again
        wait for it too: it is given them with the state, and serves.
        """
        a, b = await self.nodes("a", "b", lease=0.6)
        assert b.journal is not None
        b.journal.fence("as if its lease ran out")
        for n in range(3):
            await a.login(f"early{n}", Person())
        await until(lambda: b.journal is not None and b.journal.token is not None, 5)
        await until(lambda: all(b.is_online(f"early{n}") for n in range(3)), 5)
        await b.login("after", Person())
        await until(lambda: a.is_online("after"))
        self.assertEqual(a.online(), b.online())

    async def test_giver_lost_before_it_gave(self) -> None:
        """
        A node joining names as its giver a node that is gone (killed, not
        reaped yet): it asks again, and is given the state by another.
        """
        a, b = await self.nodes("aa", "bb", lease=0.6)
        await b.login("bea", Person())
        await until(lambda: a.is_online("bea"))
        assert a.journal is not None
        a.journal._stop_loops()
        a.journal._reading = False  # as a process killed: it answers nothing
        c = ClusterChat("cc")
        log = Log(reactor, self.broker.address, "cc", c.apply, c.fenced, c.gap, Settings())
        await c.start(log, reactor, wait=1.0)
        self.addCleanup(c.stop)
        self.assertTrue(c.is_online("bea"))


class BoundTests(Nodes):
    """
    What waits for an unreachable broker is bounded, and said.
    """

    async def test_messages_refused_changes_kept(self) -> None:
        """
        While as many messages wait as may, the next is refused to its
        sender at once (not dropped); a logout is never refused, or the
        others would keep a user who has gone.
        """
        [a, b] = await self.nodes("a", "b", aof=True, max_pending=3, lease=30)
        user = await a.login("talker", Person())
        await a.join(user, "lobby")
        assert a.journal is not None
        journal = a.journal
        # The join is applied (read back) before its append's answer may be.
        await until(lambda: journal.waiting == 0)
        self.broker.kill()
        for n in range(3):
            a.say(user, "lobby", f"m{n}")
        with self.assertRaises(StoreUnavailable):
            a.say(user, "lobby", "one too many")
        assert a.journal is not None
        a.logout(user)
        self.assertEqual(len(a.journal._queue), 4)
        self.broker.start()
        # Said, in order, once the broker is back: the other node saw the
        # three messages' sender come and go, and was never fenced.
        await until(lambda: not b.is_online("talker"), 10)
        self.assertTrue(b.journal is not None and b.journal.token is not None)


class PrivacyTests(Nodes):
    """
    What one user meant for another reaches that user only.
    """

    async def test_private_message_follows_its_recipient(self) -> None:
        """
        A private message made for bob, applied after bob has become bob2
        and mallory has taken "bob", reaches bob2, never mallory.
        """
        a, b, c = await self.nodes("a", "b", "c")
        alice, bob, mallory = Person(), Person(), Person()
        alice_user = await a.login("alice", alice)
        bob_user = await b.login("bob", bob)
        await until(lambda: a.is_online("bob"))
        # a falls behind (its reads wait): it still knows bob as bob.
        assert a.journal is not None
        a.journal._reading = False
        await deferLater(reactor, 1.2, lambda: None)
        await b.rename(bob_user, "bob2")
        await c.login("bob", mallory)
        sent = a.whisper(alice_user, "bob", "for bob only")
        assert sent is not None
        a.journal._reading = True
        Deferred.fromCoroutine(a.journal._read())
        await until(lambda: any(isinstance(e, PrivateMessage) for e in bob.events))
        await deferLater(reactor, 0.3, lambda: None)
        self.assertEqual(
            [e.text for e in bob.events if isinstance(e, PrivateMessage)], ["for bob only"]
        )
        self.assertFalse(any(isinstance(e, PrivateMessage) for e in mallory.events))


class ConvergenceTests(Nodes):
    """
    Whatever happens on which node, every node ends with the same chat.
    """

    async def test_same_state_everywhere(self) -> None:
        """
        Random joins, parts, renames, topics and messages by 12 users on 3
        nodes: once every node has read the whole log, their chats are the
        same in every detail (users, rooms, members in order, operators,
        topics, counts), but for idle times.
        """
        from chat.core import state

        nodes = await self.nodes("a", "b", "c")
        chooser = random.Random(24)
        users: list[tuple[ClusterChat, Any]] = []
        for n in range(12):
            node = nodes[n % 3]
            users.append((node, await node.login(f"u{n}", Person())))
        rooms = ["den", "lab", "hall"]
        for step in range(120):
            node, user = chooser.choice(users)
            if not user.online:
                continue
            action = chooser.choice(["join", "join", "part", "rename", "topic", "say"])
            room = chooser.choice(rooms)
            try:
                if action == "join":
                    await node.join(user, room)
                elif action == "part":
                    node.part(user, room)
                elif action == "rename":
                    await node.rename(user, f"{user.nickname[:3]}x{step}")
                elif action == "topic":
                    node.set_topic(user, room, f"topic {step}")
                else:
                    node.say(user, room, f"said {step}")
            except ChatError:
                pass

        def settled() -> bool:
            numbers = {node.journal._number for node in nodes if node.journal is not None}
            return len(numbers) == 1

        await deferLater(reactor, 0.3, lambda: None)
        await until(settled)
        dumps = []
        for node in nodes:
            dumped = state.dump(node.replica, node._ids)
            for fields in dumped["users"]:
                del fields["active"]
            dumps.append(json.dumps(dumped, sort_keys=True))
        self.assertEqual(dumps[0], dumps[1])
        self.assertEqual(dumps[0], dumps[2])
        self.assertEqual(nodes[0].rooms(), nodes[2].rooms())
        self.assertGreater(len(nodes[0].online()), 0)


class EmptyBrokerTests(Nodes):
    async def test_every_node_serves_again(self) -> None:
        """
        Redis comes back empty under two nodes: each finds it, and both
        join again and serve (the first to join holds the chat's state at
        once; the second is given it by the first), rather than wait for
        each other's state for ever.
        """
        a, b = await self.nodes("a", "b", lease=1)
        await a.login("alice", Person())
        await b.login("bob", Person())
        self.broker.restart(empty=True)
        first, second = a.journal, b.journal
        assert first is not None and second is not None
        # Their fencing tokens may be the same numbers again: the new
        # incarnation tells the chat Redis now holds.
        old = first.incarnation

        def joined_again() -> bool:
            return a._ready and b._ready and old != first.incarnation == second.incarnation

        await until(joined_again, 10)
        await until(lambda: not a._starting and not b._starting, 10)
        alice = await b.login("alice", Person())
        await a.login("bob", Person())
        await until(lambda: a.is_online("alice") and b.is_online("bob"))
        self.assertEqual(sorted(a.online()), ["alice", "bob"])
        self.assertEqual(sorted(b.online()), ["alice", "bob"])
        self.assertIsNotNone(alice)
