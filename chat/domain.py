"""
The chat itself: who is online, and who hears what.

Nothing here knows about bytes, sockets or line endings. A front-end logs a
L{Participant} in, calls methods on the returned L{User} on its behalf, and
receives L{chat.events} through L{Participant.receive}.
"""

from __future__ import annotations

from typing import Protocol

from chat.errors import InvalidNickname, NicknameTaken, NoSuchUser, NotLoggedIn
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
from chat.text import clean, nickname_problem


class Participant(Protocol):
    """
    The callback side of a logged-in user, implemented by each front-end.
    """

    def receive(self, event: Event) -> None:
        """
        Show C{event} to this participant. Must not raise.
        """


class User:
    """
    One logged-in user, as the domain sees it.
    """

    __slots__ = ("nickname", "online", "participant")

    def __init__(self, nickname: str, participant: Participant) -> None:
        self.nickname = nickname
        self.participant = participant
        self.online = True

    def __repr__(self) -> str:
        return f"<User {self.nickname!r}>"


def _key(nickname: str) -> str:
    return nickname.lower()


class Chat:
    """
    Every logged-in user, and the rules for routing messages between them.

    Nicknames are unique without regard to case. Public events go to every
    other user; private ones to their recipient only. Text is cleaned of
    control characters here, in the one place every front-end goes through.
    """

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        # A snapshot for broadcasts: participants may log in or out while one
        # is running, and rebuilding on each join or leave is cheaper than
        # copying on every message.
        self._everyone: tuple[User, ...] = ()

    def __len__(self) -> int:
        return len(self._users)

    def online(self) -> list[str]:
        """
        The nicknames of everyone online, in case-insensitive order.
        """
        return sorted((user.nickname for user in self._everyone), key=_key)

    def find(self, nickname: str) -> User:
        """
        Return the online user called C{nickname} (in any case), or raise L{NoSuchUser}.
        """
        user = self._users.get(_key(nickname))
        if user is None:
            raise NoSuchUser(nickname)
        return user

    def login(self, nickname: str, participant: Participant) -> User:
        """
        Log C{participant} in as C{nickname}, tell it who is here and tell them it came.
        """
        self._check_available(nickname)
        user = User(nickname, participant)
        self._users[_key(nickname)] = user
        self._everyone += (user,)
        participant.receive(Welcome(nickname, tuple(self.online())))
        self._broadcast(Joined(nickname), exclude=user)
        return user

    def logout(self, user: User, reason: str | None = None) -> None:
        """
        Take C{user} off line and tell everyone else, exactly once: calling it
        again for the same user does nothing.
        """
        if not user.online:
            return
        user.online = False
        del self._users[_key(user.nickname)]
        self._everyone = tuple(u for u in self._everyone if u is not user)
        if reason is not None:
            reason = clean(reason) or None
        self._broadcast(Left(user.nickname, reason), exclude=None)

    def close(self) -> None:
        """
        Log everyone out without telling anyone.

        For a server that is going away and has said so to each user already:
        announcing each departure to everyone still there would cost
        N * N events that nobody gets to read.
        """
        for user in self._everyone:
            user.online = False
        self._users.clear()
        self._everyone = ()

    def rename(self, user: User, nickname: str) -> None:
        """
        Give C{user} a new nickname and tell everyone, C{user} included.

        A change of case alone ("alice" to "Alice") is allowed.
        """
        self._check_online(user)
        if _key(nickname) != _key(user.nickname):
            self._check_available(nickname)
        elif nickname == user.nickname:
            raise InvalidNickname(nickname, "it is already yours")
        else:
            self._check_valid(nickname)
        old = user.nickname
        del self._users[_key(old)]
        user.nickname = nickname
        self._users[_key(nickname)] = user
        self._broadcast(Renamed(old, nickname), exclude=None)

    def say(self, user: User, text: str) -> None:
        """
        Send C{text} to everyone but C{user}. Text that is empty once cleaned is dropped.
        """
        self._check_online(user)
        text = clean(text)
        if text.strip():
            self._broadcast(Message(user.nickname, text), exclude=user)

    def act(self, user: User, text: str) -> None:
        """
        Show everyone but C{user} that C{user} does C{text}.
        """
        self._check_online(user)
        text = clean(text)
        if text.strip():
            self._broadcast(Action(user.nickname, text), exclude=user)

    def whisper(self, user: User, recipient: str, text: str) -> None:
        """
        Send C{text} to C{recipient} only, and confirm it to C{user}.

        @raise NoSuchUser: if nobody called C{recipient} is online.
        """
        self._check_online(user)
        target = self.find(recipient)
        text = clean(text)
        if not text.strip():
            return
        target.participant.receive(PrivateMessage(user.nickname, target.nickname, text))
        user.participant.receive(PrivateMessageSent(user.nickname, target.nickname, text))

    def _broadcast(self, event: Event, exclude: User | None) -> None:
        for user in self._everyone:
            if user is not exclude:
                user.participant.receive(event)

    def _check_online(self, user: User) -> None:
        if not user.online:
            raise NotLoggedIn()

    def _check_valid(self, nickname: str) -> None:
        problem = nickname_problem(nickname)
        if problem is not None:
            raise InvalidNickname(nickname, problem)

    def _check_available(self, nickname: str) -> None:
        self._check_valid(nickname)
        if _key(nickname) in self._users:
            raise NicknameTaken(nickname)
