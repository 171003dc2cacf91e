"""
Tests for L{chat.wire}: the text of every line the server sends.
"""

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chat import wire
from chat.domain import RoomInfo
from chat.errors import (
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
from chat.events import (
    Action,
    Entered,
    Event,
    Joined,
    Left,
    Message,
    Parted,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    TopicChanged,
    Welcome,
)


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
            (Joined("lobby", "alice"), "*** alice has joined"),
            (Parted("lobby", "alice", None), "*** alice has left the room"),
            (Parted("lobby", "alice", "games"), "*** alice has gone to games"),
            (Left("lobby", "alice", None), "*** alice has left"),
            (Left("lobby", "alice", "gone fishing"), "*** alice has left (gone fishing)"),
            (Renamed("alice", "alicia"), "*** alice is now known as alicia"),
            (TopicChanged("lobby", "alice", "chess"), "*** alice set the topic: chess"),
            (TopicChanged("lobby", "alice", None), "*** alice cleared the topic"),
            (Welcome("bob", ("alice", "bob")), "*** You are bob. 2 users online: alice, bob"),
            (Welcome("bob", ("bob",)), "*** You are bob. 1 user online: bob"),
            (Entered("games", None, ("bob",)), "*** You are in games. 1 user here: bob"),
            (
                Entered("games", "chess", ("al", "bob")),
                "*** You are in games. 2 users here: al, bob\r\n*** Topic: chess",
            ),
        ]
        for event, line in cases:
            self.assertEqual(wire.format_event(event), line)

    def test_not_an_event(self) -> None:
        """
        Formatting something that is not an event is a programming error.
        """
        not_an_event: Any = object()
        self.assertRaises(TypeError, wire.format_event, not_an_event)

    def test_notice_and_error_prefixes(self) -> None:
        """
        Notices and errors carry their distinct prefixes and the CRLF terminator.
        """
        self.assertEqual(wire.notice("hi"), b"*** hi\r\n")
        self.assertEqual(wire.error("no"), b"!!! no\r\n")
        self.assertEqual(wire.encode("é"), b"\xc3\xa9\r\n")

    def test_describe_errors(self) -> None:
        """
        Each domain error has a sentence; a long rejected nickname is shortened.
        """
        self.assertEqual(wire.describe(NicknameTaken("bob")), "The nickname bob is taken.")
        self.assertEqual(wire.describe(NoSuchUser("ghost")), "No such user: ghost")
        self.assertEqual(wire.describe(NotLoggedIn()), "You are not logged in.")
        self.assertEqual(
            wire.describe(InvalidNickname("x" * 40, "it is too long")),
            f"Invalid nickname '{'x' * 29}...': it is too long.",
        )
        self.assertEqual(
            wire.describe(InvalidRoomName("a b", "it may contain only letters")),
            "Invalid room name 'a b': it may contain only letters.",
        )
        self.assertEqual(wire.describe(NoSuchRoom("attic")), "No such room: attic")
        self.assertEqual(wire.describe(NotInRoom("attic")), "You are not in attic.")
        self.assertEqual(wire.describe(AlreadyInRoom("lobby")), "You are already in lobby.")
        self.assertEqual(wire.describe(ChatError("odd")), "Refused: odd")

    def test_lists(self) -> None:
        """
        User lists, room lists and topics read as documented.
        """
        self.assertEqual(wire.who(["a", "b"], "in lobby"), "2 users in lobby: a, b")
        self.assertEqual(wire.who(["a"]), "1 user online: a")
        self.assertEqual(
            wire.rooms([RoomInfo("games", 1, "chess"), RoomInfo("lobby", 3, None)]),
            ["2 rooms:", "  games (1): chess", "  lobby (3)"],
        )
        self.assertEqual(wire.rooms([RoomInfo("lobby", 0, None)]), ["1 room:", "  lobby (0)"])
        self.assertEqual(wire.topic("lobby", "chess"), "Topic of lobby: chess")
        self.assertEqual(wire.topic("lobby", None), "lobby has no topic.")


class EncoderTests(SynchronousTestCase):
    def test_same_event_same_bytes(self) -> None:
        """
        The same event object is encoded once: later calls return the same bytes object.
        """
        encode = wire.Encoder()
        event = Message("lobby", "alice", "hello")
        first = encode(event)
        self.assertEqual(first, b"<alice> hello\r\n")
        self.assertIs(encode(event), first)

    def test_equal_but_distinct_events(self) -> None:
        """
        A different event is encoded afresh, even when it is equal to the last one.
        """
        encode = wire.Encoder()
        first = encode(Message("lobby", "alice", "hello"))
        second = encode(Action("lobby", "alice", "hello"))
        self.assertEqual(second, b"* alice hello\r\n")
        self.assertEqual(encode(Message("lobby", "alice", "hello")), first)
