"""
The client in a terminal: a chat view above an input line that incoming
messages never garble.

Built on Twisted's terminal toolkit: L{twisted.conch.insults} parses the
keyboard (arrows, Home/End, control keys) from standard input and this
L{TerminalProtocol} draws. Every incoming line is written over the input
line, which is then drawn again below it, prompt, half-typed text and cursor
included. The line being typed lives in a L{LineEditor}: characters, not
bytes, measured in display columns, so wide characters and emoji keep the
cursor where it belongs. (L{twisted.conch.recvline} keeps a byte per
character and accepts ASCII only, hence an editor of our own.)
"""

from __future__ import annotations

import codecs
import re
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from typing import Any

from twisted.conch.insults.insults import ServerProtocol, TerminalProtocol
from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.client.editor import LineEditor, width
from chat.client.present import Presenter, Shown
from chat.client.reading import Kind, is_nickname_question
from chat.client.session import CONNECTING, OFFLINE, ONLINE, Session

ERASE_LINE = "\r\x1b[K"
RESET = "\x1b[0m"
BELL = "\x07"
ATTENTION = "7"  # reverse video: a line that names you, or a private message

# SGR parameters for each kind of line: what stands out is what concerns you.
COLOURS = {
    Kind.OWN: "36",  # cyan
    Kind.PUBLIC: "",
    Kind.ACTION: "35",  # magenta
    Kind.PRIVATE: "1;33",  # bold yellow
    Kind.NOTICE: "32",  # green
    Kind.ERROR: "1;31",  # bold red
    Kind.HISTORY: "90",  # grey
}

# Control keys, as raw mode delivers them.
CTRL_A, CTRL_B, CTRL_C, CTRL_D = b"\x01", b"\x02", b"\x03", b"\x04"
CTRL_E, CTRL_F, CTRL_H, CTRL_K = b"\x05", b"\x06", b"\x08", b"\x0b"
CTRL_L, CTRL_N, CTRL_P, CTRL_U = b"\x0c", b"\x0e", b"\x10", b"\x15"
CTRL_W, TAB, DEL = b"\x17", b"\t", b"\x7f"


def printable(text: str) -> str:
    """
    C{text} without anything a terminal would act on: a server (or a man in
    the middle) must not be able to move our cursor, retitle the window or
    worse. The server already cleans what users send; this is the client's own guard.
    """
    return "".join(
        character for character in text if unicodedata.category(character) not in ("Cc", "Cs")
    )


_FUNCTION_KEYS = frozenset(
    getattr(ServerProtocol, name)
    for name in ("INSERT", "NUMPAD_MIDDLE", *(f"F{n}" for n in range(1, 13)))
)
"""
Keys that insults hands over as names in brackets (C{b"[F1]"}): they type nothing.
"""

SCROLLBACK = 2000
"""
How many lines the client keeps for PgUp.
"""

_PASSWORD_COMMAND = re.compile(r"\s*/(register|password|unregister|login)(\s|$)", re.IGNORECASE)
"""
The commands whose arguments are passwords.
"""

MAX_LINE_BYTES = 2048
"""
The longest line the server takes (docs/protocol.md, "Framing").
"""


