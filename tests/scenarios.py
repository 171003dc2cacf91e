"""
Conversations every door must carry the same way, written once, and the
people of each door who act them out.

A test case mixes in L{Scenarios} and says how to L{Scenarios.arrive} as a
person of its door; a L{Person} does what a user does and reports what it
heard as plain tuples, so the same scenario checks the line door, the IRC
door and mixed rooms of both, over any chat (L{tests.test_scenarios}).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import Client, IRCUser

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
("renamed", old, new), ("topic", room, nickname, topic), and ("refused",)
for any error the person was told.
"""


class Person(Protocol):
    """
    One logged-in user of some front-end, in the lobby.
    """

    def say(self, text: str) -> None: ...

    def act(self, text: str) -> None: ...

    def whisper(self, nickname: str, text: str) -> None: ...

    def join(self, room: str) -> None:
        """
        Go to C{room}, leaving the one it is in.
        """

    def try_join(self, room: str, key: str | None = None) -> None:
        """
        Go into C{room} with C{key}, which may be refused (a line user moves
        there, an IRC user joins it besides the room it is in).
        """

    def join_and_say(self, room: str, text: str) -> None:
        """
        Go to C{room} and say C{text} there, both in one packet (as a script does).
        """

    def rename(self, nickname: str) -> None: ...

    def set_topic(self, text: str) -> None: ...

    def set_modes(self, changes: str) -> None:
        """
        Change the modes of the room it is in (C{+k sesame}).
        """

    def invite(self, nickname: str) -> None:
        """
        Invite C{nickname} into the room it is in.
        """

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
        leaves with what reason. The lobby's topic is the server operators'
        alone: a user's is refused, and nobody hears of it.
        """
        alice = self.arrive("alice")
        bob = self.arrive("bob")
        self.assertEqual(alice.heard(), [("joined", "lobby", "bob")])
        bob.set_topic("chess at 8")
        self.assertEqual(bob.heard(), [("refused",)])
        self.assertEqual(alice.heard(), [])
        bob.join("den")
        alice.join("den")
        self.assertEqual(bob.heard(), [("joined", "den", "alice")])
        alice.heard()
        bob.rename("robert")
        bob.set_topic("chess at 8")
        bob.quit("bbl")
        self.assertEqual(
            alice.heard(),
            [
                ("renamed", "bob", "robert"),
                ("topic", "den", "robert", "chess at 8"),
                ("left", "den", "robert", "bbl"),
            ],
        )

    def test_taken_nickname_refused(self) -> None:
        """
        A rename to a nickname somebody has (in another case) is refused and
        changes nothing; the next rename goes through.
        """
        alice, bob = self.arrive("alice"), self.arrive("bob")
        alice.heard()
        bob.rename("ALICE")
        self.assertEqual(bob.heard(), [("refused",)])
        self.assertEqual(alice.heard(), [])
        bob.rename("robert")
        self.assertEqual(alice.heard(), [("renamed", "bob", "robert")])

    def test_said_right_after_joining(self) -> None:
        """
        A line said in the same packet as the move to a room is said in the
        new room, after the arrival.
        """
        alice, bob, carol = self.arrive("alice"), self.arrive("bob"), self.arrive("carol")
        carol.join("games")
        alice.heard()
        bob.heard()
        carol.heard()
        bob.join_and_say("games", "hi all")
        self.assertEqual(
            carol.heard(), [("joined", "games", "bob"), ("message", "games", "bob", "hi all")]
        )
        self.assertEqual(alice.heard(), [("parted", "lobby", "bob")])

    def test_keyed_room(self) -> None:
        """
        A room with a key takes only who gives it; a refused try is told
        to the one who tried, and the room hears nothing of it.
        """
        alice, bob = self.arrive("alice"), self.arrive("bob")
        alice.join("club")
        alice.set_modes("+k sesame")
        alice.heard()
        bob.heard()
        bob.try_join("club")
        self.assertIn(("refused",), bob.heard())
        self.assertEqual(alice.heard(), [])
        bob.try_join("club", "sesame")
        self.assertEqual(alice.heard(), [("joined", "club", "bob")])

    def test_invitation_is_the_persons(self) -> None:
        """
        An invitation into an invite-only, keyed room lets in the person
        invited, under a new nickname too, and not whoever takes its old one.
        """
        alice, bob = self.arrive("alice"), self.arrive("bob")
        alice.join("club")
        alice.set_modes("+ik secret")
        alice.invite("bob")
        bob.rename("robert")
        mallory = self.arrive("bob")
        alice.heard()
        bob.heard()
        mallory.try_join("club")
        self.assertIn(("refused",), mallory.heard())
        self.assertEqual(alice.heard(), [])
        bob.try_join("club")
        self.assertEqual(alice.heard(), [("joined", "club", "robert")])


_HEARD = [
    (re.compile(r"<(\S+)> (.*)"), lambda room, m: ("message", room, m[1], m[2])),
    (re.compile(r"\* (\S+) (.*)"), lambda room, m: ("action", room, m[1], m[2])),
    (re.compile(r"\*([^*\s]+)\* (.*)"), lambda room, m: ("private", m[1], m[2])),
    (re.compile(r"\*\*\* (\S+) has joined"), lambda room, m: ("joined", room, m[1])),
    (
        re.compile(r"\*\*\* (\S+) has (?:left the room|gone to \S+)"),
        lambda room, m: ("parted", room, m[1]),
    ),
    (
        re.compile(r"\*\*\* (\S+) has left(?: \((.*)\))?"),
        lambda room, m: ("left", room, m[1], m[2] or ""),
    ),
    (re.compile(r"\*\*\* (\S+) is now known as (\S+)"), lambda room, m: ("renamed", m[1], m[2])),
    (re.compile(r"\*\*\* (\S+) set the topic: (.*)"), lambda room, m: ("topic", room, m[1], m[2])),
    (re.compile(r"!!! .*"), lambda room, m: ("refused",)),
]


class LinePerson:
    """
    A netcat user: types lines, reads lines.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self.room = "lobby"

    def say(self, text: str) -> None:
        self.client.send(text)

    def act(self, text: str) -> None:
        self.client.send(f"/me {text}")

    def whisper(self, nickname: str, text: str) -> None:
        self.client.send(f"/msg {nickname} {text}")

    def join(self, room: str) -> None:
        self.client.send(f"/join {room}")
        self.room = room

    def try_join(self, room: str, key: str | None = None) -> None:
        self.client.send(f"/join {room} {key or ''}".rstrip())

    def join_and_say(self, room: str, text: str) -> None:
        self.client.paste(f"/join {room}", text)
        self.room = room

    def rename(self, nickname: str) -> None:
        self.client.send(f"/nick {nickname}")

    def set_topic(self, text: str) -> None:
        self.client.send(f"/topic {text}")

    def set_modes(self, changes: str) -> None:
        self.client.send(f"/mode {changes}")

    def invite(self, nickname: str) -> None:
        self.client.send(f"/invite {nickname}")

    def quit(self, reason: str) -> None:
        self.client.send(f"/quit {reason}")
        self.client.hang_up()

    def heard(self) -> list[Heard]:
        heard = []
        for line in self.client.lines():
            for pattern, read in _HEARD:
                match = pattern.fullmatch(line)
                if match is not None:
                    heard.append(read(self.room, match))
                    break
        return heard


