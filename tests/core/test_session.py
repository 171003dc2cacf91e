"""
Tests for L{chat.core.session} and L{chat.line.commands}: one person's session,
whatever the front-end, driven directly and watched through a recording peer.

These assert values (replies, events, goodbyes), not wording: the line
front-end's tests check how each reads.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core import goodbyes as g
from chat.core import replies as r
from chat.core.errors import (
    AlreadyRegistered,
    NicknameTaken,
    NoSuchUser,
    NotLoggedIn,
    StoreUnavailable,
)
from chat.core.events import (
    Action,
    BanKind,
    Departure,
    Entered,
    Entry,
    Event,
    Left,
    Message,
    PrivateMessage,
    Welcome,
    Why,
)
from chat.core.limits import LOBBY, Limits, Rate
from chat.core.rights import RULES
from chat.core.service import ChatService, Settings
from chat.core.session import Session
from chat.line.commands import COMMANDS, BadArguments, Command, When, dispatch
from chat.store.accounts import Accounts
from chat.store.bans import Bans
from chat.store.history import History
from tests.helpers import Recorder, SyncPool, enter, new_service

T0 = float(calendar.timegm((2026, 11, 19, 7, 6, 40, 0, 0, 0)))
Step = Callable[[], None]


class RecordingPeer:
    """
    A front-end that records what its session tells it, in order, and holds
    events as a real one does. Its input items are steps: each is called when
    the session hands it back, so tests can say exactly what a user did.
    """

    bare_login = False
    replays = True

    def __init__(self, address: str = "10.0.0.1:4000", home: str | None = LOBBY) -> None:
        self.address = address
        self.home = home
        self.said: list[object] = []
        self.held: list[Event] | None = None
        self.holds = 0
        self.goodbye: g.Goodbye | None = None
        self.aborted = False
        self.departures: list[Departure] = []
        self.answers = 0
        self.removals: list[str] = []

    def interpret(self, item: object) -> None:
        assert callable(item)
        item()

    def receive(self, event: Event) -> None:
        if self.held is not None:
            self.held.append(event)
        else:
            self.said.append(event)

    def tell(self, reply: r.Reply) -> None:
        self.said.append(reply)

    def hold(self) -> None:
        self.holds += 1
        self.held = []

    def answering(self) -> None:
        pass

    def answered(self, more: bool = False) -> None:
        if not more:
            self.answers += 1

    def release(self, first: r.Reply | None = None) -> None:
        held, self.held = self.held, None
        if first is not None:
            self.said.append(first)
        self.said.extend(held or [])

    def close(self, goodbye: g.Goodbye) -> None:
        self.said.append(goodbye)
        self.goodbye = goodbye

    def abort(self) -> None:
        self.aborted = True

    def refuse(self, goodbye: g.Goodbye) -> None:
        self.close(goodbye)

    def disconnect(self, departure: Departure) -> None:
        self.departures.append(departure)

    def removed(self, room: str) -> None:
        self.removals.append(room)

    def take(self) -> list[object]:
        said, self.said = self.said, []
        return said


class SessionTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, maybeDeferred, cost=2**4)
        self.history = History(self.pool, self.clock)
        self.bans = Bans(self.pool, self.clock)
        self.service = self.make(Settings(admins=("root",), history_lines=5))

    def make(self, settings: Settings, **stores: object) -> ChatService:
        kept = {"history": self.history, "accounts": self.accounts, "bans": self.bans}
        kept.update(stores)
        return new_service(self.clock, settings, **kept)  # type: ignore[arg-type]

    def connect(
        self, host: str = "10.0.0.1", home: str | None = LOBBY, service: ChatService | None = None
    ) -> tuple[Session, RecordingPeer]:
        peer = RecordingPeer(f"{host}:4000", home)
        session = Session(service or self.service, peer, host)
        session.start()
        return session, peer

    def login(self, nickname: str, home: str | None = LOBBY) -> tuple[Session, RecordingPeer]:
        session, peer = self.connect(home=home)
        session.feed([lambda: session.choose_nickname(nickname)])
        peer.take()
        return session, peer


class LoginTests(SessionTestCase):
    def test_greeting(self) -> None:
        """
        A new session is greeted with the server's name and asked for a nickname.
        """
        _, peer = self.connect()
        self.assertEqual(peer.take(), [r.Greeting("chat"), r.NicknameWanted()])

    def test_login_puts_the_user_home(self) -> None:
        """
        Logging in: the domain's welcome, the logged-in reply with the MOTD,
        then the home room.
        """
        service = self.make(Settings(motd=("Be nice.",)))
        session, peer = self.connect(service=service)
        peer.take()
        session.choose_nickname("alice")
        self.assertEqual(
            peer.take(),
            [
                Welcome("alice", ("alice",)),
                r.LoggedIn(("Be nice.",)),
                Entered(LOBBY, "alice", None, ("alice",)),
                r.ReadMarker(LOBBY, True, None, entering=True),
                r.RecentHistory(LOBBY, []),
            ],
        )
        assert session.user is not None
        self.assertEqual([room.name for room in session.user.rooms], [LOBBY])

    def test_many_rooms_without_a_home(self) -> None:
        """
        A session without a home room is in none after login, and may be in
        several rooms at once (as IRC users are); a message reaches each room's members.
        """
        session, _ = self.login("alice", home=None)
        assert session.user is not None
        self.assertEqual(list(session.user.rooms), [])
        session.join("games")
        session.join("den")
        self.assertEqual([room.name for room in session.user.rooms], ["games", "den"])
        bob, bob_peer = self.login("bob", home=None)
        bob.join("den")
        bob_peer.take()
        session.say("den", "hi")
        session.say("games", "nobody here")
        self.assertEqual(bob_peer.take(), [Message("den", "alice", "hi")])

    def test_registered_nickname_wants_its_password(self) -> None:
        """
        A registered nickname is logged in only with its password; each wrong
        one says how many tries are left, the last closes the session.
        """
        self.successResultOf(self.accounts.register("alice", "secret1"))
        session, peer = self.connect()
        peer.take()
        session.choose_nickname("alice")
        self.assertEqual(peer.take(), [r.PasswordWanted("alice")])
        self.assertTrue(session.password_wanted)
        session.give_password("wrong1")
        session.give_password("wrong2")
        self.assertEqual(
            peer.take(),
            [
                r.WrongPassword(2),
                r.PasswordWanted("alice"),
                r.WrongPassword(1),
                r.PasswordWanted("alice"),
            ],
        )
        session.give_password("wrong3")
        self.assertEqual(peer.goodbye, g.OutOfTries())
        self.assertIsNone(session.user)

    def test_account_not_a_nickname(self) -> None:
        """
        A name that is no nickname (a look-alike of one in fullwidth
        letters) is no account: nothing is checked or counted, on any
        database (PostgreSQL's collation would take it for the nickname).
        """
        self.successResultOf(self.accounts.register("victim", "secret1"))
        session, peer = self.connect()
        peer.take()
        for _ in range(5):
            session.authenticate("\uff56ictim", "secret1")
        self.assertEqual(peer.take(), [r.NotProven()] * 5)
        self.assertIsNone(peer.goodbye)
        self.assertEqual(self.service._tries_by_account, {})
        session.authenticate("victim", "secret1")
        self.assertEqual(peer.take(), [r.Authenticated("victim")])

    def test_operator_only_by_password(self) -> None:
        """
        An admin's nickname is an operator only with the password the
        operator of the server set (chat.admin): unregistered, it cannot be
        used at all; registered by a stranger, it makes no operator.
        """
        session, peer = self.connect()
        peer.take()
        session.choose_nickname("root")
        self.assertEqual(peer.take(), [r.Reserved("root"), r.NicknameWanted()])
        self.assertIsNone(session.user)
        self.successResultOf(self.accounts.register("root", "secret1"))
        session.choose_nickname("ROOT")
        session.give_password("secret1")
        self.assertFalse(session.operator)
        session.quit(None)
        self.pool.make_operator("root", "secret2")
        again, _ = self.connect()
        again.choose_nickname("ROOT")
        again.give_password("secret2")
        self.assertTrue(again.operator)
        self.assertEqual(again.account, "root")

    def test_authenticate_before_choosing(self) -> None:
        """
        An account proven before login (IRC's SASL) is logged in without a
        password prompt; a wrong password is told and counted, nothing more.
        """
        self.successResultOf(self.accounts.register("alice", "secret1"))
        session, peer = self.connect()
        peer.take()
        session.authenticate("alice", "wrong1")
        self.assertEqual(peer.take(), [r.NotProven()])
        session.authenticate("ALICE", "secret1")
        self.assertEqual(peer.take(), [r.Authenticated("alice")])
        session.choose_nickname("Alice")
        assert session.user is not None
        self.assertEqual(session.user.nickname, "alice")
        self.assertFalse(session.operator)

    def test_become_operator(self) -> None:
        """
        An admin's account and password make an operator (IRC's OPER); any
        other account does not.
        """
        self.pool.make_operator("root", "rootpass")
        self.successResultOf(self.accounts.register("alice", "secret1"))
        session, peer = self.login("guest")
        session.become_operator("alice", "secret1")
        session.become_operator("root", "nope")
        self.assertEqual(peer.take(), [r.NotProven(), r.NotProven()])
        self.assertFalse(session.operator)
        session.become_operator("root", "rootpass")
        self.assertEqual(peer.take(), [r.Operator()])
        self.assertTrue(session.operator)

    def test_part_and_whois(self) -> None:
        """
        A user leaves one of its rooms and stays in the others; WHOIS tells
        another's rooms and whether it is an operator.
        """
        session, _ = self.login("alice", home=None)
        session.join("a")
        session.join("b")
        session.part("a")
        assert session.user is not None
        self.assertEqual([room.name for room in session.user.rooms], ["b"])
        other, other_peer = self.login("bob", home=None)
        other.whois("ALICE")
        self.assertEqual(
            other_peer.take(),
            [r.Whois("alice", ["b"], False, operator_in=frozenset({"b"}), signon=T0)],
        )

    def test_banned_nickname(self) -> None:
        """
        A banned nickname is refused at login and the nickname asked for again.
        """
        ban = self.bans.add(BanKind.NICK, "mallory", None, "spam", "root")
        session, peer = self.connect()
        peer.take()
        session.choose_nickname("Mallory")
        self.assertEqual(peer.take(), [r.NicknameBanned("Mallory", ban), r.NicknameWanted()])
        self.assertIsNone(session.user)

    def test_taken_nickname_asks_again(self) -> None:
        """
        A domain error before login is told as it is, and the nickname asked for again.
        """
        self.login("alice")
        session, peer = self.connect()
        peer.take()
        session.feed([lambda: session.choose_nickname("ALICE")])
        self.assertEqual(peer.take(), [NicknameTaken("ALICE"), r.NicknameWanted()])

    def test_login_timeout(self) -> None:
        """
        A session that chooses no nickname in time is told so and closed.
        """
        service = self.make(Settings(login_timeout=30))
        _, peer = self.connect(service=service)
        self.clock.advance(29)
        self.assertIsNone(peer.goodbye)
        self.clock.advance(1)
        self.assertEqual(peer.goodbye, g.LoginTimedOut(30))


class WaitingTests(SessionTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.pool.hold = True

    def test_input_waits_for_the_database(self) -> None:
        """
        While the nickname is being checked, what the user sent next waits,
        and is handled in order once the answer comes.
        """
        session, peer = self.connect()
        peer.take()
        session.feed(
            [
                lambda: session.choose_nickname("alice"),
                lambda: session.say(LOBBY, "first"),
                lambda: session.say(LOBBY, "second"),
            ]
        )
        bob = Recorder()
        enter(self.service.chat, "bob", bob, LOBBY)
        self.assertIsNone(session.user)
        self.pool.release()
        self.assertEqual(
            [e for e in bob.take() if isinstance(e, Message)],
            [Message(LOBBY, "alice", "first"), Message(LOBBY, "alice", "second")],
        )

    def test_live_events_wait_for_history(self) -> None:
        """
        While a room's history is read, live events are held, and shown after it.
        """
        self.pool.hold = False
        speaker, _ = self.login("bob")
        speaker.say(LOBBY, "before")
        self.pool.hold = True
        session, peer = self.connect()
        session.choose_nickname("alice")
        self.pool.release()  # the nickname check; history is now being read
        peer.take()
        speaker.say(LOBBY, "during")
        self.assertEqual(peer.take(), [])
        self.pool.release()
        [recent, live] = peer.take()
        assert isinstance(recent, r.RecentHistory)
        self.assertEqual([entry.text for entry in recent.entries], ["before"])
        self.assertEqual(live, Message(LOBBY, "bob", "during"))
        self.assertEqual(peer.holds, 1)

    def test_gone_before_the_answer(self) -> None:
        """
        A session whose connection went while its nickname was checked is
        never logged in.
        """
        session, _ = self.connect()
        session.choose_nickname("alice")
        session.connection_lost(cleanly=True)
        self.pool.release()
        self.assertEqual(self.service.chat.online(), [])


class CommandTests(SessionTestCase):
    def test_preconditions(self) -> None:
        """
        The dispatcher refuses a command whose declared preconditions do not
        hold, saying which one.
        """
        session, peer = self.connect()
        peer.take()
        for name, text in [("msg", "bob hi"), ("nosuch", ""), ("login", "x")]:
            session.feed([lambda name=name, text=text: dispatch(session, name, text, None)])
        self.assertEqual(peer.take(), [r.LoginFirst()] * 3)
        session.choose_nickname("alice")
        peer.take()
        session.feed(
            [
                lambda: dispatch(session, "kick", "bob", LOBBY),
                lambda: dispatch(session, "login", "x", LOBBY),
                lambda: dispatch(session, "NoSuch", "", LOBBY),
                lambda: dispatch(session, "msg", "bob", LOBBY),
            ]
        )
        self.assertEqual(
            peer.take(),
            [
                r.OperatorsOnly("kick"),
                r.LoggedInAlready(),
                r.UnknownCommand("NoSuch"),
                r.Usage("msg", "NICK TEXT"),
            ],
        )

    def test_needs(self) -> None:
        """
        A command that needs what the server runs without says so.
        """
        bare = new_service(self.clock)
        session, peer = self.connect(service=bare)
        session.choose_nickname("alice")
        peer.take()
        for name in ("history", "register", "search"):
            session.feed([lambda name=name: dispatch(session, name, "x", LOBBY)])
        self.assertEqual(
            peer.take(),
            [
                r.Unavailable(r.Feature.HISTORY),
                r.Unavailable(r.Feature.ACCOUNTS),
                r.Unavailable(r.Feature.HISTORY),
            ],
        )

    def test_direct_calls_are_checked_too(self) -> None:
        """
        A front-end that calls the session without the table (as IRC's verbs
        do) meets the same refusals: not logged in, no such store, no
        password asked for, no operator's rights, a room-bound command said
        outside any room.
        """
        bare = new_service(self.clock)
        session, peer = self.connect(service=bare)
        peer.take()
        session.feed(
            [
                lambda: session.say(LOBBY, "hi"),
                lambda: session.give_password("secret1"),
                lambda: session.choose_nickname("alice"),
                lambda: session.history(LOBBY, 5),
                lambda: session.register("secret1"),
                lambda: session.list_bans(),
                lambda: dispatch(session, "me", "waves", None),
                lambda: dispatch(session, "msg", "bob \x07", LOBBY),
                lambda: dispatch(session, "search", "\x07", LOBBY),
            ]
        )
        said = peer.take()
        self.assertEqual(said[:3], [NotLoggedIn(), r.NicknameWanted(), r.LoginFirst()])
        self.assertEqual(
            said[-6:],
            [
                r.Unavailable(r.Feature.HISTORY),
                r.Unavailable(r.Feature.ACCOUNTS),
                # Rights first: the list of bans is for operators, whatever the server runs with.
                r.OperatorsOnly("list_bans"),
                r.Usage("me", "ACTION"),
                r.Usage("msg", "NICK TEXT"),
                # What the server lacks is told before what the arguments lack.
                r.Unavailable(r.Feature.HISTORY),
            ],
        )
        kept, peer = self.login("bob")
        kept.feed([lambda: dispatch(kept, "search", "\x07", LOBBY)])
        self.assertEqual(peer.take(), [r.Usage("search", "TEXT")])

    def test_arguments(self) -> None:
        """
        Arguments are split as declared: one word each, the last takes the
        rest as typed, and one in brackets may be left out.
        """
        command = Command(("x",), "A [B] C", "", lambda *args: None, "x")
        self.assertEqual(command.split("a b  c d "), ["a", "b", " c d "])
        with self.assertRaises(BadArguments):
            command.split("a b")
        optional = Command(("y",), "A [B]", "", lambda *args: None, "y")
        self.assertEqual(optional.split("a"), ["a", None])
        self.assertEqual(Command(("z",), "", "", lambda *a: None, "z").split("ignored"), [])

    def test_table(self) -> None:
        """
        Every name is unique, and the commands usable before login are
        exactly /nick, /help, /quit and (while a password is wanted) /login.
        """
        names = [name for command in COMMANDS for name in command.names]
        self.assertEqual(len(names), len(set(names)))
        early = {c.name: c.when for c in COMMANDS if c.when is not When.LOGGED_IN}
        self.assertEqual(
            early,
            {"nick": When.ANY, "help": When.ANY, "quit": When.ANY, "login": When.PASSWORD_WANTED},
        )
        self.assertEqual(
            {c.name for c in COMMANDS if c.operator}, {"kick", "wall", "ban", "unban", "bans"}
        )

    def test_whisper_kept_for_the_absent(self) -> None:
        """
        A private message to a registered user who is away is kept, and the
        sender told; to nobody at all it is an error.
        """
        self.successResultOf(self.accounts.register("carol", "secret1"))
        session, peer = self.login("alice")
        session.feed([lambda: session.whisper("carol", "psst"), lambda: session.whisper("x", "y")])
        self.assertEqual(peer.take(), [r.Kept("carol", "psst"), NoSuchUser("x")])

    def test_register_twice(self) -> None:
        """
        Registering a registered nickname is told as the account error it is.
        """
        session, peer = self.login("alice")
        session.feed([lambda: session.register("secret1"), lambda: session.register("secret2")])
        self.assertEqual(peer.take(), [r.Registered("alice"), AlreadyRegistered("alice")])

    def test_flooding(self) -> None:
        """
        Items over the flood limit (the login took one) wait their turn, with
        one notice, and are handled at the limit's rate, in order; more than
        128 KiB of them waiting closes the session, and the rooms hear why.
        """
        service = self.make(Settings(limits=Limits(lines=Rate(1, 3))))
        watcher = Recorder()
        self.service = service
        session, peer = self.login("alice")
        enter(service.chat, "bob", watcher, LOBBY)
        watcher.take()
        peer.take()
        session.feed([lambda n=n: session.say(LOBBY, str(n)) for n in range(4)])
        self.assertEqual(peer.take(), [r.TooFast(1, 3)])
        self.assertEqual(watcher.take(), [Message(LOBBY, "alice", n) for n in "01"])
        self.clock.advance(1)
        self.assertEqual(watcher.take(), [Message(LOBBY, "alice", "2")])
        self.clock.advance(1)
        self.assertEqual(watcher.take(), [Message(LOBBY, "alice", "3")])
        self.assertIsNone(peer.goodbye)
        # No token left: a thousand waiting, over 128 KiB.
        session.feed([lambda n=n: session.say(LOBBY, str(n)) for n in range(10, 1010)])
        self.assertEqual(peer.goodbye, g.Flooding())
        self.assertEqual(watcher.take(), [])
        session.connection_lost(cleanly=True)
        self.assertEqual(watcher.take(), [Left(LOBBY, "alice", Departure(Why.FLOODING))])
        self.clock.advance(10)
        self.assertEqual(watcher.take(), [])


class ModerationTests(SessionTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.pool.make_operator("root", "secret1")
        self.operator, self.peer = self.connect()
        self.operator.choose_nickname("root")
        self.operator.give_password("secret1")
        self.peer.take()

    def test_reconfigure(self) -> None:
        """
        A reload (SIGHUP) with new operators' names takes the rights of an
        operator no longer named; the new MOTD is shown from the next login.
        """
        self.assertTrue(self.operator.operator)
        self.service.reconfigure(motd=("new MOTD",), admins=("someone",))
        self.assertFalse(self.operator.operator)
        self.assertFalse(self.service.operators)
        self.assertRaises(r.Refused, dispatch, self.operator, "wall", "hi", LOBBY)
        session, peer = self.connect()
        session.choose_nickname("carol")
        self.assertIn(r.LoggedIn(("new MOTD",)), peer.take())

    def test_kick_any_front_end(self) -> None:
        """
        An operator kicks a user of any front-end: the domain tells its
        participant why, whatever it is.
        """
        other = Recorder()
        enter(self.service.chat, "bob", other, LOBBY)
        dispatch(self.operator, "kick", "BOB  spam", LOBBY)
        self.assertEqual(other.departures, [Departure(Why.KICKED, "root", "spam")])
        self.assertEqual(self.peer.take()[-1], r.KickedOut("bob"))

    def test_kicked_session(self) -> None:
        """
        A session that is kicked is told why and closed; its rooms hear the same.
        """
        session, peer = self.login("bob")
        dispatch(self.operator, "kick", "bob", LOBBY)
        self.assertEqual(peer.departures, [Departure(Why.KICKED, "root", None)])
        self.peer.take()
        session.thrown_out(peer.departures[0])
        self.assertEqual(peer.goodbye, g.ThrownOut(Departure(Why.KICKED, "root", None)))
        # Gone at once: its nickname is free before its connection has closed.
        self.assertEqual(self.peer.take(), [Left(LOBBY, "bob", Departure(Why.KICKED, "root"))])
        self.assertFalse(self.service.chat.is_online("bob"))
        session.connection_lost(cleanly=True)
        self.assertEqual(self.peer.take(), [])

    def test_ban_online_nickname(self) -> None:
        """
        Banning an online nickname bans that nickname (not its address: the
        operator may share it) and throws it out.
        """
        _, peer = self.login("bob")
        self.peer.take()
        dispatch(self.operator, "ban", "bob 2h spam", LOBBY)
        (nick,) = self.peer.take()
        assert isinstance(nick, r.Banned)
        self.assertEqual((nick.target, nick.ban.kind), ("bob", BanKind.NICK))
        self.assertIsNone(self.bans.find(BanKind.ADDRESS, "10.0.0.1"))
        self.assertEqual(nick.ban.until, T0 + 7200)
        self.assertEqual(nick.ban.reason, "spam")
        self.assertEqual(peer.departures, [Departure(Why.BANNED, "root", "spam")])

    def test_shutdown(self) -> None:
        """
        Stopping the service tells every session, logged in or not.
        """
        _, waiting = self.connect()
        self.service.stopService()
        self.assertEqual(waiting.goodbye, g.ShuttingDown())
        self.assertEqual(self.peer.goodbye, g.ShuttingDown())


class AdmissionTests(SessionTestCase):
    def test_refusals(self) -> None:
        """
        The service turns a session away, saying why, when the server or its
        address is full or the address is banned.
        """
        service = self.make(Settings(max_clients=2, max_per_host=1))
        self.connect(service=service)
        _, same_host = self.connect(service=service)
        self.assertEqual(same_host.goodbye, g.HostFull("10.0.0.1", 1))
        self.connect("10.0.0.2", service=service)
        _, full = self.connect("10.0.0.3", service=service)
        self.assertEqual(full.goodbye, g.ServerFull(2))
        ban = self.bans.add(BanKind.ADDRESS, "10.0.0.9", None, None, "root")
        _, banned = self.connect("10.0.0.9")
        self.assertEqual(banned.goodbye, g.AddressBanned(ban))


class RecordingArchive:
    """
    A history that keeps what is recorded and reads back nothing.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Message | Action | PrivateMessage) -> None:
        self.events.append(event)

    def recent(self, room: str, count: int) -> Deferred[list[Entry]]:
        return succeed([])

    def search(self, room: str, text: str, count: int) -> Deferred[list[Entry]]:
        return succeed([])


