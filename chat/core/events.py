"""
What the domain tells a participant, and the values doors render.

Events are immutable values holding nicknames as they were when the event
happened, so a later rename cannot rewrite history. A broadcast hands the very
same event object to every recipient, which lets a door format it once.

Stored messages (L{Entry}), bans (L{Ban}) and kept rooms (L{KeptRoom}) are
values of the core too: the store makes them, the doors show them, and
neither needs the other.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import translate
from typing import NamedTuple

from chat.core.modes import Mode, ModeChange


class Why(enum.Enum):
    """
    Why a user went off line.
    """

    QUIT = "quit"
    CLOSED = "connection closed"
    LOST = "connection lost"
    KICKED = "kicked"
    BANNED = "banned"
    FLOODING = "flooding"
    TOO_SLOW = "too slow to keep up"
    REPLACED = "logged in again elsewhere"
    TIMED_OUT = "ping timeout"
    NODE_LOST = "node lost"


@dataclass(frozen=True, slots=True)
class Departure:
    """
    How a user left: C{why}, the operator it was C{by} (kicks and bans), and
    C{text}: the user's quit message, or the operator's reason. C{unsent},
    told only to the user put out when its node lost the cluster: how many
    of the lines it said were never acknowledged (they may have reached
    nobody, and are never sent again).
    """

    why: Why = Why.QUIT
    by: str | None = None
    text: str | None = None
    unsent: int = 0


QUIT = Departure()
"""
A user who left without a word.
"""


@dataclass(frozen=True, slots=True)
class Welcome:
    """
    Sent to a user who has just logged in, with everyone online (themselves
    included); when there are too many to list, C{online} is empty and
    C{total} says how many.
    """

    nickname: str
    online: tuple[str, ...]
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Entered:
    """
    Sent to C{nickname}, who has just joined C{room}: its topic and who is
    there (themselves included); in a crowded room, C{members} is empty and
    C{total} says how many.
    """

    room: str
    nickname: str
    topic: str | None
    members: tuple[str, ...]
    total: int | None = None
    # The room's operators and voiced members among them (for prefixes),
    # and who set the topic, when.
    operators: frozenset[str] = frozenset()
    voiced: frozenset[str] = frozenset()
    topic_by: str | None = None
    topic_at: float | None = None
    secret: bool = False


@dataclass(frozen=True, slots=True)
class Joined:
    """
    Another user has joined C{room}, by logging in or by coming from another
    room; with what some clients show of it at once (IRCv3's extended-join
    and away-notify): its account, real name and away message.
    """

    room: str
    nickname: str
    account: str | None = field(default=None, compare=False)
    realname: str | None = field(default=None, compare=False)
    away: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Parted:
    """
    Another user has left C{room} but is still online; C{destination} is the
    room they went to, when they went to one.
    """

    room: str
    nickname: str
    destination: str | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Left:
    """
    Another user in C{room} has gone off line, and how.
    """

    room: str
    nickname: str
    departure: Departure


@dataclass(frozen=True, slots=True)
class Renamed:
    """
    A user changed nickname; it, and everyone who shares a room with it, is told.
    """

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class TopicChanged:
    """
    C{nickname} set the topic of C{room} (L{None}: cleared it).
    """

    room: str
    nickname: str
    topic: str | None


Tags = tuple[tuple[str, str], ...]
"""
The tags a sender's client gives a message for other clients, as (name, value) pairs.
"""

Lines = tuple[tuple[str, bool], ...]
"""
A message of several lines as its sender cut them (IRCv3 multiline): each
line's text, and whether it continues the one before it rather than
starting a new one (a long line cut to fit).
"""


def said_at(now: float) -> float:
    """
    C{now} to the millisecond, as a message's time is kept: what IRCv3's
    C{time} tag shows of it, so that a time a client read from a message
    (C{CHATHISTORY AFTER timestamp=...}) names that message exactly.
    """
    return int(now * 1000) / 1000


@dataclass(frozen=True, slots=True)
class Meta:
    """
    What a message carries beyond its text, for the clients that show it
    (IRCv3's tags): its id, the sender's account if it logged in to one,
    whether the sender is a program (a bot), and the tags its sender's
    client gave it for other clients (C{+typing}, C{+draft/reply}...).
    """

    msgid: str
    account: str | None = None
    bot: bool = False
    tags: Tags = ()
    # When it was said, to the millisecond (see L{said_at}): the same in
    # every client's C{time} tag, the sender's echo included, and in the
    # history, where a client asks for what came after it.
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class Multiline(Meta):
    """
    What a message of several lines carries: its lines as they were sent
    (its text is them joined, a line break between two that do not
    continue each other). A class of its own: a field more on every
    message's L{Meta} cost each one 1 700 instructions (callgrind).
    """

    lines: Lines = ()


@dataclass(frozen=True, slots=True)
class Message:
    """
    A public message from C{sender} to C{room}; a C{notice} (IRC's NOTICE)
    is one that no program should answer automatically.
    """

    room: str
    sender: str
    text: str
    notice: bool = False
    # Not part of what makes two messages equal: it is what they carry.
    meta: Meta | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Action:
    """
    A public action (C{/me waves}) by C{sender} in C{room}.
    """

    room: str
    sender: str
    text: str
    # Not part of what makes two messages equal: it is what they carry.
    meta: Meta | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """
    A private message, as its recipient sees it (a C{notice}: see L{Message});
    with the account its recipient was logged in to, if any (the sender's
    is its C{meta}'s), which its history is kept for.
    """

    sender: str
    recipient: str
    text: str
    notice: bool = False
    # Not part of what makes two messages equal: it is what they carry.
    meta: Meta | None = field(default=None, compare=False)
    recipient_account: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PrivateMessageSent:
    """
    The confirmation a sender gets that its private message was delivered;
    C{away} is the recipient's away message, if it is away.
    """

    sender: str
    recipient: str
    text: str
    away: str | None = None
    notice: bool = False
    # Not part of what makes two messages equal: it is what they carry.
    meta: Meta | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class StatusMessage:
    """
    A message (or, C{action}, an action) from C{sender} to some of room
    C{room}'s members only: its operators (C{to} is L{Mode.OPERATOR}), or
    its voiced members and operators (L{Mode.VOICE}): IRC's STATUSMSG.
    """

    room: str
    sender: str
    text: str
    to: Mode
    notice: bool = False
    action: bool = False
    meta: Meta | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Ctcp:
    """
    A client-to-client request (IRC's CTCP, C{VERSION}, C{PING 123}...)
    from C{sender} to C{room}, other than an action: only the clients that
    speak CTCP show it or answer it. C{text} is the request, without the
    C{\\x01} around it.
    """

    room: str
    sender: str
    text: str
    notice: bool = False
    meta: Meta | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Presence:
    """
    C{nickname}, which C{watcher} watches (IRC's MONITOR), came on line
    or went off, with its user name when on line. One for each watcher:
    an IRC client is told it by a numeric addressed to it.
    """

    watcher: str
    nickname: str
    online: bool
    username: str | None = None


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """
    C{nickname}, sharing a room with the recipient (or, C{watched}, watched
    by it), is away with C{away}, or back (L{None}).
    """

    nickname: str
    away: str | None
    watched: bool = False


@dataclass(frozen=True, slots=True)
class RealnameChanged:
    """
    C{nickname} (the recipient itself, one sharing a room with it, or, if
    C{watched}, one it watches) now says its real name is C{realname}.
    """

    nickname: str
    realname: str
    watched: bool = False


@dataclass(frozen=True, slots=True)
class TagMessage:
    """
    Tags and nothing else (IRC's TAGMSG: "typing...") from C{sender} to
    room C{room} or to C{recipient}; only clients that take tags show it.
    """

    sender: str
    room: str | None
    recipient: str | None
    meta: Meta


@dataclass(frozen=True, slots=True)
class ModesChanged:
    """
    C{by}, an operator, changed the modes of C{room}; every member is told.
    """

    room: str
    by: str
    changes: tuple[ModeChange, ...]


@dataclass(frozen=True, slots=True)
class Kicked:
    """
    C{by}, an operator of C{room}, put C{nickname} out of it; the room,
    C{nickname} included, is told before it goes.
    """

    room: str
    by: str
    nickname: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Invited:
    """
    C{by} invites the recipient, C{nickname}, into C{room}.
    """

    room: str
    by: str
    nickname: str


@dataclass(frozen=True, slots=True)
class Announcement:
    """
    An operator's message to everyone online, in every room.
    """

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """
    C{by} deleted the message C{msgid} of C{room}, its own or as the room's
    operator, saying C{reason}: clients that can hide it do (IRCv3
    message-redaction); it is gone from the history and from searches.
    """

    room: str
    by: str
    msgid: str
    reason: str | None = None


Event = (
    Welcome
    | Entered
    | Joined
    | Parted
    | Left
    | Renamed
    | TopicChanged
    | Message
    | Action
    | PrivateMessage
    | PrivateMessageSent
    | Announcement
    | ModesChanged
    | Kicked
    | Invited
    | TagMessage
    | Ctcp
    | StatusMessage
    | Presence
    | AwayChanged
    | RealnameChanged
    | Redacted
)


class EntryKind(str, enum.Enum):
    """
    What a stored message was. A C{str}, so that it is stored as itself.
    """

    MESSAGE = "message"
    ACTION = "action"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class Entry:
    """
    One stored message, as read back: public (with its C{room}) or private
    (with its C{recipient}; C{outgoing} if the one who reads it sent it).
    """

    time: float
    kind: EntryKind
    room: str | None
    sender: str
    recipient: str | None
    text: str
    outgoing: bool = False
    # Its id, by which its sender (or the room's operators) may delete it;
    # none for messages stored before ids were.
    msgid: str | None = None


class Keeping(enum.Enum):
    """
    What became of a private message for a registered user who is away.
    """

    KEPT = "kept"
    NOT_REGISTERED = "not registered"
    RECIPIENT_FULL = "too many waiting for the recipient"
    SENDER_FULL = "too many waiting from the sender"


@dataclass(frozen=True, slots=True)
class KeptPage:
    """
    The oldest of the messages kept for a user, and the ids to forget once
    they are shown; C{more}: others wait after them.
    """

    entries: Sequence[Entry]
    ids: Sequence[int]
    more: bool


class BanKind(str, enum.Enum):
    """
    What a ban shuts out. A C{str}, so that it is stored as itself.
    """

    NICK = "nick"
    ADDRESS = "ip"


@dataclass(frozen=True, slots=True)
class Ban:
    """
    A nickname or an address shut out by an operator, C{until} a time
    (seconds since the epoch) or for good (L{None}).
    """

    kind: BanKind
    target: str
    until: float | None
    reason: str | None
    by: str
    created: float


class Was(NamedTuple):
    """
    A user as it was when it left, or changed nickname (IRC's WHOWAS).
    """

    nickname: str
    username: str | None
    realname: str | None
    at: float


class RoomBan(NamedTuple):
    """
    A mask shut out of one room (C{+b}), who set it, when.
    """

    mask: str
    by: str
    at: float


@dataclass(frozen=True, slots=True)
class KeptRoom:
    """
    What is kept of a room through emptiness and restarts: its C{founder}
    (the account that keeps it; L{None} for a room that always exists, the
    lobby), when it was made, its topic (who set it, when), its flags, key,
    limit and ban masks, the accounts of its operators, who get C{+o} when
    they come back, and its masks let in past the bans (C{+e}) and past its
    C{+i} (C{+I}).
    """

    name: str
    founder: str | None
    created: float
    topic: str | None = None
    topic_by: str | None = None
    topic_at: float | None = None
    flags: frozenset[Mode] = frozenset()
    key: str | None = None
    limit: int | None = None
    bans: tuple[RoomBan, ...] = ()
    operators: tuple[str, ...] = ()
    exceptions: tuple[RoomBan, ...] = ()
    invite_exceptions: tuple[RoomBan, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomFilter:
    """
    Which rooms a listing wants (IRC's ELIST): a name matching one of
    C{names} if any are given and none of C{not_names} (patterns with C{*}
    and C{?}, in any case, matched against the name with C{prefix} in
    front: IRC's masks are of channel names, C{#room}); more than
    C{more_than} and fewer than C{fewer_than} members; made less than
    C{younger_than} seconds ago, or more than C{older_than}; its topic set
    less than C{topic_younger_than} seconds ago, or more than
    C{topic_older_than} (a room without a topic meets neither).
    """

    names: tuple[str, ...] = ()
    not_names: tuple[str, ...] = ()
    prefix: str = ""
    more_than: int | None = None
    fewer_than: int | None = None
    younger_than: float | None = None
    older_than: float | None = None
    topic_younger_than: float | None = None
    topic_older_than: float | None = None
    # The masks of each kind as one pattern, made once for the whole walk
    # over the rooms (not once a room, nor a mask at a time).
    _names: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _not_names: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", _one_pattern(self.names))
        object.__setattr__(self, "_not_names", _one_pattern(self.not_names))

    @property
    def masks(self) -> int:
        """
        How many masks it holds, of both kinds: each is matched against every room's name.
        """
        return len(self.names) + len(self.not_names)

    def admits(
        self, name: str, users: int, created: float, topic_at: float | None, now: float
    ) -> bool:
        """
        Whether a room called C{name}, of C{users} members, made at
        C{created}, its topic set at C{topic_at}, is wanted at time C{now}.
        """
        if self.more_than is not None and users <= self.more_than:
            return False
        if self.fewer_than is not None and users >= self.fewer_than:
            return False
        age = now - created
        if self.younger_than is not None and not age < self.younger_than:
            return False
        if self.older_than is not None and not age > self.older_than:
            return False
        if self.topic_younger_than is not None or self.topic_older_than is not None:
            if topic_at is None:
                return False
            topic_age = now - topic_at
            if self.topic_younger_than is not None and not topic_age < self.topic_younger_than:
                return False
            if self.topic_older_than is not None and not topic_age > self.topic_older_than:
                return False
        named = (self.prefix + name).lower()
        if self._names is not None and self._names.match(named) is None:
            return False
        return self._not_names is None or self._not_names.match(named) is None


def _one_pattern(masks: Sequence[str]) -> re.Pattern[str] | None:
    """
    One pattern that matches (from the start, to the end) what any of
    C{masks} matches in any case, as C{fnmatch.fnmatchcase} on lowered
    text would; L{None} for no masks.
    """
    if not masks:
        return None
    return re.compile("|".join(f"(?:{translate(mask.lower())})" for mask in masks))


class RoomInfo(NamedTuple):
    """
    What C{/rooms} shows of a room.
    """

    name: str
    users: int
    topic: str | None
