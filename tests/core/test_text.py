"""
Tests for L{chat.core.text}: what may reach another user's terminal, and nickname rules.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import MAX_NICKNAME_LENGTH
from chat.core.text import Problem, clean, nickname_problem

FORBIDDEN = {*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F)}
FORBIDDEN |= {*range(0x2066, 0x206A), 0x2028, 0x2029}
INVISIBLE = {0x200B, 0x200E, 0x200F, 0x061C, *range(0x2060, 0x2065), 0xFEFF, 0x180E}
INVISIBLE |= {0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800}
FORBIDDEN |= INVISIBLE


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