class IRCPerson:
    """
    The shared scenarios' person, speaking IRC.
    """

    def __init__(self, user: IRCUser) -> None:
        self.user = user
        self.room = "lobby"
        user.send("JOIN #lobby")

    def say(self, text: str) -> None:
        self.user.send(f"PRIVMSG #{self.room} :{text}")

    def act(self, text: str) -> None:
        self.user.send(f"PRIVMSG #{self.room} :\x01ACTION {text}\x01")

    def whisper(self, nickname: str, text: str) -> None:
        self.user.send(f"PRIVMSG {nickname} :{text}")

    def join(self, room: str) -> None:
        # The scenarios are written for one room at a time, as the line dialect has.
        self.user.send(f"PART #{self.room}", f"JOIN #{room}")
        self.room = room

    def try_join(self, room: str, key: str | None = None) -> None:
        self.user.send(f"JOIN #{room} {key or ''}".rstrip())

    def join_and_say(self, room: str, text: str) -> None:
        self.user.send_at_once(f"PART #{self.room}", f"JOIN #{room}", f"PRIVMSG #{room} :{text}")
        self.room = room

    def rename(self, nickname: str) -> None:
        self.user.send(f"NICK {nickname}")

    def set_topic(self, text: str) -> None:
        self.user.send(f"TOPIC #{self.room} :{text}")

    def set_modes(self, changes: str) -> None:
        self.user.send(f"MODE #{self.room} {changes}")

    def invite(self, nickname: str) -> None:
        self.user.send(f"INVITE {nickname} #{self.room}")

    def quit(self, reason: str) -> None:
        self.user.send(f"QUIT :{reason}")
        self.user.protocol.connectionLost()

    def heard(self) -> list[Heard]:
        heard: list[Heard] = []
        for source, verb, *params in self.user.messages():
            nick = source.split("!")[0]
            if verb == "PRIVMSG" and params[0].startswith("#"):
                text = params[1]
                if text.startswith("\x01ACTION "):
                    heard.append(("action", params[0][1:], nick, text[8:-1]))
                else:
                    heard.append(("message", params[0][1:], nick, text))
            elif verb == "PRIVMSG":
                heard.append(("private", nick, params[1]))
            elif verb == "JOIN" and "!" in source and nick != self._me():
                heard.append(("joined", params[0][1:], nick))
            elif verb == "PART" and nick != self._me():
                # Its own PART, like its own JOIN, is the echo of what it did.
                heard.append(("parted", params[0][1:], nick))
            elif verb == "QUIT":
                heard.append(("left", self.room, nick, params[0]))
            elif verb == "NICK":
                heard.append(("renamed", nick, params[0]))
            elif verb == "TOPIC":
                heard.append(("topic", params[0][1:], nick, params[1]))
            elif verb[:1] in "45" and verb.isdigit():
                heard.append(("refused",))
        return heard

    def _me(self) -> str:
        user = self.user.connection.session.user
        return user.nickname if user is not None else ""