class ChatScreen(TerminalProtocol):
    """
    The chat view and its input line.

    @ivar colours: whether lines are coloured by kind.
    @ivar debug: whether a mistake of the client's shows its traceback.
    @ivar timestamps: whether each line has its local time in front.
    @ivar bell: whether a line that asks for attention rings the bell.
    """

    log = Logger()

    def __init__(
        self,
        session: Session,
        colours: bool = True,
        debug: bool = False,
        timestamps: bool = True,
        bell: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.colours = colours
        self.debug = debug
        self.timestamps = timestamps
        self.bell = bell
        self.presenter = Presenter(
            lambda: session.tracker.nickname,
            clock=clock,
            timestamps=timestamps,
            room=lambda: session.tracker.room,
        )
        self._state = session.state
        self._online_before = False
        self.editor = LineEditor()
        self.columns = 80
        self.rows = 24
        # What was shown, styled, for PgUp; and how many lines back the view is
        # (0: following the chat), with how many came in meanwhile.
        self._scrollback: deque[str] = deque(maxlen=SCROLLBACK)
        self._back = 0
        self._unseen = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = 0

    # Terminal events

    def connectionMade(self) -> None:
        self.session.attach(self)
        self.draw_input()

    def terminalSize(self, width: int, height: int) -> None:
        self.columns = width
        self.rows = height
        if self._back:
            self._draw_page()
        else:
            self.draw_input()

    def keystrokeReceived(self, keyID: Any, modifier: Any) -> None:  # noqa: N803
        try:
            self._key(keyID, modifier)
        except Exception:
            self.log.failure("Could not handle the key {key!r}", key=keyID)
        if not self._held:
            self.draw_input()

    def unhandledControlSequence(self, seq: bytes) -> None:
        # Home and End in the terminal's "application" mode.
        keys = {b"\x1b[OH": self.editor.home, b"\x1b[OF": self.editor.end}
        action = keys.get(seq)
        if action is not None:
            action()
            self.draw_input()

    def hold(self) -> None:
        """
        Draw nothing until L{release}: a paste is many keystrokes and one drawing.
        """
        self._held += 1

    def release(self) -> None:
        self._held -= 1
        if not self._held:
            self.draw_input()

    def _key(self, key: Any, modifier: Any) -> None:
        terminal: Any = self.terminal
        editor = self.editor
        actions = {
            b"\r": self._enter,
            b"\n": self._enter,
            TAB: self._complete,
            DEL: editor.backspace,
            CTRL_H: editor.backspace,
            CTRL_A: editor.home,
            CTRL_E: editor.end,
            CTRL_B: editor.left,
            CTRL_F: editor.right,
            CTRL_P: editor.up,
            CTRL_N: editor.down,
            CTRL_U: editor.kill_to_start,
            CTRL_K: editor.kill_to_end,
            CTRL_W: editor.kill_word,
            CTRL_C: self.session.quit,
            CTRL_D: self._ctrl_d,
            CTRL_L: self._clear,
            terminal.LEFT_ARROW: editor.left,
            terminal.RIGHT_ARROW: editor.right,
            terminal.UP_ARROW: editor.up,
            terminal.DOWN_ARROW: editor.down,
            terminal.HOME: editor.home,
            terminal.END: editor.end,
            terminal.DELETE: editor.delete,
            terminal.PGUP: self._page_up,
            terminal.PGDN: self._page_down,
        }
        if modifier is terminal.ALT:
            if key in (DEL, CTRL_H):
                editor.kill_word()
            return
        action = actions.get(key)
        if action is not None:
            action()
        elif isinstance(key, bytes) and key not in _FUNCTION_KEYS:
            editor.insert(printable(self._decoder.decode(key)))

    def _ctrl_d(self) -> None:
        if self.editor.text:
            self.editor.delete()
        else:
            self.session.quit()

    def _clear(self) -> None:
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()

    def _enter(self) -> None:
        masked = self.session.tracker.password_for is not None
        size = len(self.editor.text.encode("utf-8"))
        if size > MAX_LINE_BYTES:
            # The server would refuse it: say so here, and keep it for editing.
            self.note(
                f"not sent: the line is {size} bytes and the server takes at most "
                f"{MAX_LINE_BYTES}; shorten it or send it in parts."
            )
            return
        # Neither a password asked for nor one typed in a command is kept in the history.
        secret = masked or _PASSWORD_COMMAND.match(self.editor.text) is not None
        line = self.editor.submit(remember=not secret)
        command = None if masked else self.presenter.typed(line)
        if command is not None:
            if command.note is not None:
                self.note(command.note)
            if command.send is None:
                return
            line = command.send
        if not self.session.typed(line.encode("utf-8")):
            self.editor.insert(line)
            self.note("not connected: your line is kept; press Enter again once connected.")

    def sent(self, line: bytes) -> None:
        """
        The server does not send us our own public lines; show them once they
        have gone (a pasted line may wait its turn).
        """
        me = self.session.tracker.nickname
        text = line.decode("utf-8", "replace").rstrip()
        if me is None or not text.strip():
            return
        if text.startswith("//"):
            said = f"<{me}> {text[1:]}"
        elif text[:4].lower() == "/me ":
            said = f"* {me} {text[4:].strip()}"
        elif text[:5].lower() == "/say ":
            said = f"<{me}> {text[5:]}"
        elif not text.startswith("/"):
            said = f"<{me}> {text}"
        else:
            return
        self._present(self.presenter.sent(said))

    def _complete(self) -> None:
        found = self.editor.complete(self.session.tracker.completions)
        if len(found) > 1:
            self.show(fit_words(found, self.columns - 1), Kind.NOTICE)

    # The client's own scrollback: PgUp and PgDn.

    def _page(self) -> int:
        return max(1, self.rows - 2)

    def _page_up(self) -> None:
        """
        Show the page before: the chat stops following (new lines are
        counted, not drawn) until PgDn comes back to the end.
        """
        most = max(0, len(self._scrollback) - self._page())
        back = min(self._back + self._page(), most)
        if back != self._back:
            self._back = back
            self._draw_page()

    def _page_down(self) -> None:
        if not self._back:
            return
        self._back = max(0, self._back - self._page())
        if self._back:
            self._draw_page()
            return
        self._unseen = 0
        self._draw_page()

    def _draw_page(self) -> None:
        """
        Redraw the chat view from the scrollback, ending C{_back} lines
        before the newest, then where it stands, then the input line.
        """
        end = len(self._scrollback) - self._back
        height = self._page() + (0 if self._back else 1)
        rows: list[str] = []
        used = 0
        for line in reversed(list(self._scrollback)[:end]):
            needed = max(1, -(-width(_plain(line)) // max(self.columns, 1)))
            if used + needed > height:
                break
            rows.insert(0, line)
            used += needed
        status = ""
        if self._back:
            unseen = f"; {self._unseen} new" if self._unseen else ""
            back = "1 line" if self._back == 1 else f"{self._back} lines"
            status = self._styled(f"-- {back} back{unseen} (PgDn: forward)", Kind.NOTICE) + "\r\n"
        self._write("\x1b[2J\x1b[H" + "".join(row + "\r\n" for row in rows) + status)
        self.draw_input()

    # Display, for the session

    def server_line(self, line: bytes) -> None:
        text = printable(line.decode("utf-8", "replace"))
        if self.session.nickname_sent and is_nickname_question(text):
            # Answered already: the nickname went as the connection was made.
            return
        for shown in self.presenter.incoming(text):
            self._present(shown)

    def _present(self, shown: Shown) -> None:
        self.show(shown.text, shown.kind, shown.attention)

    def note(self, sentence: str) -> None:
        self.show(f"-- {sentence}", Kind.NOTICE)

    def failed(self, sentence: str) -> None:
        self.show(f"-- {sentence}", Kind.ERROR)

    def state_changed(self) -> None:
        state = self.session.state
        if state == ONLINE and self._state != ONLINE:
            if self._online_before:
                self.presenter.reconnected(self.session.tracker.room)
            self._online_before = True
        self._state = state
        self.draw_input()

    def problem(self, summary: str, details: str | None) -> None:
        """
        A mistake of the client's own: one line, and with --debug the traceback.
        """
        self.show(f"-- client error: {summary}", Kind.ERROR)
        if self.debug and details:
            for line in details.splitlines():
                self.show(line, Kind.ERROR)
        elif not self.debug:
            self.show("-- (run with --debug to see the details)", Kind.ERROR)

    # Drawing

    def show(self, text: str, kind: Kind, attention: bool = False) -> None:
        """
        A line in the chat view, above the input line; one that asks for
        C{attention} stands out (and rings the bell).
        """
        styled = self._styled(text, kind, attention=attention)
        self._scrollback.append(styled)
        bell = BELL if attention and self.bell else ""
        if self._back:
            # Scrolled back: kept for later, counted, not drawn over the page.
            self._back += 1
            self._unseen += 1
            self._write(bell)
            return
        self._write(ERASE_LINE + styled + "\r\n" + bell + self._input_line())

    def draw_input(self) -> None:
        self._write(self._input_line())

    def close(self) -> None:
        """
        Leave the terminal as we found it: input line gone, attributes reset.
        """
        self._write(ERASE_LINE + RESET)

    def prompt(self) -> str:
        session = self.session
        tracker = session.tracker
        if session.state == CONNECTING:
            return "[connecting] "
        if session.state == OFFLINE:
            return "[offline] "
        if tracker.password_for is not None:
            return f"[password for {tracker.password_for}] "
        if tracker.nickname is None:
            return "[nickname?] "
        return f"[{tracker.nickname}@{tracker.room}] " if tracker.room else f"[{tracker.nickname}] "

    def _input_line(self) -> str:
        # A prompt never takes more than half the width: in a narrow window
        # it would wrap, and each redraw would leave a copy behind.
        prompt = shorten(self.prompt(), max(self.columns // 2, 4))
        masked = self.session.tracker.password_for is not None
        editor = self.editor
        # One column spare: text never reaches the last column, where
        # terminals would wrap the cursor to the next line.
        room = max(self.columns - width(prompt) - 1, 2)
        if masked:
            shown, column = "*" * min(len(editor.text), room), min(editor.cursor, room)
        else:
            shown, column = editor.view(room)
        offline = self.session.state != ONLINE
        styled_prompt = self._styled(prompt, Kind.ERROR if offline else Kind.OWN, bold=True)
        column += width(prompt)
        return ERASE_LINE + styled_prompt + shown + "\r" + (f"\x1b[{column}C" if column else "")

    def _styled(self, text: str, kind: Kind, bold: bool = False, attention: bool = False) -> str:
        if not self.colours:
            return f">> {text}" if attention else text
        code = COLOURS[kind]
        if bold:
            code = f"1;{code}" if code else "1"
        if attention:
            code = f"{ATTENTION};{code}" if code else ATTENTION
        return f"\x1b[{code}m{text}{RESET}" if code else text

    def _write(self, text: str) -> None:
        if self.terminal is not None:
            self.terminal.write(text.encode("utf-8"))


def fit_words(words: list[str], columns: int) -> str:
    """
    C{words} two spaces apart, as many as fit in C{columns} (never cut in
    the middle of one), and how many more there are.
    """
    shown: list[str] = []
    for index, word in enumerate(words):
        rest = len(words) - index - 1
        more = f"  (+{rest} more)" if rest else ""
        candidate = "  ".join([*shown, word])
        if width(candidate + more) > columns and shown:
            return "  ".join(shown) + f"  (+{len(words) - index} more)"
        shown.append(word)
    return "  ".join(shown)


def shorten(prompt: str, columns: int) -> str:
    """
    C{prompt} cut to C{columns} (with an ellipsis, keeping its closing
    bracket and space) if it is wider.
    """
    if width(prompt) <= columns:
        return prompt
    kept = ""
    for character in prompt:
        if width(kept + character) > columns - 3:
            break
        kept += character
    return kept + "…] "


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _plain(styled: str) -> str:
    return _SGR.sub("", styled)


class Keyboard(ServerProtocol):
    """
    Insults' terminal protocol, drawing once per chunk of input rather than
    once per key; C{gone} fires once standard input and output are closed.
    """

    terminalProtocol: ChatScreen

    def __init__(self, screen: ChatScreen) -> None:
        super().__init__(lambda: screen)  # type: ignore[no-untyped-call]
        self.gone: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.terminalProtocol.hold()
        try:
            super().dataReceived(data)  # type: ignore[no-untyped-call]
        finally:
            self.terminalProtocol.release()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        super().connectionLost(reason)  # type: ignore[no-untyped-call]
        self.gone.callback(None)
