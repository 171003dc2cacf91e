"""
The core's values as the log carries them: JSON, field by field.

Only what nodes must agree on is written: a message as its sender's node
made it (its id and time included, so that every copy, on every node, is
the same message), and how a user left.
"""

from __future__ import annotations

from typing import Any

from chat.core.events import (
    Action,
    Ctcp,
    Departure,
    Message,
    Meta,
    Multiline,
    PrivateMessage,
    Redacted,
    StatusMessage,
    TagMessage,
    Why,
)
from chat.core.messages import Made
from chat.core.modes import Mode

Said = Made


def meta(value: Meta | None) -> list[Any] | None:
    if value is None:
        return None
    lines = [list(line) for line in value.lines] if isinstance(value, Multiline) else None
    return [value.msgid, value.account, value.bot, [list(t) for t in value.tags], value.time, lines]


def meta_of(data: list[Any] | None) -> Meta | None:
    if data is None:
        return None
    msgid, account, bot, tags, time, lines = data
    pairs = tuple((str(name), str(value)) for name, value in tags) if tags else ()
    if lines is not None:
        return Multiline(
            msgid, account, bot, pairs, time, tuple((str(t), bool(c)) for t, c in lines)
        )
    return Meta(msgid, account, bot, pairs, time)


def said(event: Said) -> list[Any]:
    """
    A message of any kind (L{Made}), as written in the log.
    """
    match event:
        case Message(room, sender, text, notice, m):
            return ["m", room, sender, text, notice, meta(m)]
        case Action(room, sender, text, m):
            return ["a", room, sender, text, meta(m)]
        case PrivateMessage(sender, recipient, text, notice, m, to):
            return ["p", sender, recipient, text, notice, meta(m), to]
        case Ctcp(room, sender, text, notice, m):
            return ["c", room, sender, text, notice, meta(m)]
        case StatusMessage(room, sender, text, to, notice, action, m):
            return ["s", room, sender, text, to.value, notice, action, meta(m)]
        case TagMessage(sender, room, recipient, m):
            return ["t", sender, room, recipient, meta(m)]
        case Redacted(room, by, msgid, reason):
            return ["r", room, by, msgid, reason]
    raise TypeError(f"not a message: {event!r}")


def said_of(data: list[Any]) -> Said:
    match data:
        case ["m", room, sender, text, notice, m]:
            return Message(room, sender, text, notice, meta_of(m))
        case ["a", room, sender, text, m]:
            return Action(room, sender, text, meta_of(m))
        case ["p", sender, recipient, text, notice, m, to]:
            return PrivateMessage(sender, recipient, text, notice, meta_of(m), to)
        case ["c", room, sender, text, notice, m]:
            return Ctcp(room, sender, text, notice, meta_of(m))
        case ["s", room, sender, text, to, notice, action, m]:
            return StatusMessage(room, sender, text, Mode(to), notice, action, meta_of(m))
        case ["t", sender, room, recipient, m]:
            made = meta_of(m)
            assert made is not None
            return TagMessage(sender, room, recipient, made)
        case ["r", room, by, msgid, reason]:
            return Redacted(room, by, msgid, reason)
    raise ValueError(f"not a message: {data!r}")


def departure(value: Departure) -> list[Any]:
    return [value.why.value, value.by, value.text]


def departure_of(data: list[Any]) -> Departure:
    why, by, text = data
    return Departure(Why(why), by, text)