class ArchiveTests(SessionTestCase):
    """
    The session of the user who says something records it, once: the chat
    keeps no history (a clustered chat delivers on every node, and must not
    write it once per node).
    """

    def setUp(self) -> None:
        super().setUp()
        self.archive = RecordingArchive()
        self.service = self.make(Settings(), history=self.archive)
        self.alice, _ = self.login("alice")
        _, self.bob = self.login("Bob")
        self.login("carol")

    def test_say_archived_once(self) -> None:
        """
        A public message is archived once, however many hear it.
        """
        self.alice.say("LOBBY", "hello")
        self.assertEqual(self.archive.events, [Message("lobby", "alice", "hello")])

    def test_empty_not_archived(self) -> None:
        """
        A message that is empty once cleaned is neither sent nor archived.
        """
        self.alice.say(LOBBY, "\x1b[31mhi\x07")
        self.alice.say(LOBBY, "  \x1b \t")
        self.alice.act(LOBBY, "\x07")
        self.alice.whisper("bob", "\x07 ")
        self.assertEqual(self.archive.events, [Message("lobby", "alice", "[31mhi")])

    def test_act_archived(self) -> None:
        """
        An action is archived.
        """
        self.alice.act(LOBBY, "waves")
        self.assertEqual(self.archive.events, [Action("lobby", "alice", "waves")])

    def test_whisper_archived(self) -> None:
        """
        A private message is archived; its confirmation to the sender is not.
        """
        self.alice.whisper("bob", "psst")
        self.assertEqual(self.archive.events, [PrivateMessage("alice", "Bob", "psst")])


