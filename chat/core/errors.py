"""
Domain errors: everything a user can get wrong, as exceptions of the domain.

They carry structured fields rather than finished sentences so that each
door decides how to tell its user; L{chat.line.wording} does that for the
line door.
"""

from __future__ import annotations

from chat.core.text import Problem


class TooSlow(Exception):
    """
    Raised by a store whose query ran out of its time budget (a search that
    would hold the database for a minute), rather than let it run.
    """


class StoreUnavailable(Exception):
    """
    Raised by a store that could not write a change (a full disk, a
    read-only database): the change was not made. With C{writing} false,
    it could not even read (a database SQLite must not touch now). With
    C{logged}, the store has said so in the log already (once for many).
    """

    def __init__(self, why: str, writing: bool = True, logged: bool = False) -> None:
        super().__init__(why)
        self.writing = writing
        self.logged = logged


class ChatError(Exception):
    """
    A request the domain refused; the user gets an error, nobody else notices.

    Errors are values: two of the same kind with the same fields are equal.
    """

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.args == getattr(other, "args", None)

    def __hash__(self) -> int:
        return hash((type(self), self.args))


class InvalidNickname(ChatError):
    """
    The nickname breaks the nickname rules; C{problem} says which one.
    """

    def __init__(self, nickname: str, problem: Problem) -> None:
        super().__init__(nickname, problem)
        self.nickname = nickname
        self.problem = problem


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
    The room name breaks the room-name rules; C{problem} says which one.
    """

    def __init__(self, name: str, problem: Problem) -> None:
        super().__init__(name, problem)
        self.name = name
        self.problem = problem


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


class AlreadyRegistered(ChatError):
    """
    The nickname is registered already (an account store raises it).
    """

    def __init__(self, nickname: str) -> None:
        super().__init__(nickname)
        self.nickname = nickname


class NotRoomOperator(ChatError):
    """
    Only the room's operators (or the server's) may do that in C{name}.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class CannotJoin(ChatError):
    """
    The room cannot be joined: it is C{why} (full, invite only, or a wrong key).
    """

    FULL = "full"
    INVITE_ONLY = "invite only"
    BAD_KEY = "keyed"
    BANNED = "closed to you (+b)"

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name, why)
        self.name = name
        self.why = why


class CannotSend(ChatError):
    """
    The room does not take that from the sender: it is moderated and the
    sender is neither operator nor voiced, or (C{NO_CTCP}) it takes no CTCP.
    """

    MODERATED = "moderated"
    NO_CTCP = "no CTCP"

    def __init__(self, name: str, why: str = MODERATED) -> None:
        super().__init__(name, why)
        self.name = name
        self.why = why


class NotInThatRoom(ChatError):
    """
    C{nickname} is online but not in room C{name} (a kick, a mode for it).
    """

    def __init__(self, nickname: str, name: str) -> None:
        super().__init__(nickname, name)
        self.nickname = nickname
        self.name = name


class AlreadyThere(ChatError):
    """
    C{nickname} is in room C{name} already (an invitation).
    """

    def __init__(self, nickname: str, name: str) -> None:
        super().__init__(nickname, name)
        self.nickname = nickname
        self.name = name


class UnknownMode(ChatError):
    """
    C{letter} is no room mode.
    """

    def __init__(self, letter: str) -> None:
        super().__init__(letter)
        self.letter = letter


class ListFull(ChatError):
    """
    Room C{name}'s list of mode C{letter} (its ban masks, exceptions or
    invite exceptions) holds C{limit} entries already.
    """

    def __init__(self, name: str, letter: str, limit: int) -> None:
        super().__init__(name, letter, limit)
        self.name = name
        self.letter = letter
        self.limit = limit


class InvalidMask(ChatError):
    """
    C{mask} is no mask for room C{name}'s list of mode C{letter} (C{b},
    C{e} or C{I}): empty, or too long.
    """

    def __init__(self, name: str, mask: str, letter: str = "b") -> None:
        super().__init__(name, mask, letter)
        self.name = name
        self.mask = mask
        self.letter = letter


class TooManyRooms(ChatError):
    """
    The user is in C{limit} rooms already, and so may not join room C{name}.
    """

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(name, limit)
        self.name = name
        self.limit = limit


class KeepingNeedsAccount(ChatError):
    """
    Only a user logged in to a registered account may keep room C{name}:
    the room is kept for that account, whatever nickname it comes back under.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class AlreadyKept(ChatError):
    """
    Room C{name} is kept already, by C{founder} (L{None}: it always is, as the lobby).
    """

    def __init__(self, name: str, founder: str | None) -> None:
        super().__init__(name, founder)
        self.name = name
        self.founder = founder


class RoomNotKept(ChatError):
    """
    Room C{name} is not kept: there is nothing to stop.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class NotFounder(ChatError):
    """
    Only C{founder}, who keeps room C{name}, or an operator of the server
    may stop keeping it.
    """

    def __init__(self, name: str, founder: str) -> None:
        super().__init__(name, founder)
        self.name = name
        self.founder = founder


class TooManyKept(ChatError):
    """
    The account keeps C{limit} rooms already, and so may not keep room C{name}.
    """

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(name, limit)
        self.name = name
        self.limit = limit
