"""
Making user-supplied text safe to show on somebody else's terminal.

Terminals obey control characters: ESC starts sequences that recolour, move the
cursor, clear the screen or retitle the window; BEL beeps; CR overwrites the
line. Bidirectional overrides make a line display in a different order from
the one it is stored in. None of those may travel from one user to another.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

import regex
from wcwidth import wcwidth

from chat.core.limits import (
    MAX_DURATION,
    MAX_NICKNAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_SPACES,
    MIN_PASSWORD_LENGTH,
)

# Code points removed from user text, by range:
#   C0 controls and DEL, except TAB (which becomes a space);
#   C1 controls (U+0080-U+009F; U+009B alone is a complete CSI introducer);
#   bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069);
#   LINE and PARAGRAPH SEPARATOR (U+2028, U+2029), which some terminals and
#   clients treat as line breaks;
#   invisible characters that let one text pass for another (a nickname
#   with a hidden character beside it, a blank that is not one): zero-width
#   space and no-break space, the direction marks (U+200E, U+200F, U+061C),
#   word joiner and invisible operators (U+2060-U+2064), the Mongolian vowel
#   separator, and the fillers that draw nothing (Hangul U+115F, U+1160,
#   U+3164, U+FFA0; braille blank U+2800). The joiners emoji and Persian
#   need (ZWJ U+200D, ZWNJ U+200C) stay.
_REMOVED = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]
_REMOVED += [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]
_REMOVED += [0x200B, 0x200E, 0x200F, 0x061C, *range(0x2060, 0x2065), 0xFEFF, 0x180E]
_REMOVED += [0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800]
_TABLE: dict[int, str | None] = dict.fromkeys(_REMOVED)
_TABLE[0x09] = " "
# The same, for text beyond ASCII, where one search costs a fifth of
# str.translate, which looks up every code point (2 against 12 us for 200
# characters).
_REMOVED_RUN = re.compile("[" + "".join(map(re.escape, map(chr, _REMOVED))) + "]+")

# Blank runs: what draws nothing on a terminal but may take columns. Every
# code point is a letter, a mark, a number, punctuation, a symbol, a
# separator or an "other" (Unicode's general categories); a blank is any
# code point that is none of the four that draw (letters, numbers,
# punctuation, symbols), or one of those that still draws nothing:
#   separators (Z): every space, whatever its width;
#   others (C): format characters (the joiners, U+FFF9-FFFB's interlinear
#     annotations, the Egyptian hieroglyph and shorthand format controls,
#     tags...), private-use code points (which draw what the terminal's font
#     has, often nothing) and unassigned ones (which a terminal that knows a
#     newer Unicode may draw as nothing);
#   marks (M): combining marks, which draw on the character before them, and
#     nothing of their own when that is a blank;
#   default-ignorable code points (the Hangul fillers, which are letters) and
#     the conjoining Hangul vowels and finals (letters that join the one
#     before them and take no column of their own).
# This is a rule, not a list: whatever a code point is in a newer Unicode or
# in a terminal's width table, tests/test_forged_rows.py checks every code
# point against Unicode's categories and the width table's zero-width ones.
# A run goes on through blanks of every kind: a ZWJ between two runs of
# spaces makes one run of them, not two. Only runs of more than
# MAX_SPACES // 2 code points are looked at: a shorter one is at most
# MAX_SPACES columns wide (no blank is wider than two).
_BLANK = (
    r"\p{Z}\p{C}\p{M}\p{Default_Ignorable_Code_Point}"
    r"\p{Hangul_Syllable_Type=V}\p{Hangul_Syllable_Type=T}"
)
_BLANK_RUN = regex.compile(f"[{_BLANK}]{{{MAX_SPACES // 2 + 1},}}")
# The invisible characters that may modify the visible one before them: an
# emoji's variation selector, a subdivision flag's tags (at most five
# letters and a cancel tag, then a VS16 or a ZWJ), a letter's marks, a
# Hangul syllable's vowel and final. More are part of the run.
_MODIFIERS = regex.compile(
    r"[\p{Default_Ignorable_Code_Point}\p{M}"
    r"\p{Hangul_Syllable_Type=V}\p{Hangul_Syllable_Type=T}]{0,8}"
)
_ASCII_SPACES = re.compile(f" {{{MAX_SPACES + 1},}}")
_MANY = " " * (MAX_SPACES + 1)

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Problem(enum.Enum):
    """
    What is wrong with a nickname, a room name or a new password; each
    door words it (with the limit that applies, for a length).
    """

    EMPTY = "empty"
    TOO_SHORT = "too short"
    TOO_LONG = "too long"
    BAD_START = "not starting with a letter"
    BAD_CHARACTERS = "characters other than letters, digits, '_' and '-'"
    ALREADY_YOURS = "already yours"


def clean(text: str) -> str:
    """
    Return C{text} without control characters, invisible ones and trailing
    white space, with no blank run wider than L{MAX_SPACES} columns.

    Leading white space is kept on purpose: people indent code and ASCII art.
    Plain ASCII, most messages, costs one search for a long run of spaces.
    """
    if text.isascii():
        cleaned = text.translate(_TABLE).rstrip()
        if _MANY in cleaned:
            cleaned = _ASCII_SPACES.sub(" " * MAX_SPACES, cleaned)
        return cleaned
    cleaned = _REMOVED_RUN.sub("", text.replace("\t", " ")).rstrip()
    return _BLANK_RUN.sub(_narrowed, cleaned).rstrip()


def clean_lines(text: str) -> str:
    """
    L{clean} for a text that may be a message of several lines (as the
    history keeps one): each line cleaned, the line breaks kept.
    """
    if "\n" not in text:
        return clean(text)
    return "\n".join(clean(line) for line in text.split("\n"))


PIECE_BYTES = 400
"""
The longest piece (in UTF-8) a line of several lines is cut into when it
must be cut again: one that fits an IRC line with any sender's name.
"""


def clean_pieces(lines: Iterable[tuple[str, bool]]) -> tuple[tuple[str, bool], ...]:
    """
    A message of several lines (IRCv3 multiline: each piece, and whether it
    continues the line before it), cleaned as its readers will see it: each
    line, its pieces joined, is clean as a whole (a run of blanks, or of
    accents, cut over several pieces is no longer than in one). Pieces keep
    the sender's cuts where cleaning the whole changes nothing; a line that
    changed is cut again into pieces of at most L{PIECE_BYTES}. A piece
    that continues another is never blank.
    """
    out: list[tuple[str, bool]] = []
    group: list[str] = []

    def line_done() -> None:
        if not group:
            return
        # A piece that the next continues keeps its trailing blanks.
        pieces = [clean(piece + "x")[:-1] for piece in group[:-1]] + [clean(group[-1])]
        whole = clean("".join(pieces))
        if whole != "".join(pieces):
            pieces = _cut(whole)
        out.extend((piece, index > 0) for index, piece in enumerate(pieces) if piece or not index)
        group.clear()

    for line, more in lines:
        if not more:
            line_done()
        group.append(line)
    line_done()
    return tuple(out)


def _cut(text: str) -> list[str]:
    pieces = []
    while len(text.encode("utf-8")) > PIECE_BYTES:
        cut = PIECE_BYTES
        while len(text[:cut].encode("utf-8")) > PIECE_BYTES:
            cut -= 1
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def joined(lines: Iterable[tuple[str, bool]]) -> str:
    """
    The text of a message of several lines (each cleaned already): a line
    break between two lines, none before one that continues the line
    before it (IRCv3 multiline-concat).
    """
    text = ""
    for index, (line, more) in enumerate(lines):
        text += line if more or not index else "\n" + line
    return text


def away_message(text: str | None) -> str | None:
    """
    An away message as it is kept: cleaned; L{None} (back) if nothing is left.
    """
    return clean(text or "").strip() or None


def real_name(text: str, limit: int) -> str | None:
    """
    A real name as it is kept (IRC's SETNAME): cleaned, at most C{limit}
    characters; L{None} if nothing is left.
    """
    return clean(text).strip()[:limit] or None


def word(text: str) -> str:
    """
    C{text} cleaned, as one word: without white space of any kind (a
    figure space, an ideographic one), not only ASCII's. A ban mask, a
    room's key and a user name are one word each.
    """
    return "".join(clean(text).split())


def _narrowed(match: regex.Match[str]) -> str:
    """
    A blank run as it may be shown: as it is if it is at most L{MAX_SPACES}
    columns wide, otherwise plain spaces, as many as the columns its spaces
    took, at most L{MAX_SPACES}, and none of its invisible characters.

    Its width counts every code point as the widest terminal draws it: two
    columns for a wide space (U+3000), one for any other, zero-width ones
    included, since a terminal that does not know one draws it as a column.
    The invisible characters right after a visible one (an emoji's VS16, a
    flag's tags) modify it, and are kept with it.
    """
    whole = match.group()
    kept = ""
    if match.start():
        modifiers = _MODIFIERS.match(whole)
        assert modifiers is not None
        kept = modifiers.group()
    run = whole[len(kept) :]
    # No code point is narrower than a column: a longer run is too wide. An
    # ASCII one is plain spaces, a column each.
    if len(run) <= MAX_SPACES and (
        run.isascii() or sum(max(1, wcwidth(c)) for c in run) <= MAX_SPACES
    ):
        return whole
    spaces = 0
    for character in run:
        if character.isspace():
            spaces += wcwidth(character)
            if spaces >= MAX_SPACES:
                break
    return kept + " " * min(MAX_SPACES, spaces)


def nickname_problem(nickname: str) -> Problem | None:
    """
    Say what is wrong with C{nickname}, or return L{None} if it is acceptable.

    Nicknames are plain ASCII so that they are easy to type from any keyboard,
    cannot impersonate each other with look-alike characters, and can never
    make a chat line look like a server notice (C{***}) or an error (C{!!!}).
    """
    return _name_problem(nickname, MAX_NICKNAME_LENGTH)


def room_name_problem(name: str) -> Problem | None:
    """
    Say what is wrong with a room name, or return L{None}: the nickname rules,
    with a longer limit.
    """
    return _name_problem(name, MAX_ROOM_NAME_LENGTH)


def _name_problem(name: str, limit: int) -> Problem | None:
    if not name:
        return Problem.EMPTY
    if len(name) > limit:
        return Problem.TOO_LONG
    if not name[0].isascii() or not name[0].isalpha():
        return Problem.BAD_START
    if _NAME.fullmatch(name) is None:
        return Problem.BAD_CHARACTERS
    return None


def password_problem(password: str) -> Problem | None:
    """
    What is wrong with a new password, or L{None}.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return Problem.TOO_SHORT
    if len(password) > MAX_PASSWORD_LENGTH:
        return Problem.TOO_LONG
    return None


def parse_duration(text: str) -> float | None:
    """
    C{"30m"}, C{"2h"}, C{"7d"}... in seconds (at most ten years), or L{None}
    if C{text} is not such a duration.
    """
    match = _DURATION.fullmatch(text)
    if match is None or len(match.group(1)) > 10:
        return None
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    return seconds if 0 < seconds <= MAX_DURATION else None
