"""
Domain errors: everything a user can get wrong, as exceptions of the domain.

They carry structured fields rather than finished sentences so that each
front-end decides how to tell its user; L{chat.wire} does that for the line
protocol.
"""

from __future__ import annotations


class ChatError(Exception):
    """
    A request the domain refused; the user gets an error, nobody else notices.
    """


class InvalidNickname(ChatError):
    """
    The nickname breaks the nickname rules; C{reason} says which one.
    """

    def __init__(self, nickname: str, reason: str) -> None:
        super().__init__(nickname, reason)
        self.nickname = nickname
        self.reason = reason


class NicknameTaken(ChatError):
    """
    Somebody else already uses this nickname (compared without regard to case).
    """

    def __init__(self, nickname: str) -> None:
        super().__init__(nickname)
        self.nickname = nickname


class NoSuchUser(ChatError):
    """
    Nobody with this nickname is logged in.
    """

    def __init__(self, nickname: str) -> None:
        super().__init__(nickname)
        self.nickname = nickname


class NotLoggedIn(ChatError):
    """
    The user has left (or never logged in), so it can no longer act.
    """


class InvalidRoomName(ChatError):
    """
    The room name breaks the room-name rules; C{reason} says which one.
    """

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name = name
        self.reason = reason


class NoSuchRoom(ChatError):
    """
    No room of that name exists.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class NotInRoom(ChatError):
    """
    The user is not in the room it tried to act in.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class AlreadyInRoom(ChatError):
    """
    The user tried to join a room it is already in.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
