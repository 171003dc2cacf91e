"""
Tests for L{chat.wire}: the text of every line the server sends.
"""

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chat import wire
from chat.errors import ChatError, InvalidNickname, NicknameTaken, NoSuchUser, NotLoggedIn
from chat.events import (
    Action,
    Event,
    Joined,
    Left,
    Message,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    Welcome,
)


class FormatTests(SynchronousTestCase):
    def test_every_event(self) -> None:
        """
        Each event has its documented line.
        """
        cases: list[tuple[Event, str]] = [
            (Message("alice", "hello"), "<alice> hello"),
            (Action("alice", "waves"), "* alice waves"),
            (PrivateMessage("alice", "bob", "hi"), "*alice* hi"),
            (PrivateMessageSent("alice", "bob", "hi"), "-> *bob* hi"),
            (Joined("alice"), "*** alice has joined"),
            (Left("alice", None), "*** alice has left"),
            (Left("alice", "gone fishing"), "*** alice has left (gone fishing)"),
            (Renamed("alice", "alicia"), "*** alice is now known as alicia"),
            (Welcome("bob", ("alice", "bob")), "*** You are bob. 2 users online: alice, bob"),
            (Welcome("bob", ("bob",)), "*** You are bob. 1 user online: bob"),
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
        self.assertEqual(wire.describe(ChatError("odd")), "Refused: odd")


class EncoderTests(SynchronousTestCase):
    def test_same_event_same_bytes(self) -> None:
        """
        The same event object is encoded once: later calls return the same bytes object.
        """
        encode = wire.Encoder()
        event = Message("alice", "hello")
        first = encode(event)
        self.assertEqual(first, b"<alice> hello\r\n")
        self.assertIs(encode(event), first)

    def test_equal_but_distinct_events(self) -> None:
        """
        A different event is encoded afresh, even when it is equal to the last one.
        """
        encode = wire.Encoder()
        first = encode(Message("alice", "hello"))
        second = encode(Action("alice", "hello"))
        self.assertEqual(second, b"* alice hello\r\n")
        self.assertEqual(encode(Message("alice", "hello")), first)
