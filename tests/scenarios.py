"""
Conversations every front-end must carry the same way, written once.

A test case mixes in L{Scenarios} and says how to L{Scenarios.arrive} as a
person of its front-end; a L{Person} does what a user does and reports what
it heard as plain tuples, so the same scenario checks the line front-end
today and the IRC front-end when it comes (and mixed rooms of both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from twisted.trial.unittest import SynchronousTestCase

# Type checkers see the test case this is mixed into; at run time it is a
# plain class, so that trial does not run the scenarios on their own.
if TYPE_CHECKING:
    _Base = SynchronousTestCase
else:
    _Base = object

Heard = tuple[str, ...]
"""
What a person heard, as one of:
("message", room, sender, text), ("action", room, sender, text),
("private", sender, text), ("joined", room, nickname),
("parted", room, nickname), ("left", room, nickname, reason or ""),
("renamed", old, new), ("topic", room, nickname, topic).
"""


class Person(Protocol):
    """
    One logged-in user of some front-end, in the lobby.
    """

    def say(self, text: str) -> None: ...

    def act(self, text: str) -> None: ...

    def whisper(self, nickname: str, text: str) -> None: ...

    def join(self, room: str) -> None: ...

    def rename(self, nickname: str) -> None: ...

    def set_topic(self, text: str) -> None: ...

    def quit(self, reason: str) -> None: ...

    def heard(self) -> list[Heard]:
        """
        What this person heard of the conversation since the last call.
        """


class Scenarios(_Base):
    """
    The conversations; a mixin for a C{SynchronousTestCase}.
    """

    def arrive(self, nickname: str) -> Person:
        """
        Log in as C{nickname} through the front-end under test, and forget
        what was heard while arriving.
        """
        raise NotImplementedError

    def test_talk_in_a_room(self) -> None:
        """
        What one says in a room the others there hear, once, from them; the
        speaker hears nothing back.
        """
        alice, bob, carol = self.arrive("alice"), self.arrive("bob"), self.arrive("carol")
        alice.heard()
        bob.heard()
        alice.say("hello  there")
        alice.act("waves")
        for other in (bob, carol):
            self.assertEqual(
                other.heard(),
                [
                    ("message", "lobby", "alice", "hello  there"),
                    ("action", "lobby", "alice", "waves"),
                ],
            )
        self.assertEqual(alice.heard(), [])

    def test_private_stays_private(self) -> None:
        """
        A private message reaches its recipient and nobody else.
        """
        alice, bob, carol = self.arrive("alice"), self.arrive("bob"), self.arrive("carol")
        alice.heard()
        bob.heard()
        alice.whisper("bob", "psst")
        self.assertEqual(bob.heard(), [("private", "alice", "psst")])
        self.assertEqual(carol.heard(), [])

    def test_rooms_are_apart(self) -> None:
        """
        Who leaves for another room is seen to go, and no longer hears the
        first room; the second room hears it come and what it says.
        """
        alice, bob, carol = self.arrive("alice"), self.arrive("bob"), self.arrive("carol")
        carol.join("games")
        alice.heard()
        bob.heard()
        bob.join("games")
        self.assertEqual(alice.heard(), [("parted", "lobby", "bob")])
        self.assertEqual(carol.heard(), [("joined", "games", "bob")])
        alice.say("anyone?")
        bob.say("gg")
        self.assertEqual(bob.heard(), [])
        self.assertEqual(carol.heard(), [("message", "games", "bob", "gg")])
        self.assertEqual(alice.heard(), [])

    def test_arrivals_renames_topics_and_departures(self) -> None:
        """
        The room hears who arrives, who renames, the topic set, and who
        leaves with what reason.
        """
        alice = self.arrive("alice")
        bob = self.arrive("bob")
        self.assertEqual(alice.heard(), [("joined", "lobby", "bob")])
        bob.rename("robert")
        bob.set_topic("chess at 8")
        bob.quit("bbl")
        self.assertEqual(
            alice.heard(),
            [
                ("renamed", "bob", "robert"),
                ("topic", "lobby", "robert", "chess at 8"),
                ("left", "lobby", "robert", "bbl"),
            ],
        )
