"""
Every seam of the core, in one file: what the domain and the session need of a
front-end, and what they need of storage.

They are C{typing.Protocol}s: a front-end's connection or a store satisfies
one by having the methods, and mypy checks that it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from twisted.internet.defer import Deferred

from chat.core.events import (
    Action,
    Ban,
    BanKind,
    Departure,
    Entry,
    Event,
    Keeping,
    KeptPage,
    Message,
    PrivateMessage,
)
from chat.core.replies import Goodbye, Reply


class Participant(Protocol):
    """
    The callback side of a logged-in user, implemented by each front-end's
    connection itself: one call per delivery, with no object in between.
    """

    def receive(self, event: Event) -> None:
        """
        Show C{event} to this participant. Must not raise.
        """

    def disconnect(self, departure: Departure) -> None:
        """
        Throw this user out (a kick, a ban): tell it why, close its
        connection, and tell its rooms it left that way.
        """

    def removed(self, room: str) -> None:
        """
        This user was put out of C{room} by its operator (it has been told):
        a front-end whose users are always in a room puts it back in one.
        """


class Peer(Participant, Protocol):
    """
    What a L{chat.core.session.Session} needs of its front-end: a way to
    tell its user things, to hold live events while history is shown, and to
    close.
    """

    def interpret(self, item: object) -> None:
        """
        Act on one item of input the front-end gave L{Session.feed}, now that
        its turn has come (it may have waited while the database answered).
        """

    def tell(self, reply: Reply) -> None:
        """
        Show C{reply} to this user, in the front-end's own words.
        """

    def answered(self) -> None:
        """
        What waited for the database has been answered (what it made the
        server say is gathered, not yet written): a front-end that labels
        each answer (IRCv3's labeled-response) labels this one.
        """

    def hold(self) -> None:
        """
        Keep the events that arrive from now on, and the answers told, in
        order, instead of showing them (a goodbye is never kept).
        """

    def release(self, first: Reply | None = None) -> None:
        """
        Show C{first} (the history that was read), then the events and
        answers kept since L{hold}, and show them as they come again.
        """

    def close(self, goodbye: Goodbye) -> None:
        """
        Say C{goodbye}, then close the connection once what was said before it is written.
        """

    def refuse(self, goodbye: Goodbye) -> None:
        """
        Turn away a connection that was never admitted, with C{goodbye} if
        saying it costs little (a TLS connection is dropped before its
        handshake is paid for).
        """

    def abort(self) -> None:
        """
        Drop the connection at once, written or not.
        """


class Archive(Protocol):
    """
    Where the domain sends every message worth keeping (public, action, private).
    """

    def record(self, event: Message | Action | PrivateMessage) -> None:
        """
        Keep C{event}. Must not raise and must not block.
        """


class HistoryReader(Archive, Protocol):
    """
    An archive that can also read messages back.
    """

    def recent(self, room: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} messages and actions of C{room}, oldest first.
        """

    def search(self, room: str, text: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} messages of C{room} that contain C{text}, oldest first.
        """


class AccountStore(Protocol):
    """
    Registered nicknames, their passwords, and private messages kept for them.
    """

    def is_registered(self, nickname: str) -> Deferred[bool]: ...

    def is_operator(self, nickname: str) -> Deferred[bool]:
        """
        Whether C{nickname}'s password was set by the operator of the server
        (out of band), which an operator's rights require.
        """

    def authenticate(self, nickname: str, password: str) -> Deferred[str]:
        """
        Fire with the nickname as registered, or fail with C{UnauthorizedLogin}.
        """

    def register(self, nickname: str, password: str) -> Deferred[None]:
        """
        Register C{nickname}, or fail with L{chat.core.errors.AlreadyRegistered}.
        """

    def change_password(self, nickname: str, old: str, new: str) -> Deferred[None]: ...

    def unregister(self, nickname: str, password: str) -> Deferred[None]: ...

    def keep(self, sender: str, recipient: str, text: str) -> Deferred[Keeping]:
        """
        Keep a private message for an absent registered user, or say why not.
        """

    def collect(self, nickname: str, count: int) -> Deferred[KeptPage]:
        """
        The oldest C{count} messages kept for C{nickname}, with their ids.
        """

    def forget(self, ids: Sequence[int]) -> Deferred[None]:
        """
        Delete the kept messages C{ids}, once shown (and no others).
        """


class BanList(Protocol):
    """
    The bans in force, answered from memory (they are checked on every
    connection and login).
    """

    def find(self, kind: BanKind, target: str) -> Ban | None: ...

    def add(
        self, kind: BanKind, target: str, duration: float | None, reason: str | None, by: str
    ) -> Ban: ...

    def remove(self, kind: BanKind, target: str) -> bool: ...

    def all(self) -> list[Ban]: ...
