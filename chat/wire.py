"""
The line protocol's vocabulary: how each domain event and each error reads on the wire.

Every line the server sends is built here, so the whole grammar can be checked
against C{docs/protocol.md} in one file. Lines are UTF-8 and end in CRLF.

Three kinds of line can never be confused, because nicknames cannot start with
C{*}, C{!}, C{<} or C{-}:

  - server notices start with L{NOTICE} (C{"*** "});
  - errors start with L{ERROR} (C{"!!! "});
  - everything a user says starts with C{<nick>}, C{* nick}, C{*nick*} or C{-> *nick*}.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from chat.bans import Ban
from chat.database import ACTION, Entry
from chat.domain import RoomInfo
from chat.errors import (
    AlreadyInRoom,
    ChatError,
    InvalidNickname,
    InvalidRoomName,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotLoggedIn,
)
from chat.events import (
    Action,
    Announcement,
    Entered,
    Event,
    Joined,
    Left,
    Message,
    Parted,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    TopicChanged,
    Welcome,
)
from chat.text import MAX_NICKNAME_LENGTH, clean

NOTICE = "*** "
ERROR = "!!! "
EOL = b"\r\n"

NICKNAME_RULES = f"1 to {MAX_NICKNAME_LENGTH} letters, digits, '_' or '-', starting with a letter"


def encode(text: str) -> bytes:
    """
    One wire line: UTF-8 with the CRLF terminator.
    """
    return text.encode("utf-8") + EOL


def notice(text: str) -> bytes:
    """
    A server notice line. Its text is cleaned: notices quote operator files
    (the MOTD), and errors quote what the user typed.
    """
    return encode(NOTICE + clean(text))


def error(text: str) -> bytes:
    """
    An error line, cleaned as notices are.
    """
    return encode(ERROR + clean(text))


def format_event(event: Event) -> str:
    """
    The text of the line that shows C{event}, without its terminator.

    The line protocol keeps each user in one room, so room events need not
    name their room. Entering a room with a topic is the one two-line event.
    """
    match event:
        case Message(_, sender, text):
            return f"<{sender}> {text}"
        case Action(_, sender, text):
            return f"* {sender} {text}"
        case PrivateMessage(sender, _, text):
            return f"*{sender}* {text}"
        case PrivateMessageSent(_, recipient, text):
            return f"-> *{recipient}* {text}"
        case Joined(_, nickname):
            return f"{NOTICE}{nickname} has joined"
        case Parted(_, nickname, None):
            return f"{NOTICE}{nickname} has left the room"
        case Parted(_, nickname, destination):
            return f"{NOTICE}{nickname} has gone to {destination}"
        case Left(_, nickname, None):
            return f"{NOTICE}{nickname} has left"
        case Left(_, nickname, reason):
            return f"{NOTICE}{nickname} has left ({reason})"
        case Announcement(sender, text):
            return f"{NOTICE}Announcement from {sender}: {text}"
        case Renamed(old, new):
            return f"{NOTICE}{old} is now known as {new}"
        case TopicChanged(_, nickname, None):
            return f"{NOTICE}{nickname} cleared the topic"
        case TopicChanged(_, nickname, topic):
            return f"{NOTICE}{nickname} set the topic: {topic}"
        case Welcome(nickname, online, total):
            return f"{NOTICE}You are {nickname}. {who(online, total=total, command='/who *')}"
        case Entered(room, topic, members, total):
            line = f"{NOTICE}You are in {room}. {who(members, 'here', total, '/who')}"
            return line if topic is None else f"{line}\r\n{NOTICE}Topic: {topic}"
    raise TypeError(f"not an event: {event!r}")


def who(
    names: Iterable[str], where: str = "online", total: int | None = None, command: str = ""
) -> str:
    """
    A list of users: C{where} is "online" (at login and for C{/who *}),
    "here" (on entering a room) or "in ROOM" (for C{/who}). With a C{total},
    there were too many to list: the count, and the C{command} that lists them.
    """
    if total is not None:
        return f"{total} users {where} ({command} lists them)."
    names = list(names)
    people = "user" if len(names) == 1 else "users"
    return f"{len(names)} {people} {where}: {', '.join(names)}"


def history_line(entry: Entry) -> str:
    """
    A stored message, shown with its time (UTC) in brackets: a kind of line
    nothing live starts with.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.time))
    if entry.kind == ACTION:
        return f"[{stamp}] * {entry.sender} {entry.text}"
    return f"[{stamp}] <{entry.sender}> {entry.text}"


def kept_line(entry: Entry) -> str:
    """
    A private message that waited for its recipient, with the time it was sent.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.time))
    return f"[{stamp}] *{entry.sender}* {entry.text}"


def ban(ban: Ban) -> str:
    """
    A ban's extent and reason: C{" until 2026-11-21 13:00 UTC: spamming"}.
    """
    until = ""
    if ban.until is not None:
        until = " until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ban.until))
    return until + (f": {ban.reason}" if ban.reason else "")


def topic(room: str, text: str | None) -> str:
    """
    What C{/topic} shows.
    """
    return f"Topic of {room}: {text}" if text else f"{room} has no topic."


def rooms(infos: Iterable[RoomInfo]) -> list[str]:
    """
    What C{/rooms} shows, a line each.
    """
    infos = list(infos)
    lines = [f"{len(infos)} room{'' if len(infos) == 1 else 's'}:"]
    for info in infos:
        line = f"  {info.name} ({info.users})"
        lines.append(f"{line}: {info.topic}" if info.topic else line)
    return lines


def describe(failure: ChatError) -> str:
    """
    The sentence that explains a domain error to the user who caused it.
    """
    match failure:
        case InvalidNickname(nickname=nickname, reason=reason):
            return f"Invalid nickname {_shorten(nickname)!r}: {reason}."
        case NicknameTaken(nickname=nickname):
            return f"The nickname {nickname} is taken."
        case NoSuchUser(nickname=nickname):
            return f"No such user: {nickname}"
        case NotLoggedIn():
            return "You are not logged in."
        case InvalidRoomName(name=name, reason=reason):
            return f"Invalid room name {_shorten(name)!r}: {reason}."
        case NoSuchRoom(name=name):
            return f"No such room: {name}"
        case NotInRoom(name=name):
            return f"You are not in {name}."
        case AlreadyInRoom(name=name):
            return f"You are already in {name}."
    return f"Refused: {failure}"


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Encoder:
    """
    Encodes events, remembering the last one.

    A broadcast hands the same event object to each recipient in turn, so with
    this one-entry cache the line is formatted and encoded once and every
    recipient is written the very same C{bytes} object.
    """

    __slots__ = ("_event", "_line")

    def __init__(self) -> None:
        self._event: Event | None = None
        self._line = b""

    def __call__(self, event: Event) -> bytes:
        if event is not self._event:
            self._line = encode(format_event(event))
            self._event = event
        return self._line
