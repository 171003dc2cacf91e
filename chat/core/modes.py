"""
Room modes: what a room's operators may restrict, and who they are.

A room's modes are written as IRC writes them (C{+nt}, C{+o bob}, C{-k}) on
both doors: the letters are short, every IRC user knows them, and a line
user's C{/mode} and an IRC user's C{MODE} then mean the same thing. Parsing
them is a text rule of the core; what each one does is the domain's
(L{chat.core.domain}).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class Mode(enum.Enum):
    """
    One mode of a room; its value is its letter.
    """

    TOPIC_LOCKED = "t"
    """Only the room's operators set its topic."""
    NO_OUTSIDE = "n"
    """Only members say things in it."""
    MODERATED = "m"
    """Only its operators and voiced members say things in it."""
    INVITE_ONLY = "i"
    """Only those its operators invite may join."""
    SECRET = "s"
    """Not listed, and not shown in WHOIS to those outside it."""
    NO_CTCP = "C"
    """No client-to-client requests (IRC's CTCP) but actions."""
    KEY = "k"
    """Joining takes a key (a password for the room)."""
    LIMIT = "l"
    """At most so many members."""
    OPERATOR = "o"
    """A member who is one of the room's operators."""
    VOICE = "v"
    """A member who may speak in a moderated room."""
    BAN = "b"
    """A ban mask (the list can be asked for; chat's bans are server-wide)."""
    BAN_EXCEPTION = "e"
    """A mask let in past the room's ban masks."""
    INVITE_EXCEPTION = "I"
    """A mask let into the room while it is invite-only, without an invitation."""


FLAGS = frozenset(
    {
        Mode.TOPIC_LOCKED,
        Mode.NO_OUTSIDE,
        Mode.MODERATED,
        Mode.INVITE_ONLY,
        Mode.SECRET,
        Mode.NO_CTCP,
    }
)
"""
The modes that are on or off, with no argument.
"""

MEMBER_MODES = frozenset({Mode.OPERATOR, Mode.VOICE})
"""
The modes given to a member, named by its nickname.
"""

LIST_MODES = frozenset({Mode.BAN, Mode.BAN_EXCEPTION, Mode.INVITE_EXCEPTION})
"""
The modes that keep a list of masks: set and unset with a mask, listed when given alone.
"""

NEW_ROOM = frozenset({Mode.NO_OUTSIDE, Mode.TOPIC_LOCKED})
"""
What a room its creator makes starts with (as on most IRC servers).
"""

MODE_LETTERS = "".join(sorted(m.value for m in Mode))

MODE_USAGE = "[CHANGES]"


@dataclass(frozen=True, slots=True)
class ModeChange:
    """
    One mode set (C{on}) or unset, with its argument if it takes one: a
    nickname for C{o} and C{v}, the key for C{+k}, the number for C{+l}.
    """

    mode: Mode
    on: bool
    argument: str | None = None


def takes_argument(mode: Mode, on: bool) -> bool:
    """
    Whether C{mode}, set (C{on}) or unset, is followed by an argument.
    """
    if mode in MEMBER_MODES or mode in LIST_MODES:
        return True
    if mode is Mode.KEY:
        # -k takes the key on IRC (RFC 2812); it is read and not checked.
        return True
    return mode is Mode.LIMIT and on


def parse_modes(text: str, arguments: Sequence[str]) -> tuple[list[ModeChange], list[str], bool]:
    """
    C{text} (C{+nt-k}, C{+ov bob carol}) and its C{arguments} as changes.

    @return: the changes, the letters that are no mode, and whether an
        argument was missing (the change that needed it is left out).
    """
    changes: list[ModeChange] = []
    unknown: list[str] = []
    missing = False
    on = True
    given = iter(arguments)
    for letter in text:
        if letter in "+-":
            on = letter == "+"
            continue
        try:
            mode = Mode(letter)
        except ValueError:
            unknown.append(letter)
            continue
        argument = None
        if takes_argument(mode, on):
            argument = next(given, None)
            if argument is None:
                if mode is Mode.KEY and not on:
                    # "-k" alone: unambiguous enough, and clients send it.
                    changes.append(ModeChange(mode, on))
                elif mode in LIST_MODES:
                    # "+b" (or "+e", "+I") alone asks for the list.
                    changes.append(ModeChange(mode, on))
                else:
                    missing = True
                continue
        changes.append(ModeChange(mode, on, argument))
    return changes, unknown, missing


def mode_string(changes: Iterable[ModeChange]) -> tuple[str, list[str]]:
    """
    C{changes} written as one mode string and its arguments (C{+o-v}, C{[bob, carol]}).
    """
    text, arguments, sign = "", [], ""
    for change in changes:
        wanted = "+" if change.on else "-"
        if wanted != sign:
            text += wanted
            sign = wanted
        text += change.mode.value
        if change.argument is not None:
            arguments.append(change.argument)
    return text, arguments
