"""
Tests for L{chat.core.text}: what may reach another user's terminal, and nickname rules.
"""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase
from wcwidth import wcwidth

from chat.core.limits import MAX_NICKNAME_LENGTH, MAX_SPACES
from chat.core.text import Problem, clean, nickname_problem
from tests.helpers import draws_nothing

FORBIDDEN = {*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F)}
FORBIDDEN |= {*range(0x2066, 0x206A), 0x2028, 0x2029}
INVISIBLE = {0x200B, 0x200E, 0x200F, 0x061C, *range(0x2060, 0x2065), 0xFEFF, 0x180E}
INVISIBLE |= {0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800}
FORBIDDEN |= INVISIBLE

# What draws nothing: spaces, default-ignorable code points, format
# characters, private-use and unassigned code points, and combining marks;
# some of each, and visible characters to go between.
BLANKS = [" ", "\u00a0", "\u2003", "\u3000", "\u1680", "\u200d", "\u200c", "\ufe0f", "\u034f"]
BLANKS += ["\u00ad", "\u17b4", "\u180b", "\u206a", "\U000e0020", "\U000e0100", "\ufff0"]
BLANKS += ["\u2007", "\ufff9", "\U00013430", "\ue000", "\u0378", "\u0903", "\ud7b0"]
MARKS = ["\u0301", "\u20e3", "\u0489"]
VISIBLE = ["a", "<", "!", "\u00e9", "\u2764", "\U0001f3f4", "\U0001f468", "\u65e5", "\t", "\x1b"]
PIECES = st.one_of(st.sampled_from(VISIBLE), st.text(st.sampled_from(BLANKS + MARKS), max_size=24))
BLANKISH = st.lists(PIECES, max_size=12).map("".join)
# The tags of Scotland's flag, and a cancel tag.
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


def _blank(character: str) -> bool:
    return draws_nothing(character)


def _mark(character: str) -> bool:
    return unicodedata.category(character) in ("Mn", "Mc", "Me")


def blank_columns(text: str) -> list[int]:
    """
    How wide each run of characters that draw nothing in C{text} may be
    drawn, counting a column for a zero-width character (two for a wide
    one), less the (at most eight) invisible characters right after a
    visible one, which modify it.
    """
    widths: list[int] = []
    run: list[str] | None = None
    modifiers = 0
    for index, character in enumerate(text + "x"):
        if _blank(character) or (run is not None and _mark(character)):
            if run is None:
                run = []
                modifiers = 8 if index else 0
            if modifiers and not run and not character.isspace():
                modifiers -= 1
                continue
            run.append(character)
        elif run is not None:
            widths.append(sum(max(1, wcwidth(c)) for c in run))
            run = None
    return widths


def visible(text: str) -> list[str]:
    """
    The characters of C{text} that draw something, in order.
    """
    return [c for c in text if not _blank(c) and not _mark(c) and ord(c) not in FORBIDDEN]