class RightsTests(SessionTestCase):
    """
    Each privileged action checks its own right, whoever calls it: a door
    that calls the session directly cannot skip the check.
    """

    PRIVILEGED: ClassVar[dict[str, Callable[[Session], object]]] = {
        "kick": lambda s: s.kick("bob", "spam"),
        "ban": lambda s: s.ban("bob", None, "spam"),
        "unban": lambda s: s.unban("bob"),
        "list_bans": lambda s: s.list_bans(),
        "announce": lambda s: s.announce("hear ye"),
    }

    def test_every_operator_action_is_declared(self) -> None:
        """
        The actions that need an operator are exactly these, and each is a
        method of the session.
        """
        self.assertEqual(
            {action for action, rule in RULES.items() if rule.operator}, set(self.PRIVILEGED)
        )
        for action in RULES:
            self.assertTrue(callable(getattr(Session, action)), action)

    def test_privileged_calls_refused_for_non_operators(self) -> None:
        """
        Each privileged session method, called directly by a user who is no
        operator, is refused, and does nothing.
        """
        mallory, _ = self.login("mallory")
        _, bob = self.login("bob")
        for action, call in self.PRIVILEGED.items():
            with self.assertRaises(r.Refused) as caught:
                call(mallory)
            self.assertEqual(caught.exception.reply, r.OperatorsOnly(action))
        self.assertEqual(bob.departures, [])
        self.assertTrue(self.service.chat.is_online("bob"))
        self.assertEqual(self.bans.all(), [])

    def test_features_checked_on_direct_calls(self) -> None:
        """
        An operator on a server without bans is told so by the method itself.
        """
        self.pool.make_operator("root", "secret1")
        bare = self.make(Settings(admins=("root",)), bans=None)
        session, _ = self.connect(service=bare)
        session.choose_nickname("root")
        session.give_password("secret1")
        self.assertTrue(session.operator)
        with self.assertRaises(r.Refused) as caught:
            session.list_bans()
        self.assertEqual(caught.exception.reply, r.Unavailable(r.Feature.BANS))

    def test_every_command_names_a_session_method(self) -> None:
        """
        Every line command names the session method it calls, which is how
        the table knows what it needs.
        """
        for command in COMMANDS:
            self.assertTrue(callable(getattr(Session, command.action)), command.action)


