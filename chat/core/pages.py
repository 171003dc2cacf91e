"""
What a client asks of a conversation's past (IRCv3 C{draft/chathistory}):
a page of a room's or a private conversation's stored messages, placed by
a message it already has or by a moment.

A web page scrolls back with C{BEFORE} the oldest message it shows, and
catches up after a reconnection with C{AFTER} the newest; an IRC client
may ask for any of the five. The store answers (L{chat.store.reading}),
oldest first whatever the direction read.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Reading(enum.Enum):
    """
    Which messages a page holds, by where it is placed (its L{Point}s).
    """

    # The newest, or the newest of those after a point.
    LATEST = "LATEST"
    # The last ones before a point.
    BEFORE = "BEFORE"
    # The first ones after a point.
    AFTER = "AFTER"
    # Half before a point, the rest from it on (the message it names first).
    AROUND = "AROUND"
    # Those between two points, the ones nearest the first.
    BETWEEN = "BETWEEN"


@dataclass(frozen=True, slots=True)
class Point:
    """
    A place in a conversation: a message, by its id (L{msgid}), or a moment
    (L{time}, in seconds since the epoch, to the millisecond).
    """

    msgid: str | None = None
    time: float | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """
    A request for at most C{count} messages: C{points} are none (the
    newest) or one for L{Reading.LATEST}, two for L{Reading.BETWEEN}, one
    for the others.
    """

    reading: Reading
    points: tuple[Point, ...]
    count: int


@dataclass(frozen=True, slots=True)
class Conversation:
    """
    A room, or a private conversation, that has messages a user may read,
    and the time of its newest (L{chat.core.interfaces.HistoryReader.targets}).
    """

    name: str
    room: bool
    latest: float
