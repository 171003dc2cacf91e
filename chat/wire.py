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

from collections.abc import Iterable

from chat.errors import ChatError, InvalidNickname, NicknameTaken, NoSuchUser, NotLoggedIn
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
    """
    match event:
        case Message(sender, text):
            return f"<{sender}> {text}"
        case Action(sender, text):
            return f"* {sender} {text}"
        case PrivateMessage(sender, _, text):
            return f"*{sender}* {text}"
        case PrivateMessageSent(_, recipient, text):
            return f"-> *{recipient}* {text}"
        case Joined(nickname):
            return f"{NOTICE}{nickname} has joined"
        case Left(nickname, None):
            return f"{NOTICE}{nickname} has left"
        case Left(nickname, reason):
            return f"{NOTICE}{nickname} has left ({reason})"
        case Renamed(old, new):
            return f"{NOTICE}{old} is now known as {new}"
        case Welcome(nickname, online):
            return f"{NOTICE}You are {nickname}. {who(online)}"
    raise TypeError(f"not an event: {event!r}")


def who(online: Iterable[str]) -> str:
    """
    The list of users online, as shown at login and by C{/who}.
    """
    names = list(online)
    people = "user" if len(names) == 1 else "users"
    return f"{len(names)} {people} online: {', '.join(names)}"


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