class CleanTests(SynchronousTestCase):
    def test_escape_sequences_lose_their_escape(self) -> None:
        """
        ESC is removed, so a colour or clear-screen sequence is shown as inert text.
        """
        self.assertEqual(clean("\x1b[2J\x1b[31mred\x1b[0m"), "[2J[31mred[0m")

    def test_bell_carriage_return_and_c1(self) -> None:
        """
        BEL, CR, NUL and C1 controls (including the one-byte CSI, U+009B) are removed.
        """
        self.assertEqual(clean("a\x07b\rc\x00d\x9b2Je\x85f"), "abc d2Jef".replace(" ", ""))

    def test_tab_becomes_space(self) -> None:
        """
        A tab is kept as a single space rather than dropped, so words stay apart.
        """
        self.assertEqual(clean("a\tb"), "a b")

    def test_bidi_overrides_removed(self) -> None:
        """
        Bidirectional overrides and isolates cannot reorder how a line displays.
        """
        self.assertEqual(clean("abc\u202edcba\u2066x\u2069"), "abcdcbax")

    def test_keeps_unicode_and_leading_space(self) -> None:
        """
        Ordinary non-ASCII text, emoji and indentation pass through; trailing space goes.
        """
        self.assertEqual(clean("  héllo 👋🏽 日本  "), "  héllo 👋🏽 日本")

    def test_invisible_characters_removed(self) -> None:
        """
        Characters that draw nothing (zero-width space, direction marks,
        Hangul fillers, the braille blank...) cannot hide beside a name or
        pass for a blank; the joiners emoji and Persian need stay.
        """
        self.assertEqual(clean("ali\u200bce\u200e\u200f\u061c\u3164\u2800!"), "alice!")
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
        self.assertEqual(
            clean(family + " \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"),
            family + " \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        )

    def test_long_runs_of_spaces_squeezed(self) -> None:
        """
        A run of spaces (of any kind) longer than 16 is cut to 16: indentation
        stays, but nothing can be pushed onto the next row of a terminal.
        """
        self.assertEqual(clean(" " * 100 + "<obs> hi"), " " * 16 + "<obs> hi")
        self.assertEqual(clean("a" + "\u3000" * 30 + "b"), "a" + " " * 16 + "b")
        self.assertEqual(clean("    def f():"), "    def f():")

    def test_blank_runs_measured_in_columns(self) -> None:
        """
        A run of blanks is one run whatever it is made of (spaces, joiners,
        selectors, tags, accents on spaces), measured in columns: wider than
        16 it becomes 16 plain spaces, however its pieces are cut. The
        invisible characters right after a visible one (up to eight) stay
        with it.
        """
        self.assertEqual(clean("a" + (" " * 16 + "\u200d") * 5 + "b"), "a" + " " * 16 + "b")
        self.assertEqual(clean("-" + ("\u200c" + " " * 16) * 5 + "b"), "-\u200c" + " " * 16 + "b")
        self.assertEqual(clean("a" + " \u0301" * 17 + "b"), "a" + " " * 16 + "b")
        self.assertEqual(clean("a" + " \ufe0f\U000e0020" * 6 + "b"), "a" + " " * 6 + "b")
        self.assertEqual(clean("a" + "\u3000" * 9 + "b"), "a" + " " * 16 + "b")
        self.assertEqual(clean("a" + "\u3000" * 8 + "b"), "a" + "\u3000" * 8 + "b")
        self.assertEqual(clean("a" + "\u200d" * 30 + "b"), "a" + "\u200d" * 8 + "b")

    def test_emoji_sequences_kept(self) -> None:
        """
        Emoji joined by ZWJ, with a variation selector, a keycap or a flag's
        tags stay whole, also before a run of spaces that is cut.
        """
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
        texts = [family, "\u2764\ufe0f\u200d\U0001f525", "1\ufe0f\u20e3", SCOTLAND]
        for text in texts:
            self.assertEqual(clean(f"{text} and {text}"), f"{text} and {text}")
            self.assertEqual(clean(text + " " * 40 + "x"), text + " " * 16 + "x")

    @given(st.one_of(BLANKISH, st.text()))
    def test_no_blank_run_wider_than_the_cap(self, text: str) -> None:
        """
        Whatever the input, no run of characters that draw nothing comes out
        wider than 16 columns, nothing visible is taken out, and cleaning
        again changes nothing.
        """
        cleaned = clean(text)
        self.assertLessEqual(max(blank_columns(cleaned), default=0), MAX_SPACES)
        self.assertEqual(visible(cleaned), visible(text.replace("\t", " ")))
        self.assertEqual(clean(cleaned), cleaned)

    @given(st.text())
    def test_no_control_characters_survive(self, text: str) -> None:
        """
        Whatever the input, no forbidden code point is in the output.
        """
        self.assertFalse(FORBIDDEN & {ord(c) for c in clean(text)})


class NicknameTests(SynchronousTestCase):
    def test_valid(self) -> None:
        """
        Letters, then letters, digits, '_' and '-', up to the limit, are accepted.
        """
        for nickname in ["a", "Alice", "bob_2", "x-y", "A" * MAX_NICKNAME_LENGTH]:
            self.assertIsNone(nickname_problem(nickname), nickname)

    def test_invalid(self) -> None:
        """
        Each broken rule is named.
        """
        cases = {
            "": Problem.EMPTY,
            "A" * (MAX_NICKNAME_LENGTH + 1): Problem.TOO_LONG,
            "1abc": Problem.BAD_START,
            "*admin": Problem.BAD_START,
            "éric": Problem.BAD_START,
            "bob smith": Problem.BAD_CHARACTERS,
            "bob\x1b": Problem.BAD_CHARACTERS,
            "bøb": Problem.BAD_CHARACTERS,
        }
        for nickname, problem in cases.items():
            self.assertEqual(nickname_problem(nickname), problem, nickname)
