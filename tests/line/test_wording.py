"""
Tests for L{chat.line.wording}: the text of every line the server sends.
"""

from typing import Any, get_args

from twisted.trial.unittest import SynchronousTestCase

from chat.core import goodbyes as g
from chat.core import replies as r
from chat.core.errors import (
    AlreadyInRoom,
    ChatError,
    InvalidNickname,
    InvalidRoomName,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotLoggedIn,
)
from chat.core.events import (
    QUIT,
    Action,
    Ban,
    BanKind,
    Departure,
    Entered,
    Event,
    Joined,
    Left,
    Message,
    Parted,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    RoomInfo,
    TopicChanged,
    Welcome,
    Why,
)
from chat.core.text import Problem
from chat.line import wording
from tests.samples import samples


class FormatTests(SynchronousTestCase):
    def test_every_event(self) -> None:
        """
        Each event has its documented line.
        """
        cases: list[tuple[Event, str]] = [
            (Message("lobby", "alice", "hello"), "<alice> hello"),
            (Action("lobby", "alice", "waves"), "* alice waves"),
            (PrivateMessage("alice", "bob", "hi"), "*alice* hi"),
            (PrivateMessageSent("alice", "bob", "hi"), "-> *bob* hi"),
            (
                PrivateMessageSent("alice", "bob", "hi", "lunch"),
                "-> *bob* hi\r\n*** bob is away: lunch",
            ),
            (Joined("lobby", "alice"), "*** alice has joined"),
            (Parted("lobby", "alice", None), "*** alice has left the room"),
            (Parted("lobby", "alice", "games"), "*** alice has gone to games"),
            (Left("lobby", "alice", QUIT), "*** alice has left"),
            (
                Left("lobby", "alice", Departure(text="gone fishing")),
                "*** alice has left (gone fishing)",
            ),
            (Renamed("alice", "alicia"), "*** alice is now known as alicia"),
            (TopicChanged("lobby", "alice", "chess"), "*** alice set the topic: chess"),
            (TopicChanged("lobby", "alice", None), "*** alice cleared the topic"),
            (Welcome("bob", ("alice", "bob")), "*** You are bob. 2 users online: alice, bob"),
            (Welcome("bob", ("bob",)), "*** You are bob. 1 user online: bob"),
            (Entered("games", "bob", None, ("bob",)), "*** You are in games. 1 user here: bob"),
            (
                Entered("games", "al", "chess", ("al", "bob")),
                "*** You are in games. 2 users here: al, bob\r\n*** Topic: chess",
            ),
        ]
        for event, line in cases:
            self.assertEqual(wording.format_event(event), line)

    def test_not_an_event(self) -> None:
        """
        Formatting something that is not an event is a programming error.
        """
        not_an_event: Any = object()
        self.assertRaises(TypeError, wording.format_event, not_an_event)

    def test_notice_and_error_prefixes(self) -> None:
        """
        Notices and errors carry their distinct prefixes and the CRLF terminator.
        """
        self.assertEqual(wording.notice("hi"), b"*** hi\r\n")
        self.assertEqual(wording.error("no"), b"!!! no\r\n")
        self.assertEqual(wording.encode("é"), b"\xc3\xa9\r\n")

    def test_describe_errors(self) -> None:
        """
        Each domain error has a sentence; a long rejected nickname is shortened.
        """
        self.assertEqual(wording.describe(NicknameTaken("bob")), "The nickname bob is taken.")
        self.assertEqual(wording.describe(NoSuchUser("ghost")), "No such user: ghost")
        self.assertEqual(wording.describe(NotLoggedIn()), "You are not logged in.")
        self.assertEqual(
            wording.describe(InvalidNickname("x" * 40, Problem.TOO_LONG)),
            f"Invalid nickname '{'x' * 29}...': it is longer than 16 characters.",
        )
        self.assertEqual(
            wording.describe(InvalidRoomName("a" * 40, Problem.TOO_LONG)),
            f"Invalid room name '{'a' * 29}...': it is longer than 32 characters.",
        )
        self.assertEqual(
            [wording.describe(InvalidRoomName("a b", problem)) for problem in Problem],
            [
                "Invalid room name 'a b': it is empty.",
                "Invalid room name 'a b': it is shorter than 32 characters.",
                "Invalid room name 'a b': it is longer than 32 characters.",
                "Invalid room name 'a b': it must start with a letter.",
                "Invalid room name 'a b': it may contain only ASCII letters, digits, '_' and '-'.",
                "Invalid room name 'a b': it is already yours.",
            ],
        )
        self.assertEqual(
            [wording.reply(r.BadNewPassword(p)) for p in (Problem.TOO_SHORT, Problem.TOO_LONG)],
            [
                b"!!! Choose another password: it is shorter than 6 characters.\r\n",
                b"!!! Choose another password: it is longer than 200 characters.\r\n",
            ],
        )
        self.assertEqual(wording.describe(NoSuchRoom("attic")), "No such room: attic")
        self.assertEqual(wording.describe(NotInRoom("attic")), "You are not in attic.")
        self.assertEqual(wording.describe(AlreadyInRoom("lobby")), "You are already in lobby.")
        self.assertEqual(wording.describe(ChatError("odd")), "Refused: odd")

    def test_lists(self) -> None:
        """
        User lists, room lists and topics read as documented.
        """
        self.assertEqual(wording.who(["a", "b"], "in lobby"), "2 users in lobby: a, b")
        self.assertEqual(wording.who(["a"]), "1 user online: a")
        self.assertEqual(
            wording.rooms([RoomInfo("games", 1, "chess"), RoomInfo("lobby", 3, None)]),
            ["2 rooms:", "  games (1): chess", "  lobby (3)"],
        )
        self.assertEqual(wording.rooms([RoomInfo("lobby", 0, None)]), ["1 room:", "  lobby (0)"])
        self.assertEqual(wording.topic("lobby", "chess"), "Topic of lobby: chess")
        self.assertEqual(wording.topic("lobby", None), "lobby has no topic.")