class SharedForTests:
    """
    Limits shared with other servers (a cluster's), answered when the test says.
    """

    def __init__(self) -> None:
        self.asked: list[tuple[str, object, Deferred[Any]]] = []
        self.given: list[str] = []
        self.disconnected: list[object] = []

    def take(self, wanted: Sequence[tuple[str, Rate]]) -> Deferred[int | None]:
        asked: Deferred[int | None] = Deferred()
        self.asked.append(("take", [name for name, _ in wanted], asked))
        return asked

    def give_back(self, name: str, limit: Rate) -> None:
        self.given.append(name)

    def connect(self, group: str, limit: int) -> Deferred[object | None]:
        asked: Deferred[object | None] = Deferred()
        self.asked.append(("connect", (group, limit), asked))
        return asked

    def disconnect(self, counted: object) -> None:
        self.disconnected.append(counted)

    def answer(self, result: object) -> object:
        """
        Answer the first question waiting with C{result} (a failure if an
        exception): returns what was asked.
        """
        _, what, asked = self.asked.pop(0)
        if isinstance(result, Exception):
            asked.errback(result)
        else:
            asked.callback(result)
        return what


class SharedLimitTests(SessionTestCase):
    """
    The limits a server shares with others (the nodes of a cluster), asked
    after its own: a round trip, input waiting meanwhile.
    """

    def setUp(self) -> None:
        super().setUp()
        self.shared = SharedForTests()
        limits = Limits(
            failed_logins=Rate(1 / 60, 10),
            failed_logins_per_host=Rate(1 / 20, 30),
            registrations=Rate(1 / 20, 30),
        )
        self.service = self.make(Settings(limits=limits, max_per_host=3), shared=self.shared)
        self.successResultOf(self.accounts.register("alice", "secret1"))

    def asking_password(self) -> tuple[Session, RecordingPeer]:
        session, peer = self.connect()
        self.shared.answer(("token", "10.0.0.1"))
        session.choose_nickname("alice")
        peer.take()
        return session, peer

    def test_used_up_elsewhere(self) -> None:
        """
        A password check whose shared allowance the other servers used up is
        not made: the connection is closed as locked out, and this server's
        own allowance is given back (the check did not happen).
        """
        session, peer = self.asking_password()
        session.give_password("secret1")
        self.assertEqual(self.shared.answer(0), ["login:alice", "login-host:10.0.0.1"])
        self.assertEqual(peer.goodbye, g.LockedOut("10.0.0.1", "alice"))
        self.assertIsNone(session.user)
        self.assertEqual(self.service._tries_by_account["alice"].tokens, 10)

    def test_gone_while_asked(self) -> None:
        """
        A connection that closes while the shared allowances are asked makes
        no check, and what it took is given back, there and here.
        """
        session, _ = self.asking_password()
        session.give_password("secret1")
        session.connection_lost(cleanly=False)
        self.shared.answer(None)
        self.assertIsNone(session.account)
        self.assertEqual(self.shared.given, ["login:alice", "login-host:10.0.0.1"])
        self.assertEqual(self.service._tries_by_account["alice"].tokens, 10)

    def test_used_up_by_address(self) -> None:
        """
        The allowance of the address used up is said as the address's.
        """
        session, peer = self.asking_password()
        session.give_password("secret1")
        self.shared.answer(1)
        self.assertEqual(peer.goodbye, g.LockedOut("10.0.0.1", None))

    def test_right_password_given_back(self) -> None:
        """
        A check the shared allowances allowed, proving right, costs nothing
        there either; a wrong one stays taken.
        """
        session, peer = self.asking_password()
        session.give_password("wrong1")
        self.shared.answer(None)
        self.assertEqual(peer.take(), [r.WrongPassword(2), r.PasswordWanted("alice")])
        self.assertEqual(self.shared.given, [])
        session.give_password("secret1")
        self.shared.answer(None)
        self.assertEqual(session.account, "alice")
        self.assertEqual(self.shared.given, ["login:alice", "login-host:10.0.0.1"])

    def test_shared_limits_away(self) -> None:
        """
        Shared allowances that cannot be asked make no check: the user is
        told the server cannot do it now, keeps its connection and its
        tries, and is asked again.
        """
        session, peer = self.asking_password()
        session.give_password("secret1")
        self.shared.answer(StoreUnavailable("the broker is away", writing=False))
        self.assertEqual(peer.take()[0], r.StoreDown())
        self.assertIsNone(peer.goodbye)
        self.assertEqual(self.service._tries_by_account["alice"].tokens, 10)

    def test_registrations(self) -> None:
        """
        A registration the shared allowance refuses is refused, and given
        back to this server's own.
        """
        session, peer = self.connect("10.0.0.2")
        self.shared.answer(("token", "10.0.0.2"))
        session.choose_nickname("bob")
        peer.take()
        session.register("secret2")
        self.assertEqual(self.shared.answer(0), ["register:10.0.0.2"])
        self.assertEqual(peer.take(), [r.TooManyRegistrations()])
        self.assertEqual(self.service._registrations["10.0.0.2"].tokens, 30)
        session.register("secret2")
        self.shared.answer(None)
        self.assertEqual(peer.take(), [r.Registered("bob")])

    def test_connections_counted(self) -> None:
        """
        A connection is counted with the other servers' before it is
        greeted, what it sends meanwhile waiting: past --max-per-ip on all
        of them, it is turned away (and forgotten here); let in, its count
        is given back when it closes, also when it closed before the answer.
        """
        session, peer = self.connect()
        session.feed([lambda: session.choose_nickname("carol")])
        self.assertEqual(peer.take(), [])
        self.assertEqual(self.shared.answer(("token", "10.0.0.1")), ("10.0.0.1", 3))
        self.assertEqual(
            peer.take()[:3],
            [r.Greeting("chat"), r.NicknameWanted(), Welcome("carol", ("carol",))],
        )
        _, refused = self.connect()
        self.shared.answer(None)
        self.assertEqual(refused.goodbye, g.HostFull("10.0.0.1", 3))
        # Forgotten at once: it holds no place of its address's meanwhile.
        self.assertEqual(len(self.service.sessions), 1)
        session.quit(None)
        session.connection_lost(cleanly=True)
        self.assertEqual(self.shared.disconnected, [("token", "10.0.0.1")])
        gone, _ = self.connect()
        gone.connection_lost(cleanly=False)
        self.shared.answer(("token2", "10.0.0.1"))
        self.assertEqual(self.shared.disconnected[1:], [("token2", "10.0.0.1")])

    def test_connections_not_counted(self) -> None:
        """
        Shared counts that cannot be asked let the connection in (this
        server's own --max-per-ip still holds).
        """
        session, peer = self.connect()
        self.shared.answer(StoreUnavailable("the broker is away", writing=False))
        self.assertEqual(peer.take(), [r.Greeting("chat"), r.NicknameWanted()])
        session.connection_lost(cleanly=True)
        self.assertEqual(self.shared.disconnected, [])