class Pumped:
    """
    A person of a chat that decides claims a turn later (L{tests.later}):
    after each thing it does, the clock turns until they are decided.
    """

    def __init__(self, person: Person, clock: Clock) -> None:
        self.person = person
        self.clock = clock
        self.pump()

    def pump(self) -> None:
        self.clock.advance(0)

    def say(self, text: str) -> None:
        self.person.say(text)
        self.pump()

    def act(self, text: str) -> None:
        self.person.act(text)
        self.pump()

    def whisper(self, nickname: str, text: str) -> None:
        self.person.whisper(nickname, text)
        self.pump()

    def join(self, room: str) -> None:
        self.person.join(room)
        self.pump()

    def rename(self, nickname: str) -> None:
        self.person.rename(nickname)
        self.pump()

    def set_topic(self, text: str) -> None:
        self.person.set_topic(text)
        self.pump()

    def try_join(self, room: str, key: str | None = None) -> None:
        self.person.try_join(room, key)
        self.pump()

    def join_and_say(self, room: str, text: str) -> None:
        self.person.join_and_say(room, text)
        self.pump()

    def set_modes(self, changes: str) -> None:
        self.person.set_modes(changes)
        self.pump()

    def invite(self, nickname: str) -> None:
        self.person.invite(nickname)
        self.pump()

    def quit(self, reason: str) -> None:
        self.person.quit(reason)
        self.pump()

    def heard(self) -> list[Heard]:
        return self.person.heard()