class EncoderTests(SynchronousTestCase):
    def test_same_event_same_bytes(self) -> None:
        """
        The same event object is encoded once: later calls return the same bytes object.
        """
        encode = wording.Encoder()
        event = Message("lobby", "alice", "hello")
        first = encode(event)
        self.assertEqual(first, b"<alice> hello\r\n")
        self.assertIs(encode(event), first)

    def test_equal_but_distinct_events(self) -> None:
        """
        A different event is encoded afresh, even when it is equal to the last one.
        """
        encode = wording.Encoder()
        first = encode(Message("lobby", "alice", "hello"))
        second = encode(Action("lobby", "alice", "hello"))
        self.assertEqual(second, b"* alice hello\r\n")
        self.assertEqual(encode(Message("lobby", "alice", "hello")), first)


class ReplyTests(SynchronousTestCase):
    def test_every_reply_is_worded(self) -> None:
        """
        Every kind of reply has its wording: whole lines, each a notice, an
        error, a stored message (in a block of them) or the echo of a kept
        private message.
        """
        kinds = {kind for kind in get_args(r.Reply) if kind is not ChatError}
        self.assertEqual({type(reply) for reply in samples()} - {NoSuchUser}, kinds)
        for reply in samples():
            data = wording.reply(reply)
            if isinstance(reply, r.ReadMarker):
                # For clients that show what is unread: a line user read what it was sent.
                self.assertEqual(data, b"")
                continue
            self.assertTrue(data.endswith(b"\r\n"), reply)
            for line in data.decode().split("\r\n")[:-1]:
                self.assertRegex(line, r"^(\*\*\* |!!! |\[1970-01-01 00:00\] |-> \*bob\* )", reply)

    def test_refusals_are_errors(self) -> None:
        """
        What refuses or ends a connection against the user's wish reads as an
        error; what the user asked for, and its own goodbye, as a notice.
        """
        self.assertTrue(wording.reply(g.ServerFull(10)).startswith(b"!!! "))
        self.assertTrue(wording.reply(g.ThrownOut(Departure(Why.BANNED, "op"))).startswith(b"!!! "))
        self.assertTrue(wording.reply(g.Quit()).startswith(b"*** "))
        self.assertTrue(wording.reply(r.Banned("troll", samples()[5].ban)).startswith(b"*** "))  # type: ignore[union-attr]

    def test_ban_past_time_t(self) -> None:
        """
        A ban stored with an end past what time_t holds (before durations were
        bounded) is still shown, not an OverflowError.
        """
        far = Ban(BanKind.ADDRESS, "127.0.0.34", 1e20, None, "root", 0.0)
        self.assertEqual(wording.ban(far), " until the far future")
        self.assertEqual(
            wording.reply(g.AddressBanned(far)),
            b"!!! This address is banned until the far future. Goodbye.\r\n",
        )

    def test_whois(self) -> None:
        """
        Who someone is: the rooms it is in, and whether it is an operator.
        """
        self.assertEqual(
            [wording.reply(reply) for reply in samples() if isinstance(reply, r.Whois)],
            [b"*** bob is in lobby, games, an operator.\r\n", b"*** carol is in no room.\r\n"],
        )

    def test_empty_blocks(self) -> None:
        """
        History on entering a room and kept messages show nothing when there
        are none; an explicit /history or /search says there are none.
        """
        self.assertEqual(wording.reply(r.RecentHistory("lobby", [])), b"")
        self.assertEqual(wording.reply(r.KeptMessages([])), b"")
        self.assertEqual(
            wording.reply(r.LastMessages("den", 5, [])), b"*** No messages in den yet.\r\n"
        )
        self.assertEqual(
            wording.reply(r.Found("den", "x", [])), b"*** No messages in den match 'x'.\r\n"
        )

    def test_not_a_reply(self) -> None:
        """
        Something that is not a reply is a bug, said loudly.
        """
        self.assertRaises(TypeError, wording.reply, object())

    def test_departures(self) -> None:
        """
        Each way of leaving reads as the room is told it.
        """
        self.assertEqual(
            [
                wording.format_event(Left("lobby", "bob", departure))
                for departure in (
                    QUIT,
                    Departure(text="bbl"),
                    Departure(Why.CLOSED),
                    Departure(Why.LOST),
                    Departure(Why.KICKED, "root"),
                    Departure(Why.BANNED, "root", "spam"),
                    Departure(Why.FLOODING),
                    Departure(Why.TOO_SLOW),
                )
            ],
            [
                "*** bob has left",
                "*** bob has left (bbl)",
                "*** bob has left (connection closed)",
                "*** bob has left (connection lost)",
                "*** bob has left (kicked by root)",
                "*** bob has left (banned by root: spam)",
                "*** bob has left (flooding)",
                "*** bob has left (too slow to keep up)",
            ],
        )
