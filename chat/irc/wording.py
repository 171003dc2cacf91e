"""
The IRC door's words: events as IRC messages, replies as numerics.

Rooms are channels: room C{lobby} is C{#lobby}. Every user is
C{nick!nick@HOST}. A line is at most 512 bytes with its CRLF (tags aside): a
longer message (the line door allows 2048 bytes) is split into several
PRIVMSGs at character boundaries, in order.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence

from chat import __version__
from chat.core.errors import (
    AlreadyKept,
    AlreadyRegistered,
    AlreadyThere,
    CannotJoin,
    CannotSend,
    ChatError,
    InvalidMask,
    InvalidNickname,
    InvalidRoomName,
    KeepingNeedsAccount,
    ListFull,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotFounder,
    NotInRoom,
    NotInThatRoom,
    NotLoggedIn,
    NotRoomOperator,
    RoomNotKept,
    TooManyKept,
    TooManyRooms,
    UnknownMode,
)
from chat.core.events import (
    Action,
    Announcement,
    AwayChanged,
    Ctcp,
    Departure,
    Entered,
    Entry,
    EntryKind,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    Meta,
    ModesChanged,
    Multiline,
    Parted,
    Presence,
    PrivateMessage,
    PrivateMessageSent,
    RealnameChanged,
    Redacted,
    Renamed,
    StatusMessage,
    TagMessage,
    TopicChanged,
    Welcome,
    Why,
)
from chat.core.limits import MODES_PER_LINE, ROOM_SERVICE
from chat.core.modes import Mode, ModeChange, mode_string
from chat.irc import isupport
from chat.irc.isupport import CHANNEL_PREFIX
from chat.irc.message import build
from chat.net import encoding

VERSION = f"chat-{__version__}"
"""
What 002 and 004 say the server runs.
"""

HOST = "chat"
"""
The host part of every user's mask: chat does not show addresses.
"""

LINE_BYTES = 512
CLIENT_TAG_BYTES = 4094
"""
IRCv3 message-tags: what a client may send of tags, without the C{@} and the space.
"""


def channel(room: str) -> str:
    return CHANNEL_PREFIX + room


def status_of(target: str) -> tuple[Mode, str] | None:
    """
    The members a STATUSMSG target (C{@#room}, C{+#room}) is for, and its
    channel; L{None} if it is none.
    """
    if target.startswith(CHANNEL_PREFIX):
        # A channel's own name (nearly every message): no prefix in front.
        return None
    for mode in (Mode.OPERATOR, Mode.VOICE):
        prefix = isupport.status_prefix(mode)
        if target.startswith(prefix + CHANNEL_PREFIX):
            return mode, target[len(prefix) :]
    return None


def room_of(name: str) -> str | None:
    """
    The room a channel name stands for, or L{None} if it is not a channel name.
    """
    return name[1:] if name.startswith(CHANNEL_PREFIX) else None


def mask(nickname: str) -> str:
    return f"{nickname}!{nickname}@{HOST}"


def gone(departure: Departure) -> str:
    """
    A QUIT message: the user's own, or why the server let it go.
    """
    match departure:
        case Departure(Why.QUIT, _, text):
            return text or "Quit"
        case Departure(Why.KICKED | Why.BANNED as why, by, text):
            return f"{why.value.capitalize()} by {by}" + (f": {text}" if text else "")
    return departure.why.value.capitalize()


def split_text(head: bytes, text: str) -> list[str]:
    """
    C{text} in pieces that each fit on one line after C{head} (which ends
    in the C{:} of the trailing parameter), cut between characters.
    """
    room = LINE_BYTES - len(head) - 2
    encoded = text.encode("utf-8")
    if len(encoded) <= room:
        return [text]
    pieces = []
    while encoded:
        cut = min(room, len(encoded))
        # Step back to the start of a UTF-8 character.
        while cut < len(encoded) and cut > 0 and encoded[cut] & 0xC0 == 0x80:
            cut -= 1
        pieces.append(encoded[:cut].decode("utf-8"))
        encoded = encoded[cut:]
    return pieces


def privmsg(
    source: str, target: str, text: str, verb: str = "PRIVMSG", tags: dict[str, str] | None = None
) -> bytes:
    """
    A message, in as many lines as it takes.
    """
    line = build(verb, target, text, source=source, tags=tags, text=True)
    if len(line) <= LINE_BYTES or (tags and len(line) - line.index(b" ") - 1 <= LINE_BYTES):
        # One line (nearly every message): built once, not measured first.
        return line
    head = build(verb, target, "x", source=source, text=True).rsplit(b"x", 1)[0]
    return b"".join(
        build(verb, target, piece, source=source, tags=tags, text=True)
        for piece in split_text(head, text)
    )


def fill(head: bytes, words: Iterable[str]) -> list[str]:
    """
    C{words} joined by spaces into as few texts as fit, each on one line
    after C{head} (which ends in the C{:} of the trailing parameter).
    """
    room = LINE_BYTES - len(head) - 2
    texts, current, size = [], "", 0
    for word in words:
        length = len(word.encode("utf-8"))
        if current and size + 1 + length > room:
            texts.append(current)
            current, size = "", 0
        current, size = (f"{current} {word}", size + 1 + length) if current else (word, length)
    if current:
        texts.append(current)
    return texts


def modes_changed(room: str, by: str, changes: Sequence[ModeChange]) -> bytes:
    """
    MODE lines for C{changes}: as many to a line as fit in 512 bytes, and
    at most ISUPPORT's MODES of those with an argument.
    """
    source = mask(by)
    lines: list[list[ModeChange]] = []
    taken: list[ModeChange] = []
    size = arguments = 0
    base = len(build("MODE", channel(room), "+", source=source))
    for change in changes:
        # A letter (and perhaps a sign), and a space and the argument.
        cost = 2 + (len(change.argument.encode("utf-8")) + 1 if change.argument else 0)
        full = change.argument is not None and arguments == MODES_PER_LINE
        if taken and (base + size + cost > LINE_BYTES or full):
            lines.append(taken)
            taken, size, arguments = [], 0, 0
        taken.append(change)
        size += cost
        arguments += change.argument is not None
    if taken:
        lines.append(taken)
    out = []
    for some in lines:
        letters, words = mode_string(some)
        out.append(build("MODE", channel(room), letters, *words, source=source))
    return b"".join(out)


def action_text(text: str) -> str:
    return f"\x01ACTION {text}\x01"


_SERVER_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z"
)


def parse_server_time(text: str) -> float | None:
    """
    The time an IRCv3 timestamp (C{2019-01-04T14:33:26.123Z}) stands for,
    to the millisecond, or L{None} if C{text} is not one (or is before
    1970). A leap second is read as the last millisecond before it.
    """
    found = _SERVER_TIME.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    if year < 1970 or hour > 23 or minute > 59 or second > 60:
        return None
    try:
        days = datetime.date(year, month, day).toordinal() - _EPOCH
    except ValueError:
        return None
    milli = int((found.group(7) or "0").ljust(3, "0")[:3])
    if second == 60:
        second, milli = 59, 999
    return ((days * 24 + hour) * 60 + minute) * 60 + second + milli / 1000


_EPOCH = datetime.date(1970, 1, 1).toordinal()


def marker_time(stamp: float) -> str:
    """
    A read marker's time as IRCv3 writes it (always four digits of year):
    what L{parse_server_time} read, written back the same to the millisecond.
    """
    seconds, milli = divmod(round(stamp * 1000), 1000)
    t = time.gmtime(seconds)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{milli:03d}Z"
    )


MULTILINE_CONCAT = "draft/multiline-concat"
"""
The tag of a line that continues the one before it (IRCv3 multiline).
"""


def server_time(stamp: float) -> str:
    """
    IRCv3 C{server-time}: UTC, with milliseconds.
    """
    # Rounded, not cut: a time kept to the millisecond (said_at) may be a
    # hair under it as a float.
    seconds, milliseconds = divmod(round(stamp * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{milliseconds:03d}Z"


_OWN_EVENTS = (Entered, Redacted)
"""
The events read markers and redaction change (see L{Encoder.base}).
"""


class Encoder(encoding.Encoder):
    """
    Encodes events as IRC lines, remembering the last one (see
    L{chat.net.encoding}: a broadcast is encoded once per kind).

    One encoder per kind of client: with C{tagged}, messages carry the IRCv3
    C{time} tag (C{server-time}); with C{echo}, a sender's own private
    message comes back to it (C{echo-message}); with C{hosts}, names lists
    give each member's mask (C{userhost-in-names}); with C{prefixes}, every
    prefix of a member, not only the highest (C{multi-prefix}); with
    C{wallops} off (user mode C{-w}), no WALLOPS; with C{marking}
    (C{draft/read-marker}), the names shown on entering a room are not
    ended: the read marker the session tells next comes before their end;
    with C{redaction} (C{draft/message-redaction}), REDACT; with C{multiline}
    (C{draft/multiline} and C{batch}), a message of several lines as one batch.
    """

    __slots__ = (
        "accounts",
        "base",
        "batch_ref",
        "clock",
        "echo",
        "hosts",
        "marking",
        "multiline",
        "prefixes",
        "redaction",
        "server",
        "tagged",
        "tags",
        "wallops",
        "watching",
    )

    def __init__(
        self,
        server: str,
        clock: Callable[[], float],
        tagged: bool = False,
        echo: bool = False,
        hosts: bool = False,
        prefixes: bool = False,
        wallops: bool = True,
        tags: bool = False,
        accounts: bool = False,
        watching: frozenset[str] = frozenset(),
        marking: bool = False,
        redaction: bool = False,
        base: Encoder | None = None,
        multiline: bool = False,
        batch_ref: Callable[[], str] = lambda: "ml",
    ) -> None:
        self.server = server
        self.multiline = multiline
        # Batch references (for a message of several lines, to a client
        # that takes them), unique for this kind's connections.
        self.batch_ref = batch_ref
        # The encoder of the same kind without marking and redaction, which
        # writes every other event.
        self.base = base
        self.marking = marking
        self.redaction = redaction
        self.clock = clock
        self.tagged = tagged
        self.echo = echo
        self.hosts = hosts
        self.prefixes = prefixes
        self.wallops = wallops
        self.tags = tags
        self.accounts = accounts
        # Which of away-notify, extended-join, setname, extended-monitor it took.
        self.watching = watching
        super().__init__()

    def _tags(self, meta: Meta | None) -> dict[str, str] | None:
        """
        The tags this kind of client gets with a message: the time
        (server-time), its id, the bot tag and its sender's client's tags
        (message-tags), its sender's account (account-tag).
        """
        if meta is None:
            tags = {"time": server_time(self.clock())} if self.tagged else {}
            return tags or None
        # A message's own time: the same for every kind of client.
        tags = {"time": server_time(meta.time or self.clock())} if self.tagged else {}
        if self.tags:
            tags["msgid"] = meta.msgid
            if meta.bot:
                tags["bot"] = ""
            tags.update(meta.tags)
        if self.accounts and meta.account is not None:
            tags["account"] = meta.account
        return tags or None

    def _lines(self, source: str, target: str, verb: str, meta: Multiline) -> bytes:
        """
        A message of several lines (IRCv3 multiline): to a client that takes
        them, one C{draft/multiline} batch, its tags on the batch and each
        line as it was sent; to any other, each line that is not blank as a
        message of its own, the first with the message's id.
        """
        tags = self._tags(meta) or {}
        if self.multiline:
            ref = self.batch_ref()
            inner = {"batch": ref}
            concat = {"batch": ref, MULTILINE_CONCAT: ""}
            return (
                build("BATCH", "+" + ref, "draft/multiline", target, source=source, tags=tags)
                + b"".join(
                    build(
                        verb, target, line, source=source, tags=concat if more else inner, text=True
                    )
                    for line, more in meta.lines
                )
                + build("BATCH", "-" + ref, source=source)
            )
        out = []
        for line, _ in meta.lines:
            if line.strip():
                out.append(privmsg(source, target, line, verb, dict(tags) or None))
                tags.pop("msgid", None)
        return b"".join(out)

    def encode(self, event: Event) -> bytes:
        base = self.base
        if (
            base is not None
            and type(event) not in _OWN_EVENTS
            and not (self.multiline and type(event) is Message and type(event.meta) is Multiline)
        ):
            # Written as for the kind without read markers, redaction and
            # multiline: the same bytes, made once for both kinds.
            return base(event)
        match event:
            case Message(room, sender, text, notice, meta):
                verb = "NOTICE" if notice else "PRIVMSG"
                if type(meta) is Multiline:
                    return self._lines(mask(sender), channel(room), verb, meta)
                return privmsg(mask(sender), channel(room), text, verb, self._tags(meta))
            case Action(room, sender, text, meta):
                return privmsg(
                    mask(sender), channel(room), action_text(text), tags=self._tags(meta)
                )
            case StatusMessage(room, sender, text, to, notice, action, meta):
                verb = "NOTICE" if notice else "PRIVMSG"
                target = isupport.status_prefix(to) + channel(room)
                said = action_text(text) if action else text
                return privmsg(mask(sender), target, said, verb, self._tags(meta))
            case Ctcp(room, sender, text, notice, meta):
                verb = "NOTICE" if notice else "PRIVMSG"
                return privmsg(
                    mask(sender), channel(room), f"\x01{text}\x01", verb, self._tags(meta)
                )
            case PrivateMessage(sender, recipient, text, notice, meta):
                verb = "NOTICE" if notice else "PRIVMSG"
                return privmsg(mask(sender), recipient, text, verb, self._tags(meta))
            case TagMessage(sender, room, recipient, meta):
                if not self.tags:
                    return b""
                target = channel(room) if room is not None else recipient or "*"
                return build("TAGMSG", target, source=mask(sender), tags=self._tags(meta))
            case PrivateMessageSent(sender, recipient, text, away, notice, meta):
                verb = "NOTICE" if notice else "PRIVMSG"
                tags = self._tags(meta)
                echoed = privmsg(mask(sender), recipient, text, verb, tags) if self.echo else b""
                if away is not None:
                    echoed += numeric(self.server, "301", sender, recipient, away)
                return echoed
            case Joined(room, nickname, account, realname, away):
                watching = self.watching
                if "extended-join" in watching:
                    joined = build(
                        "JOIN",
                        channel(room),
                        account or "*",
                        realname or nickname,
                        source=mask(nickname),
                        text=True,
                    )
                else:
                    joined = build("JOIN", channel(room), source=mask(nickname))
                if away is not None and "away-notify" in watching:
                    joined += build("AWAY", away, source=mask(nickname), text=True)
                return joined
            case AwayChanged(nickname, away, watched):
                if "away-notify" not in self.watching or (
                    watched and "extended-monitor" not in self.watching
                ):
                    return b""
                if away is None:
                    return build("AWAY", source=mask(nickname))
                return build("AWAY", away, source=mask(nickname), text=True)
            case Redacted(room, by, msgid, reason):
                if not self.redaction:
                    return b""
                if reason is None:
                    return build("REDACT", channel(room), msgid, source=mask(by))
                return build("REDACT", channel(room), msgid, reason, source=mask(by), text=True)
            case RealnameChanged(nickname, realname, watched):
                if "setname" not in self.watching or (
                    watched and "extended-monitor" not in self.watching
                ):
                    return b""
                return build("SETNAME", realname, source=mask(nickname), text=True)
            case Presence(watcher, nickname, True, username):
                return numeric(
                    self.server, "730", watcher, f"{nickname}!{username or nickname}@{HOST}"
                )
            case Presence(watcher, nickname, False):
                return numeric(self.server, "731", watcher, nickname)
            case Parted(room, nickname, destination, said):
                reason = f"Gone to {channel(destination)}" if destination else said or "Left"
                return build("PART", channel(room), reason, source=mask(nickname), text=True)
            case Left(_, nickname, departure):
                return build("QUIT", gone(departure), source=mask(nickname), text=True)
            case Renamed(old, new):
                return build("NICK", new, source=mask(old))
            case TopicChanged(room, nickname, topic):
                return build("TOPIC", channel(room), topic or "", source=mask(nickname), text=True)
            case Announcement(sender, text):
                # An operator's word to everyone: IRC's WALLOPS (unless -w).
                if not self.wallops:
                    return b""
                return build("WALLOPS", text, source=mask(sender), text=True)
            case ModesChanged(room, by, changes):
                return modes_changed(room, by, changes)
            case Kicked(room, by, nickname, reason):
                return build(
                    "KICK", channel(room), nickname, reason or by, source=mask(by), text=True
                )
            case Invited(room, by, nickname):
                return build("INVITE", nickname, channel(room), source=mask(by))
            case Welcome(nickname, _, _):
                return self.welcome(nickname)
            case Entered(room, nickname, topic, members, total, ops, voiced, by, at, secret):
                server = self.server
                joined = build("JOIN", channel(room), source=mask(nickname))
                # A topic, if any (331 "no topic" answers TOPIC, not JOIN).
                about = b""
                if topic is not None:
                    about = numeric(server, "332", nickname, channel(room), topic)
                    if by is not None and at is not None:
                        about += numeric(
                            server, "333", nickname, channel(room), mask(by), str(int(at))
                        )
                end = not self.marking
                if total is not None:
                    # A crowd: the count, not the names (WHO lists them).
                    listed = numeric(
                        server, "NOTICE", nickname, f"{total} users in {channel(room)}"
                    )
                    if end:
                        listed += numeric(
                            server, "366", nickname, channel(room), "End of /NAMES list"
                        )
                else:
                    listed = names(
                        server,
                        nickname,
                        room,
                        members,
                        self.hosts,
                        ops,
                        voiced,
                        self.prefixes,
                        "@" if secret else "=",
                        end,
                    )
                return joined + about + listed
        raise TypeError(f"not an event: {event!r}")

    def welcome(self, nickname: str) -> bytes:
        server = self.server
        return b"".join(
            [
                numeric(server, "001", nickname, f"Welcome to {server}, {nickname}"),
                numeric(
                    server, "002", nickname, f"Your host is {server}, running version {VERSION}"
                ),
                numeric(server, "003", nickname, "This server is a chat server"),
                numeric(
                    server,
                    "004",
                    nickname,
                    server,
                    VERSION,
                    isupport.USER_MODES,
                    isupport.channel_modes(),
                    isupport.argument_modes(),
                ),
                *(
                    numeric(server, "005", nickname, *tokens, "are supported by this server")
                    for tokens in isupport.lines()
                ),
            ]
        )


def numeric(server: str, code: str, target: str, *params: str) -> bytes:
    """
    A numeric reply from the server to C{target} (C{*} before registration).
    """
    return build(code, target or "*", *params, source=server, text=True)


def marks(operator: bool, voiced: bool, every: bool) -> str:
    """
    A member's prefixes: C{@} for an operator of the room, C{+} for a voiced
    member; the highest only, or (C{every}: C{multi-prefix}) both.
    """
    if operator:
        return "@+" if every and voiced else "@"
    return "+" if voiced else ""


def prefix(nickname: str, ops: Collection[str], voiced: Collection[str], every: bool) -> str:
    """
    The prefixes of C{nickname} among a room's C{ops} and C{voiced} (see L{marks}).
    """
    return marks(nickname in ops, nickname in voiced, every)


def names(
    server: str,
    nickname: str,
    room: str,
    members: Iterable[str],
    hosts: bool = False,
    ops: Collection[str] = (),
    voiced: Collection[str] = (),
    every: bool = False,
    kind: str = "=",
    end: bool = True,
) -> bytes:
    """
    NAMES: the members (with C{hosts}, their masks), with their prefixes,
    as many per line as fit, then (C{end}) the end.
    """
    members = [
        prefix(member, ops, voiced, every) + (mask(member) if hosts else member)
        for member in members
    ]
    head = build("353", nickname, kind, channel(room), "x", source=server).rsplit(b"x", 1)[0]
    listed = b"".join(
        numeric(server, "353", nickname, kind, channel(room), line) for line in fill(head, members)
    )
    if not end:
        return listed
    return listed + numeric(server, "366", nickname, channel(room), "End of /NAMES list")


def stored(
    server: str,
    nickname: str,
    entries: Sequence[Entry],
    tagged: bool,
    batch: str | None = None,
    room: str | None = None,
    peer: str | None = None,
    ids: bool = False,
    always: bool = False,
) -> bytes:
    """
    Stored messages, replayed as the messages they were; with server-time,
    tagged with the time they were said; with C{ids} (message-tags), with
    their ids (by which the user may delete its own); with a C{batch} reference (the
    client has C{batch}), as one C{chathistory} batch of C{room}, of the
    user's conversation with C{peer}, or of the user's own kept messages
    (C{always}: a batch even of nothing, the answer to C{CHATHISTORY}).
    Private messages the user sent come from it, to whom it sent them.

    The time is also written in front of the text unless the client takes
    both: a client that takes server-time but not batch (irssi) shows a
    replayed line at the time it arrives, as if it were said now; one that
    takes batch knows the batch is history.
    """
    out = []
    visible = batch is None or not tagged
    for entry in entries:
        text = entry.text
        if visible:
            text = f"[{time.strftime('%Y-%m-%d %H:%M', time.gmtime(entry.time))}] {text}"
        if entry.kind is EntryKind.ACTION:
            text = action_text(text)
        source, target = entry.sender, nickname
        if entry.room is not None:
            target = channel(entry.room)
        elif entry.outgoing:
            source, target = nickname, entry.recipient or nickname
        tags = {"time": server_time(entry.time)} if tagged else {}
        if ids and entry.msgid is not None:
            tags["msgid"] = entry.msgid
        if batch is not None:
            tags["batch"] = batch
        if "\n" in text:
            # A message of several lines: replayed as its lines, the first
            # with its id.
            for line in text.split("\n"):
                if line.strip():
                    out.append(privmsg(mask(source), target, line, tags=dict(tags) or None))
                    tags.pop("msgid", None)
            continue
        out.append(privmsg(mask(source), target, text, tags=tags or None))
    if batch is None or not (out or always):
        return b"".join(out)
    about = channel(room) if room is not None else peer or nickname
    return (
        build("BATCH", "+" + batch, "chathistory", about, source=server)
        + b"".join(out)
        + build("BATCH", "-" + batch, source=server)
    )


def error_numeric(server: str, nickname: str, failure: ChatError, verb: str) -> bytes:
    """
    The numeric for a domain error (C{verb} is the command that caused it).
    """
    match failure:
        case NicknameTaken(nickname=taken):
            return numeric(server, "433", nickname, taken, "Nickname is already in use")
        case InvalidNickname(nickname=bad):
            return numeric(server, "432", nickname, bad, "Erroneous nickname")
        case NoSuchUser(nickname=missing):
            return numeric(server, "401", nickname, missing, "No such nick/channel")
        case NoSuchRoom(name=name):
            return numeric(server, "403", nickname, channel(name), "No such channel")
        case NotRoomOperator(name=name):
            return numeric(server, "482", nickname, channel(name), "You're not channel operator")
        case CannotJoin(name=name, why=CannotJoin.FULL):
            return numeric(server, "471", nickname, channel(name), "Cannot join channel (+l)")
        case CannotJoin(name=name, why=CannotJoin.BANNED):
            return numeric(server, "474", nickname, channel(name), "Cannot join channel (+b)")
        case CannotJoin(name=name, why=CannotJoin.INVITE_ONLY):
            return numeric(server, "473", nickname, channel(name), "Cannot join channel (+i)")
        case CannotJoin(name=name):
            return numeric(server, "475", nickname, channel(name), "Cannot join channel (+k)")
        case CannotSend(name=name, why=CannotSend.NO_CTCP):
            return numeric(
                server, "404", nickname, channel(name), "Cannot send CTCP to channel (+C)"
            )
        case CannotSend(name=name):
            return numeric(server, "404", nickname, channel(name), "Cannot send to channel (+m)")
        case NotInThatRoom(nickname=other, name=name):
            return numeric(
                server, "441", nickname, other, channel(name), "They aren't on that channel"
            )
        case AlreadyThere(nickname=other, name=name):
            return numeric(server, "443", nickname, other, channel(name), "is already on channel")
        case UnknownMode(letter=letter):
            return numeric(server, "472", nickname, letter, "is unknown mode char to me")
        case ListFull(name=name, letter=letter):
            return numeric(
                server, "478", nickname, channel(name), letter, "Channel ban list is full"
            )
        case InvalidMask(name=name, mask=bad, letter=letter):
            return numeric(
                server, "696", nickname, channel(name), letter, bad or "*", "Invalid ban mask"
            )
        case TooManyRooms(name=name):
            return numeric(
                server, "405", nickname, channel(name), "You have joined too many channels"
            )
        case NotInRoom(name=name) if verb in ("PRIVMSG", "NOTICE"):
            return numeric(server, "404", nickname, channel(name), "Cannot send to channel")
        case NotInRoom(name=name):
            return numeric(server, "442", nickname, channel(name), "You're not on that channel")
        case InvalidRoomName(name=name):
            return numeric(server, "479", nickname, channel(name), "Illegal channel name")
        case NotLoggedIn():
            return numeric(server, "451", nickname, "You have not registered")
        case AlreadyRegistered(nickname=registered):
            return notice_from_services(nickname, f"{registered} is registered already.")
        case KeepingNeedsAccount(name=name):
            return notice_from_services(
                nickname,
                f"Log in to an account to register {channel(name)} (/msg NickServ IDENTIFY).",
                ROOM_SERVICE,
            )
        case AlreadyKept(name=name, founder=None):
            return notice_from_services(
                nickname, f"{channel(name)} is always registered.", ROOM_SERVICE
            )
        case AlreadyKept(name=name, founder=founder):
            return notice_from_services(
                nickname, f"{channel(name)} is registered already, to {founder}.", ROOM_SERVICE
            )
        case RoomNotKept(name=name):
            return notice_from_services(
                nickname, f"{channel(name)} is not registered.", ROOM_SERVICE
            )
        case NotFounder(name=name, founder=founder):
            return notice_from_services(
                nickname,
                f"Only {founder}, who registered {channel(name)}, or an IRC operator may drop it.",
                ROOM_SERVICE,
            )
        case TooManyKept(name=name, limit=limit):
            return notice_from_services(
                nickname,
                f"You have registered {limit} channels already: DROP one to register "
                f"{channel(name)}.",
                ROOM_SERVICE,
            )
    return numeric(server, "400", nickname, verb, "Could not process the command")


SERVICES = "NickServ"


def notice_from_services(nickname: str, text: str, service: str = SERVICES) -> bytes:
    """
    A notice from the server's NickServ (or another of its C{service}s, ChanServ).
    """
    return build("NOTICE", nickname or "*", text, source=f"{service}!{service}@{HOST}", text=True)
