"""
What a session tells its own user: values, worded by each door.

A door renders each of these in its own dialect (the line door in
L{chat.line.wording}); nothing here is a sentence. Domain errors
(L{chat.core.errors}) are told the same way, as they are.

L{chat.core.goodbyes} are the replies that end a connection: the door says
them last and closes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from chat.core.errors import ChatError
from chat.core.events import Ban, Entry, Keeping, RoomBan, RoomInfo, Was
from chat.core.goodbyes import Goodbye
from chat.core.limits import ROOMS_PAGE
from chat.core.modes import Mode, ModeChange
from chat.core.pages import Conversation, Reading
from chat.core.text import Problem


class Feature(enum.Enum):
    """
    What a server may run without, and a command may need.
    """

    ACCOUNTS = "accounts"
    HISTORY = "history"
    BANS = "bans"


# Before and at login.


@dataclass(frozen=True, slots=True)
class Greeting:
    """
    The first thing a new connection is told.
    """

    server_name: str


@dataclass(frozen=True, slots=True)
class NicknameWanted:
    """
    The user is to choose a nickname.
    """


@dataclass(frozen=True, slots=True)
class PasswordWanted:
    """
    C{nickname} is registered: its password is wanted.
    """

    nickname: str


@dataclass(frozen=True, slots=True)
class WrongPassword:
    """
    The password was wrong; C{left} more tries before the connection is closed.
    """

    left: int


@dataclass(frozen=True, slots=True)
class NicknameBanned:
    """
    The nickname asked for at login is banned.
    """

    nickname: str
    ban: Ban


@dataclass(frozen=True, slots=True)
class LoginFirst:
    """
    A command that needs a nickname, before one was chosen.
    """


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """
    The user is in; C{motd} is the server's message of the day, a line each.
    """

    motd: Sequence[str]


@dataclass(frozen=True, slots=True)
class Authenticated:
    """
    The user proved it owns C{account} (before choosing it as its nickname,
    as IRC's SASL does, or to become an operator).
    """

    account: str


@dataclass(frozen=True, slots=True)
class Operator:
    """
    The user is an operator now.
    """


@dataclass(frozen=True, slots=True)
class OperatorAtLogin:
    """
    The password the user logs in with is an operator's: the user is one of
    the server's operators from the moment it is in.
    """


@dataclass(frozen=True, slots=True)
class LoggedInAlready:
    """
    C{/login} after login.
    """


# Commands.


@dataclass(frozen=True, slots=True)
class UnknownCommand:
    name: str


@dataclass(frozen=True, slots=True)
class Usage:
    """
    A command given the wrong arguments: its name and the arguments it takes.
    """

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """
    A count outside what a command accepts (C{/history 0}).
    """

    name: str
    arguments: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class OperatorsOnly:
    name: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """
    This server runs without C{feature}.
    """

    feature: Feature


@dataclass(frozen=True, slots=True)
class TooManyRenames:
    pass


@dataclass(frozen=True, slots=True)
class TooManyRoomChanges:
    """
    Room changes are over their limit: the next wait their turn.
    """


@dataclass(frozen=True, slots=True)
class TooFast:
    """
    Lines over the flood limit are being dropped.
    """

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class LineTooLong:
    """
    A line over C{limit} bytes was dropped (told by the door that framed it).
    """

    limit: int


@dataclass(frozen=True, slots=True)
class InternalError:
    """
    A bug: what the user asked for was not done (and the bug is logged).
    """


@dataclass(frozen=True, slots=True)
class Help:
    """
    The list of commands this user may use on this server: whether it is an
    operator, and what the server runs with.
    """

    operator: bool = False
    features: frozenset[Feature] = frozenset()


@dataclass(frozen=True, slots=True)
class Users:
    """
    Who is online (C{room} L{None}) or in C{room}.
    """

    names: Sequence[str]
    room: str | None
    # In a room: its operators and voiced members among them, and whether it is secret.
    operators: frozenset[str] = frozenset()
    voiced: frozenset[str] = frozenset()
    secret: bool = False


@dataclass(frozen=True, slots=True)
class Whois:
    """
    Who C{nickname} is: the rooms it is in, whether it is an operator.
    """

    nickname: str
    rooms: Sequence[str]
    operator: bool
    away: str | None = None
    username: str | None = None
    realname: str | None = None
    # The rooms (of those listed) where it is an operator, or voiced.
    operator_in: frozenset[str] = frozenset()
    voiced_in: frozenset[str] = frozenset()
    bot: bool = False
    account: str | None = None
    # Seconds since it last said something, and when it logged in.
    idle: int = 0
    signon: float = 0.0


@dataclass(frozen=True, slots=True)
class Member:
    """
    One user as a listing with details shows it.
    """

    nickname: str
    operator: bool
    away: str | None
    username: str | None
    realname: str | None
    # In a room's listing: whether it is one of the room's operators, or voiced.
    room_operator: bool = False
    voiced: bool = False
    # Invisible to the one who asked (it shares no room with it): not found by a mask.
    hidden: bool = False
    bot: bool = False
    account: str | None = None
    # Seconds since it last said something, and its first room shared
    # with the one who asked (or its first room), for IRC's WHOX.
    idle: int = 0
    room: str | None = None


@dataclass(frozen=True, slots=True)
class Members:
    """
    The users of C{room} (L{None}: everyone online), with details.
    """

    room: str | None
    members: Sequence[Member]


@dataclass(frozen=True, slots=True)
class WasHere:
    """
    Who went by C{nickname} lately, newest first (none: nobody).
    """

    nickname: str
    was: Sequence[Was]


@dataclass(frozen=True, slots=True)
class Away:
    """
    The user is away now, with C{text}, or (L{None}) back.
    """

    text: str | None


@dataclass(frozen=True, slots=True)
class Counts:
    """
    How many are here: users online, operators among them, connections
    still choosing a nickname, rooms.
    """

    users: int
    operators: int
    unregistered: int
    rooms: int
    peak: int = 0


@dataclass(frozen=True, slots=True)
class Rooms:
    """
    One page of the rooms (C{page}, from 1), of C{total} in all.
    """

    rooms: Sequence[RoomInfo]
    total: int = -1
    page: int = 1

    @property
    def more(self) -> bool:
        """
        Whether pages follow this one.
        """
        return self.total > (self.page - 1) * ROOMS_PAGE + len(self.rooms)


@dataclass(frozen=True, slots=True)
class Topic:
    """
    C{room}'s topic, and who set it when (if it has one).
    """

    room: str
    topic: str | None
    by: str | None = None
    at: float | None = None


@dataclass(frozen=True, slots=True)
class RoomModes:
    """
    The modes C{room} has (as changes from none), and when it was made.
    """

    room: str
    modes: Sequence[ModeChange]
    created: float


@dataclass(frozen=True, slots=True)
class RoomBans:
    """
    The masks shut out of C{room} (C{+b}), or those of its list C{mode}
    (C{+e}: let in past the bans; C{+I}: let in while it is invite-only).
    """

    room: str
    bans: Sequence[RoomBan] = ()
    mode: Mode = Mode.BAN


@dataclass(frozen=True, slots=True)
class Invitations:
    """
    The rooms the user is invited to and has not joined yet.
    """

    rooms: Sequence[str]


@dataclass(frozen=True, slots=True)
class Inviting:
    """
    C{nickname} is told of the invitation into C{room}.
    """

    nickname: str
    room: str


@dataclass(frozen=True, slots=True)
class RoomKept:
    """
    C{room} is kept now, for the user's account.
    """

    room: str


@dataclass(frozen=True, slots=True)
class RoomUnkept:
    """
    C{room} is no longer kept.
    """

    room: str


@dataclass(frozen=True, slots=True)
class Kept:
    """
    C{recipient} is away and registered: C{text} waits for them.
    """

    recipient: str
    text: str


# Stored messages. A door shows each as a block, so that what happened
# before is told apart from what happens now.


@dataclass(frozen=True, slots=True)
class RecentHistory:
    """
    What was said in C{room} before the user came in (nothing to show if empty).
    """

    room: str
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class LastMessages:
    """
    The last C{count} messages asked for in C{room}.
    """

    room: str
    count: int
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class Found:
    """
    The messages of C{room} that contain C{text}.
    """

    room: str
    text: str
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class PrivateHistory:
    """
    The last C{count} messages asked for of the user's conversation with C{nickname}.
    """

    nickname: str
    count: int
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class HistoryNeedsAccount:
    """
    Private history is kept for accounts: the user is logged in to none.
    """


@dataclass(frozen=True, slots=True)
class KeptMessages:
    """
    Private messages that came while the user was away (nothing to show if empty).
    """

    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class HistoryFailed:
    """
    The stored messages could not be read.
    """


# Accounts.


@dataclass(frozen=True, slots=True)
class Registered:
    nickname: str


@dataclass(frozen=True, slots=True)
class RegisteredNickname:
    """
    C{/nick} to a nickname somebody registered.
    """

    nickname: str


@dataclass(frozen=True, slots=True)
class NotSaved:
    """
    A change (a registration, a password) could not be written: nothing changed.
    """


@dataclass(frozen=True, slots=True)
class StoreDown:
    """
    What the user asked needs the database, and it cannot be used now (a
    file made immutable, a read-only file system): try again later.
    """


@dataclass(frozen=True, slots=True)
class TooManyWords:
    """
    A search for more than C{limit} words.
    """

    limit: int


@dataclass(frozen=True, slots=True)
class TooManyMasks:
    """
    A listing with more than C{limit} masks: refused, nothing listed.
    """

    limit: int


@dataclass(frozen=True, slots=True)
class TooManyModes:
    """
    A mode line asked for more than C{limit} changes with an argument: the
    first C{limit} were made (or refused), the other C{left} were not.
    """

    limit: int
    left: int


@dataclass(frozen=True, slots=True)
class SearchTooSlow:
    """
    A search ran out of its time budget and was stopped.
    """


@dataclass(frozen=True, slots=True)
class NotKept:
    """
    A private message for C{recipient}, away, was not kept: C{why} (too many
    waiting for it, or from the sender), C{limit} being the most that may.
    """

    recipient: str
    why: Keeping
    limit: int


@dataclass(frozen=True, slots=True)
class TooManyRegistrations:
    """
    The address has used its allowance of registrations for now.
    """


@dataclass(frozen=True, slots=True)
class TooManyChecks:
    """
    A password was not checked: this connection's allowance of password
    hashes, or (C{by_address}) its address's, is used up for C{wait} more
    seconds. Nothing else changes: a password prompt is still one.
    """

    by_address: bool
    wait: int


@dataclass(frozen=True, slots=True)
class NotSent:
    """
    A line was not said to the room: it looks like another chat's habit
    for C{command} (C{send bob hi}: C{/msg bob hi}).
    """

    command: str


@dataclass(frozen=True, slots=True)
class BanningYourself:
    """
    An operator tried to ban C{target}: its own nickname or address.
    """

    target: str


@dataclass(frozen=True, slots=True)
class Reserved:
    """
    C{nickname} is an operator's (in C{--admins}): nobody may register it or
    use it unregistered; its password is set out of band (C{chat.admin}).
    """

    nickname: str


@dataclass(frozen=True, slots=True)
class ServiceName:
    """
    C{nickname} is a service's (NickServ, ChanServ...): nobody may take it
    (L{chat.core.limits.SERVICE_NAMES}).
    """

    nickname: str


@dataclass(frozen=True, slots=True)
class Dropped:
    """
    C{count} lines the user sent before it could see a nickname refused
    were dropped, not taken as a nickname or a message.
    """

    count: int


@dataclass(frozen=True, slots=True)
class BadNewPassword:
    """
    A new password breaks the rules; C{problem} says which.
    """

    problem: Problem


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    pass


@dataclass(frozen=True, slots=True)
class Unregistered:
    nickname: str


@dataclass(frozen=True, slots=True)
class NotProven:
    """
    A password check for a command (C{/password}, C{/unregister}) failed.
    """


# Moderation.


@dataclass(frozen=True, slots=True)
class KickedOut:
    nickname: str


@dataclass(frozen=True, slots=True)
class Banned:
    target: str
    ban: Ban


@dataclass(frozen=True, slots=True)
class Unbanned:
    target: str


@dataclass(frozen=True, slots=True)
class NotBanned:
    target: str


@dataclass(frozen=True, slots=True)
class BanList:
    bans: Sequence[Ban]


@dataclass(frozen=True, slots=True)
class ReadMarker:
    """
    How far the user has read C{target} (a room, or when not C{room} a
    private conversation with that nickname): the time of the last message
    read, L{None} while nothing is marked. C{entering}: told as the room is
    entered, just after what the user is shown of it (IRC has it before
    the end of the names); C{unasked}: moved elsewhere (another session of
    the account, or an account's markers just loaded). Either is for the
    clients that take read markers only.
    """

    target: str
    room: bool
    at: float | None
    entering: bool = False
    unasked: bool = False


class RedactRefusal(enum.Enum):
    """
    Why a message was not deleted: the user is not in that room, no kept
    message of the room has that id, or it is somebody else's and the user
    is not the room's operator.
    """

    NOT_IN_ROOM = "not in the room"
    UNKNOWN = "no such message"
    FORBIDDEN = "not yours"


@dataclass(frozen=True, slots=True)
class NotRedacted:
    """
    The message C{msgid} of C{room} was not deleted, for C{why}.
    """

    room: str
    msgid: str
    why: RedactRefusal


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """
    The page asked for of the past of C{target}, a room (C{room}) or the
    user's private conversation with that nickname, oldest first.
    """

    target: str
    room: bool
    entries: Sequence[Entry]


@dataclass(frozen=True, slots=True)
class HistoryTargets:
    """
    The rooms and private conversations asked for, by the time of their
    newest message, the least recent first.
    """

    conversations: Sequence[Conversation]


@dataclass(frozen=True, slots=True)
class NoHistoryOf:
    """
    A page of C{target}'s past was asked for (L{Reading}), but the user
    may read none: it is not in that room (or there is none).
    """

    reading: Reading
    target: str


@dataclass(frozen=True, slots=True)
class NearlyFull:
    """
    The server is nearly full: only registered nicknames may log in now.
    """


Reply: TypeAlias = (
    Goodbye
    | ChatError
    | Greeting
    | NicknameWanted
    | PasswordWanted
    | WrongPassword
    | NicknameBanned
    | LoginFirst
    | LoggedIn
    | LoggedInAlready
    | Authenticated
    | Operator
    | OperatorAtLogin
    | UnknownCommand
    | Usage
    | OutOfRange
    | OperatorsOnly
    | Unavailable
    | TooManyRenames
    | TooManyRoomChanges
    | TooFast
    | LineTooLong
    | InternalError
    | Help
    | Users
    | Whois
    | WasHere
    | Members
    | Counts
    | Away
    | Rooms
    | Topic
    | RoomModes
    | RoomBans
    | Inviting
    | Invitations
    | RoomKept
    | RoomUnkept
    | Kept
    | RecentHistory
    | LastMessages
    | Found
    | PrivateHistory
    | HistoryNeedsAccount
    | KeptMessages
    | HistoryFailed
    | HistoryPage
    | HistoryTargets
    | NoHistoryOf
    | Registered
    | RegisteredNickname
    | Reserved
    | ServiceName
    | Dropped
    | BanningYourself
    | NotSent
    | TooManyRegistrations
    | TooManyChecks
    | NotKept
    | TooManyWords
    | TooManyMasks
    | TooManyModes
    | NotSaved
    | StoreDown
    | SearchTooSlow
    | ReadMarker
    | NotRedacted
    | NearlyFull
    | BadNewPassword
    | PasswordChanged
    | Unregistered
    | NotProven
    | KickedOut
    | Banned
    | Unbanned
    | NotBanned
    | BanList
)
"""
Everything a session may tell its user; a domain error is told as it is.
"""


class Refused(Exception):
    """
    Raised by a command to refuse what was asked, with the reply that says why.
    """

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply)
        self.reply = reply
