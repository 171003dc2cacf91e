"""
The shared scenarios (L{tests.scenarios}) over the line front-end.
"""

from __future__ import annotations

import re

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import Client, make_service
from tests.scenarios import Heard, Scenarios

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

    def rename(self, nickname: str) -> None:
        self.client.send(f"/nick {nickname}")

    def set_topic(self, text: str) -> None:
        self.client.send(f"/topic {text}")

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


class LineScenarioTests(Scenarios, SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service()

    def arrive(self, nickname: str) -> LinePerson:
        return LinePerson(Client(self.service, nickname))
