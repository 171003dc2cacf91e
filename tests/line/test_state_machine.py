"""
A model of the chat, and Hypothesis driving many clients against the real server and the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from twisted.trial.unittest import SynchronousTestCase

from chat.core.text import clean, nickname_problem
from tests.helpers import Client, connections, make_service, memory

NAMES = ["alice", "Alice", "bob", "BOB", "carol", "dave", "erin", "1nvalid", "two words"]
ROOMS = ["lobby", "games", "Games", "dev"]
TEXTS = ["hello", "\x1b[31mred\x07", "héllo 👋", " indented", "a\tb", "\x9b2J", "\u202eevil", "x"]


@dataclass
class Person:
    """
    What the model expects of one connection.
    """

    client: Client
    nickname: str | None = None
    room: str = "lobby"


def key(name: str) -> str:
    return name.lower()


class ChatMachine(RuleBasedStateMachine):
    people = Bundle("people")

    def __init__(self) -> None:
        super().__init__()
        self.service = make_service()
        self.everyone: list[Person] = []
        self.room_names: dict[str, str] = {"lobby": "lobby"}

    # Helpers.

    def online(self) -> list[Person]:
        return [p for p in self.everyone if p.nickname is not None]

    def drain(self) -> None:
        for person in self.everyone:
            person.client.lines()

    def expect(self, lines: dict[int, list[str]]) -> None:
        """
        Each person got exactly the lines listed for it (by id), everyone else nothing.
        """
        for person in self.everyone:
            assert person.client.lines() == lines.get(id(person), []), (
                person.nickname,
                lines.get(id(person)),
            )

    # Rules.

    @rule(target=people)
    def connect(self) -> Person:
        person = Person(Client(self.service))
        person.client.lines()
        self.everyone.append(person)
        return person

    @rule(person=people, name=st.sampled_from(NAMES))
    def login(self, person: Person, name: str) -> None:
        if person not in self.everyone or person.nickname is not None:
            return
        self.drain()
        person.client.send(name)
        taken = any(key(p.nickname or "") == key(name) for p in self.online())
        if nickname_problem(name) is None and not taken:
            others = [p for p in self.online() if p.room == "lobby"]
            person.nickname = name
            person.room = "lobby"
            got = person.client.lines()
            assert got[0].startswith(f"*** You are {name}."), got
            self.expect_others({id(p): [f"*** {name} has joined"] for p in others}, person)
        else:
            assert person.client.lines()[-1].startswith("*** Choose a nickname"), name

    def expect_others(self, lines: dict[int, list[str]], skip: Person) -> None:
        for person in self.everyone:
            if person is not skip:
                assert person.client.lines() == lines.get(id(person), []), person.nickname

    @rule(person=people, text=st.sampled_from(TEXTS))
    def say(self, person: Person, text: str) -> None:
        if person not in self.everyone or person.nickname is None:
            return
        self.drain()
        person.client.send(text)
        line = f"<{person.nickname}> {clean(text)}"
        self.expect(
            {id(p): [line] for p in self.online() if p.room == person.room and p is not person}
        )

    @rule(person=people, to=people, text=st.sampled_from(TEXTS))
    def whisper(self, person: Person, to: Person, text: str) -> None:
        if person not in self.everyone or person.nickname is None:
            return
        if to not in self.everyone or to.nickname is None or to is person:
            return
        self.drain()
        person.client.send(f"/msg {to.nickname} {text}")
        cleaned = clean(text)
        self.expect(
            {
                id(to): [f"*{person.nickname}* {cleaned}"],
                id(person): [f"-> *{to.nickname}* {cleaned}"],
            }
        )

    @rule(person=people, room=st.sampled_from(ROOMS))
    def join(self, person: Person, room: str) -> None:
        if person not in self.everyone or person.nickname is None:
            return
        self.drain()
        person.client.send(f"/join {room}")
        if key(room) == key(person.room):
            self.expect({id(person): [f"!!! You are already in {person.room}."]})
            return
        name = self.room_names.get(key(room), room)
        old = [p for p in self.online() if p.room == person.room and p is not person]
        new = [p for p in self.online() if key(p.room) == key(room)]
        self.room_names[key(room)] = name
        person.room = name
        expected = {id(p): [f"*** {person.nickname} has gone to {name}"] for p in old}
        expected.update({id(p): [f"*** {person.nickname} has joined"] for p in new})
        got = person.client.lines()
        assert got[0].startswith(f"*** You are in {name}."), got
        self.expect_others(expected, person)
        self.forget_empty_rooms()

    @rule(person=people, name=st.sampled_from(NAMES))
    def rename(self, person: Person, name: str) -> None:
        if person not in self.everyone or person.nickname is None:
            return
        self.drain()
        person.client.send(f"/nick {name}")
        taken = any(key(p.nickname or "") == key(name) for p in self.online() if p is not person)
        if nickname_problem(name) is None and not taken and name != person.nickname:
            line = f"*** {person.nickname} is now known as {name}"
            mates = [p for p in self.online() if p.room == person.room]
            person.nickname = name
            self.expect({id(p): [line] for p in mates})
        else:
            got = person.client.lines()
            assert len(got) == 1 and got[0].startswith("!!! "), got

    @rule(person=consumes(people), politely=st.booleans())
    def leave(self, person: Person, politely: bool) -> None:
        if person not in self.everyone:
            return
        self.drain()
        if politely:
            person.client.send("/quit bye")
        person.client.hang_up()
        self.everyone.remove(person)
        if person.nickname is not None:
            reason = "bye" if politely else "connection closed"
            line = f"*** {person.nickname} has left ({reason})"
            self.expect({id(p): [line] for p in self.online() if p.room == person.room})
        self.forget_empty_rooms()

    def forget_empty_rooms(self) -> None:
        occupied = {key(p.room) for p in self.online()} | {"lobby"}
        self.room_names = {k: v for k, v in self.room_names.items() if k in occupied}

    # Invariants, after every step.

    @invariant()
    def registry_matches_connections(self) -> None:
        chat = memory(self.service)
        assert sorted(chat.online(), key=key) == sorted(
            (p.nickname for p in self.online() if p.nickname), key=key
        )
        assert connections(self.service) == {p.client.connection for p in self.everyone}
        for person in self.online():
            user = person.client.connection.session.user
            assert user is not None and user.nickname == person.nickname
            assert [r.name for r in user.rooms] == [person.room]
        assert {key(r.name) for r in chat._rooms.values()} == set(self.room_names)

    @invariant()
    def no_control_characters_delivered(self) -> None:
        for person in self.everyone:
            for line in person.client.raw().decode("utf-8").split("\r\n"):
                assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in line), line


class StateMachineTests(SynchronousTestCase):
    def test_many_clients(self) -> None:
        """
        Random sequences of connects, logins, renames, joins, messages,
        whispers, quits and drops keep the registry equal to the live
        connections, deliver each message to exactly the users it should
        reach, and never deliver a control character.
        """
        run_state_machine_as_test(
            ChatMachine,
            settings=settings(
                max_examples=60,
                stateful_step_count=40,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
