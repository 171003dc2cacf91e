"""
The input line: text being typed, its cursor, and the lines typed before.

Kept apart from the terminal so that editing is plain string work, tested
without escape codes. Text is held as characters (not bytes), and drawn by
display width, so that wide characters and emoji keep the cursor in place.
The cursor moves, and Backspace and Delete remove, whole grapheme clusters:
what the user sees as one character (👍🏽, a family emoji joined with ZWJ, e
and a combining accent), found by the C{regex} module's C{\\X} (Unicode's
rules, kept up to date there rather than in tables of our own).
"""

from __future__ import annotations

from collections.abc import Callable

import regex
from wcwidth import wcswidth, wcwidth

_CLUSTER = regex.compile(r"\X")


def _previous(text: str, index: int) -> int:
    """
    Where the grapheme cluster that ends at C{index} starts.
    """
    start = 0
    for match in _CLUSTER.finditer(text, 0, index):
        start = match.start()
    return start if index else 0


def _next(text: str, index: int) -> int:
    """
    Where the grapheme cluster that starts at C{index} ends.
    """
    match = _CLUSTER.match(text, index)
    return match.end() if match and match.end() > index else min(index + 1, len(text))


def width(text: str) -> int:
    """
    How many terminal columns C{text} takes (control characters count as none).
    """
    columns = wcswidth(text)
    if columns >= 0:
        return int(columns)
    return sum(max(wcwidth(character), 0) for character in text)


def common_prefix(words: list[str]) -> str:
    """
    The longest string every one of C{words} starts with.
    """
    first, last = min(words), max(words)
    length = 0
    while length < min(len(first), len(last)) and first[length] == last[length]:
        length += 1
    return first[:length]


class LineEditor:
    """
    One line of input with Emacs-style editing and a history of submitted lines.

    @ivar text: the characters typed.
    @ivar cursor: the index in C{text} before which typing inserts.
    """

    def __init__(self, history_size: int = 500) -> None:
        self.text = ""
        self.cursor = 0
        self._history: list[str] = []
        self._history_size = history_size
        # While browsing: the index of the line shown; len(history) is the draft.
        self._browsing = 0
        self._draft = ""

    def _set(self, text: str, cursor: int | None = None) -> None:
        self.text = text
        self.cursor = len(text) if cursor is None else cursor

    def insert(self, typed: str) -> None:
        before, after = self.text[: self.cursor], self.text[self.cursor :]
        self._set(before + typed + after, self.cursor + len(typed))

    def backspace(self) -> None:
        if self.cursor:
            start = _previous(self.text, self.cursor)
            self._set(self.text[:start] + self.text[self.cursor :], start)

    def delete(self) -> None:
        end = _next(self.text, self.cursor)
        self._set(self.text[: self.cursor] + self.text[end:], self.cursor)

    def left(self) -> None:
        self.cursor = _previous(self.text, self.cursor)

    def right(self) -> None:
        self.cursor = _next(self.text, self.cursor)

    def home(self) -> None:
        self.cursor = 0

    def end(self) -> None:
        self.cursor = len(self.text)

    def kill_to_start(self) -> None:
        """
        Ctrl-U: remove everything before the cursor.
        """
        self._set(self.text[self.cursor :], 0)

    def kill_to_end(self) -> None:
        """
        Ctrl-K: remove everything from the cursor on.
        """
        self._set(self.text[: self.cursor])

    def kill_word(self) -> None:
        """
        Ctrl-W: remove the word before the cursor, and the spaces after it.
        """
        before = self.text[: self.cursor].rstrip(" ")
        start = before.rfind(" ") + 1
        self._set(self.text[:start] + self.text[self.cursor :], start)

    def up(self) -> None:
        """
        Show the previous line of the history; the line being typed is kept.
        """
        if self._browsing == 0:
            return
        if self._browsing == len(self._history):
            self._draft = self.text
        self._browsing -= 1
        self._set(self._history[self._browsing])

    def down(self) -> None:
        """
        Show the next line of the history, and past the last, the line being typed.
        """
        if self._browsing >= len(self._history):
            return
        self._browsing += 1
        if self._browsing == len(self._history):
            self._set(self._draft)
        else:
            self._set(self._history[self._browsing])

    def submit(self, remember: bool = True) -> str:
        """
        Take the line, leaving an empty one; C{remember} puts it in the
        history (not a password).
        """
        line = self.text
        if remember and line.strip() and (not self._history or self._history[-1] != line):
            self._history.append(line)
            del self._history[: -self._history_size]
        self._browsing = len(self._history)
        self._draft = ""
        self._set("")
        return line

    def complete(self, candidates: Callable[[str, bool], list[str]]) -> list[str]:
        """
        Tab: complete the word before the cursor.

        C{candidates(word, first)} says what the word may become (C{first}
        when it starts the line). One candidate replaces the word, followed by
        C{": "} for a nickname that starts the line and C{" "} otherwise;
        several extend it to what they have in common. Returns the candidates,
        so that several can be listed to the user.
        """
        start = self.text.rfind(" ", 0, self.cursor) + 1
        word = self.text[start : self.cursor]
        first = start == 0
        found = candidates(word, first)
        if not found:
            return found
        if len(found) == 1:
            [replacement] = found
            suffix = ": " if first and not replacement.startswith("/") else " "
            replacement += suffix
        else:
            replacement = common_prefix(found)
            if len(replacement) <= len(word):
                return found
        self._set(
            self.text[:start] + replacement + self.text[self.cursor :], start + len(replacement)
        )
        return found

    def view(self, columns: int) -> tuple[str, int]:
        """
        The part of the line to draw in C{columns} columns, and the column of
        the cursor within it: the line scrolls sideways to keep the cursor shown.
        """
        columns = max(columns, 2)
        before = self.text[: self.cursor]
        # Start far enough right that the cursor fits, leaving a column for it.
        start = 0
        while width(before[start:]) > columns - 1:
            start += 1
        shown = ""
        used = 0
        for character in self.text[start:]:
            needed = max(wcwidth(character), 0)
            if used + needed > columns:
                break
            shown += character
            used += needed
        return shown, width(before[start:])
