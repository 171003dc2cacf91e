"""
The replies that end a connection: a door says one last and closes.

Like every reply (L{chat.core.replies}), each is a value that each door
words in its own dialect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias, get_args

from chat.core.events import Ban, Departure


@dataclass(frozen=True, slots=True)
class Quit:
    """
    The user asked to leave.
    """


@dataclass(frozen=True, slots=True)
class ShuttingDown:
    pass


@dataclass(frozen=True, slots=True)
class AddressBanned:
    """
    A connection from a banned address.
    """

    ban: Ban


@dataclass(frozen=True, slots=True)
class ServerFull:
    limit: int


@dataclass(frozen=True, slots=True)
class TooManyConnections:
    """
    C{host} opened too many connections in a short time.
    """

    host: str


@dataclass(frozen=True, slots=True)
class HostFull:
    """
    Too many connections from C{host} already.
    """

    host: str
    limit: int


@dataclass(frozen=True, slots=True)
class StillRegistering:
    """
    Too many connections from C{host} are logging in already (C{limit}).
    """

    host: str
    limit: int


@dataclass(frozen=True, slots=True)
class Crowded:
    """
    The share of the server's places for connections still logging in
    (C{limit} of them) is taken: try again in a moment.
    """

    limit: int


@dataclass(frozen=True, slots=True)
class LoginTimedOut:
    seconds: float


@dataclass(frozen=True, slots=True)
class IdleTimedOut:
    seconds: float


@dataclass(frozen=True, slots=True)
class PingTimedOut:
    """
    The client answered none of the server's checks (IRC's PING) for C{seconds}.
    """

    seconds: float


@dataclass(frozen=True, slots=True)
class Flooding:
    pass


@dataclass(frozen=True, slots=True)
class OutOfTries:
    """
    The last of the password tries was wrong.
    """


@dataclass(frozen=True, slots=True)
class LockedOut:
    """
    Too many wrong passwords: for C{account} (from any address), or (with
    C{account} L{None}) from C{host}, for any nickname.
    """

    host: str | None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class ThrownOut:
    """
    Kicked or banned: C{departure} says by whom and why.
    """

    departure: Departure


Goodbye: TypeAlias = (
    Quit
    | ShuttingDown
    | AddressBanned
    | ServerFull
    | HostFull
    | StillRegistering
    | Crowded
    | TooManyConnections
    | LoginTimedOut
    | IdleTimedOut
    | PingTimedOut
    | Flooding
    | OutOfTries
    | LockedOut
    | ThrownOut
)

GOODBYES = get_args(Goodbye)
"""
The goodbye classes, for C{isinstance}.
"""
