"""
Making user-supplied text safe to show on somebody else's terminal.

Terminals obey control characters: ESC starts sequences that recolour, move the
cursor, clear the screen or retitle the window; BEL beeps; CR overwrites the
line. Bidirectional overrides make a line display in a different order from
the one it is stored in. None of those may travel from one user to another.
"""

from __future__ import annotations

import re

# Code points removed from user text, by range:
#   C0 controls and DEL, except TAB (which becomes a space);
#   C1 controls (U+0080-U+009F; U+009B alone is a complete CSI introducer);
#   bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069);
#   LINE and PARAGRAPH SEPARATOR (U+2028, U+2029), which some terminals and
#   clients treat as line breaks.
_REMOVED = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_REMOVED += [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]
_TABLE: dict[int, str | None] = dict.fromkeys(_REMOVED)
_TABLE[0x09] = " "

MAX_NICKNAME_LENGTH = 16
MAX_ROOM_NAME_LENGTH = 24
MAX_TOPIC_LENGTH = 200
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def clean(text: str) -> str:
    """
    Return C{text} without control characters and without trailing white space.

    Leading white space is kept on purpose: people indent code and ASCII art.
    """
    return text.translate(_TABLE).rstrip()


def nickname_problem(nickname: str) -> str | None:
    """
    Say what is wrong with C{nickname}, or return L{None} if it is acceptable.

    Nicknames are plain ASCII so that they are easy to type from any keyboard,
    cannot impersonate each other with look-alike characters, and can never
    make a chat line look like a server notice (C{***}) or an error (C{!!!}).
    """
    return _name_problem(nickname, MAX_NICKNAME_LENGTH)


def room_name_problem(name: str) -> str | None:
    """
    Say what is wrong with a room name, or return L{None}: the nickname rules,
    with a longer limit.
    """
    return _name_problem(name, MAX_ROOM_NAME_LENGTH)


def _name_problem(name: str, limit: int) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > limit:
        return f"it is longer than {limit} characters"
    if not name[0].isascii() or not name[0].isalpha():
        return "it must start with a letter"
    if _NAME.fullmatch(name) is None:
        return "it may contain only letters, digits, '_' and '-'"
    return None
