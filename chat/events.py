"""
What the domain tells a participant.

Events are immutable values holding nicknames as they were when the event
happened, so a later rename cannot rewrite history. A broadcast hands the very
same event object to every recipient, which lets a front-end format it once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Welcome:
    """
    Sent to a user who has just logged in, with everyone online (themselves included).
    """

    nickname: str
    online: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Joined:
    """
    Another user has logged in.
    """

    nickname: str


@dataclass(frozen=True, slots=True)
class Left:
    """
    Another user has gone; C{reason} is theirs (a quit message) or the server's.
    """

    nickname: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Renamed:
    """
    A user changed nickname; everyone, the renamed user included, is told.
    """

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Message:
    """
    A public message from C{sender}.
    """

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Action:
    """
    A public action (C{/me waves}) by C{sender}.
    """

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """
    A private message, as its recipient sees it.
    """

    sender: str
    recipient: str
    text: str


@dataclass(frozen=True, slots=True)
class PrivateMessageSent:
    """
    The confirmation a sender gets that its private message was delivered.
    """

    sender: str
    recipient: str
    text: str


Event = Welcome | Joined | Left | Renamed | Message | Action | PrivateMessage | PrivateMessageSent
