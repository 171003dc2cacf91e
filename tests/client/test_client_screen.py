"""
Unit tests for the terminal client: reading the server's lines, the line
editor, and the screen as a terminal emulator (pyte) would show it.
"""

from __future__ import annotations

import re
from typing import Any

import pyte
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chat.client.app import colours_wanted
from chat.client.editor import LineEditor, width
from chat.client.options import parse_arguments
from chat.client.reading import COMMANDS, Kind, Tracker, classify
from chat.client.screen import ChatScreen, Keyboard, printable
from chat.client.session import Backoff, ServerConnection, Session
from chat.core.events import (
    Action,
    Departure,
    Entered,
    Joined,
    Left,
    Message,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    Welcome,
)
from chat.core.replies import OperatorAtLogin
from chat.line import wording
from chat.line.commands import COMMANDS as TABLE

UP, DOWN, LEFT, HOME, END = b"\x1b[A", b"\x1b[B", b"\x1b[D", b"\x1b[H", b"\x1b[F"


def line(event: Any) -> str:
    """
    What the server sends for C{event}: the client is tested against the server's own wording.
    """
    return wording.format_event(event)


class ReadingTests(SynchronousTestCase):
    def test_kinds(self) -> None:
        """
        Each kind of server line is told apart, own lines by the nickname.
        """
        cases = [
            (line(Message("lobby", "alice", "hi")), Kind.OWN),
            (line(Action("lobby", "alice", "waves")), Kind.OWN),
            (line(Message("lobby", "bob", "hi alice")), Kind.PUBLIC),
            (line(Action("lobby", "bob", "waves")), Kind.ACTION),
            (line(PrivateMessage("bob", "alice", "psst")), Kind.PRIVATE),
            (line(PrivateMessageSent("alice", "bob", "psst")), Kind.PRIVATE),
            (line(Joined("lobby", "bob")), Kind.NOTICE),
            (wording.error("Unknown command /x").decode().rstrip(), Kind.ERROR),
            ("[2026-11-21 10:00] <bob> old", Kind.HISTORY),
            ("something else", Kind.PUBLIC),
        ]
        for text, kind in cases:
            self.assertEqual(classify(text, "alice"), kind, text)

    def test_tracker_follows_the_session(self) -> None:
        """
        Nickname, room and the names online follow the server's lines.
        """
        tracker = Tracker()
        tracker.read(line(Welcome("alice", ("alice", "bob"))))
        tracker.read(line(Entered("lobby", "alice", None, ("alice", "bob"))))
        self.assertEqual((tracker.nickname, tracker.room), ("alice", "lobby"))
        tracker.read(line(Joined("lobby", "carol")))
        tracker.read(line(Message("lobby", "dave", "hello")))
        tracker.read("*** 2 users in den: erin, frank")
        tracker.read(line(Left("lobby", "bob", Departure(text="bye"))))
        tracker.read(line(Renamed("carol", "caroline")))
        self.assertEqual(tracker.names, {"alice", "caroline", "dave", "erin", "frank"})
        tracker.read(line(Renamed("alice", "alicia")))
        self.assertEqual(tracker.nickname, "alicia")
        self.assertIsNone(tracker.password_for)
        tracker.read("*** alicia is registered. Send its password (or /login PASSWORD):")
        self.assertEqual(tracker.password_for, "alicia")
        tracker.logged_out()
        self.assertEqual((tracker.names, tracker.password_for), (set(), None))

    def test_crowded_lines(self) -> None:
        """
        In a crowd the server gives counts, not names: nickname and room are still read.
        """
        tracker = Tracker()
        tracker.read(line(Welcome("alice", (), total=500)))
        tracker.read(line(Entered("lobby", "alice", None, (), total=500)))
        self.assertEqual((tracker.nickname, tracker.room, tracker.names), ("alice", "lobby", set()))

    def test_commands_come_from_the_server_table(self) -> None:
        """
        Completion offers an operator every name of every command in the
        server's table, aliases included, and the client's own, and nothing
        else (but /login, which only answers the server's password question).
        """
        tracker = Tracker()
        tracker.read(wording.reply(OperatorAtLogin()).decode().rstrip())
        tracker.read(line(Welcome("alice", ("alice",))))
        self.assertEqual(
            tracker.completions("/w", first=True), ["/w", "/wall", "/whisper", "/who", "/whowas"]
        )
        self.assertEqual(tracker.completions("/unr", first=True), ["/unregister"])
        self.assertEqual(tracker.completions("/ig", first=True), ["/ignore"])
        self.assertEqual(len(COMMANDS), sum(len(command.names) for command in TABLE) + 3)
        self.assertEqual(
            tracker.completions("/", first=True), [name for name in COMMANDS if name != "/login"]
        )

    def test_completions(self) -> None:
        tracker = Tracker()
        tracker.read(line(Welcome("alice", ("alice",))))
        tracker.names = {"alice", "Alan", "bob"}
        self.assertEqual(tracker.completions("al", first=True), ["Alan", "alice"])
        self.assertEqual(tracker.completions("/jo", first=True), ["/join"])
        self.assertEqual(tracker.completions("/jo", first=False), [])


class EditorTests(SynchronousTestCase):
    def test_editing(self) -> None:
        """
        Insertion at the cursor, movement, deletion and the kill commands.
        """
        editor = LineEditor()
        editor.insert("hello world")
        editor.home()
        editor.insert(">")
        editor.end()
        editor.left()
        editor.backspace()
        editor.right()
        editor.delete()  # at the end: nothing
        self.assertEqual((editor.text, editor.cursor), (">hello word", 11))
        editor.kill_word()
        self.assertEqual(editor.text, ">hello ")
        editor.insert("there  ")
        editor.kill_word()
        self.assertEqual(editor.text, ">hello ")
        editor.left()
        editor.left()
        editor.kill_to_end()
        self.assertEqual(editor.text, ">hell")
        editor.left()
        editor.kill_to_start()
        self.assertEqual((editor.text, editor.cursor), ("l", 0))

    def test_history(self) -> None:
        """
        Up and down walk the submitted lines; the line being typed comes back
        after the last; passwords and repeats are not remembered.
        """
        editor = LineEditor(history_size=3)
        for typed in ["one", "two", "two", "three", "four"]:
            editor.insert(typed)
            editor.submit()
        editor.insert("secret")
        self.assertEqual(editor.submit(remember=False), "secret")
        editor.insert("draft")
        seen = []
        for _ in range(4):
            editor.up()
            seen.append(editor.text)
        self.assertEqual(seen, ["four", "three", "two", "two"])
        editor.down()
        editor.down()
        self.assertEqual(editor.text, "four")
        editor.down()
        self.assertEqual(editor.text, "draft")
        editor.down()
        self.assertEqual(editor.text, "draft")

    def test_complete(self) -> None:
        """
        One candidate replaces the word (a nickname at the start gets ": ");
        several extend it to what they share.
        """
        names = ["alice", "alicia", "bob"]

        def candidates(word: str, first: bool) -> list[str]:
            return [name for name in names if name.startswith(word)]

        editor = LineEditor()
        editor.insert("b")
        self.assertEqual(editor.complete(candidates), ["bob"])
        self.assertEqual(editor.text, "bob: ")
        editor.insert("hi a")
        self.assertEqual(editor.complete(candidates), ["alice", "alicia"])
        self.assertEqual(editor.text, "bob: hi alic")
        editor.complete(candidates)
        self.assertEqual(editor.text, "bob: hi alic")
        editor.insert("e")
        editor.complete(candidates)
        self.assertEqual(editor.text, "bob: hi alice ")
        editor.insert("z")
        self.assertEqual(editor.complete(candidates), [])

    def test_wide_characters(self) -> None:
        """
        The view is measured in columns: CJK and emoji take two each.
        """
        self.assertEqual(width("a世🎉"), 5)
        editor = LineEditor()
        editor.insert("ab世界🎉cd")
        self.assertEqual(editor.view(40), ("ab世界🎉cd", 10))
        editor.left()
        editor.left()
        self.assertEqual(editor.view(40)[1], 8)
        # Narrow: scrolled so that the cursor shows, never splitting a character.
        shown, column = editor.view(5)
        self.assertEqual((shown, column), ("界🎉c", 4))

    def test_long_line_scrolls(self) -> None:
        editor = LineEditor()
        editor.insert("x" * 30)
        shown, column = editor.view(10)
        self.assertEqual((len(shown), column), (9, 9))
        editor.home()
        self.assertEqual(editor.view(10), ("x" * 10, 0))


class ScreenHarness:
    """
    A session and its screen over in-memory transports; what the terminal
    shows is parsed by pyte, as a real terminal would draw it.
    """

    def __init__(
        self,
        colours: bool = True,
        debug: bool = False,
        columns: int = 60,
        timestamps: bool = False,
        bell: bool = True,
        now: float = 0.0,
    ) -> None:
        self.clock = Clock()
        self.servers: list[StringTransport] = []
        self.protocols: list[ServerConnection] = []
        self.session = Session(self.clock, self._connect, "alice", Backoff(1.0, 8.0))
        # Most tests look at what is shown, not when: no times unless asked.
        self.screen = ChatScreen(
            self.session,
            colours=colours,
            debug=debug,
            timestamps=timestamps,
            bell=bell,
            clock=lambda: now,
        )
        self.keyboard = Keyboard(self.screen)
        self.terminal = StringTransport()
        self.keyboard.makeConnection(self.terminal)
        self.screen.terminalSize(columns, 10)
        self.emulator = pyte.Screen(columns, 10)
        self.stream = pyte.ByteStream(self.emulator)
        self.session.start()

    def _connect(self, protocol: ServerConnection) -> Deferred[object]:
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.servers.append(transport)
        self.protocols.append(protocol)
        return succeed(protocol)

    def say(self, *lines: str) -> None:
        self.protocols[-1].dataReceived(b"".join(x.encode() + b"\r\n" for x in lines))

    def log_in(self) -> None:
        self.say(
            line(Welcome("alice", ("alice", "bob"))),
            line(Entered("lobby", "alice", None, ("alice", "bob"))),
        )

    def type(self, data: bytes) -> None:
        self.keyboard.dataReceived(data)

    def shown(self) -> list[str]:
        self.stream.feed(self.terminal.value())
        self.terminal.clear()
        return [row.rstrip() for row in self.emulator.display if row.strip()]

    def cursor(self) -> tuple[int, int]:
        self.shown()
        return self.emulator.cursor.x, self.emulator.cursor.y

    def sent(self) -> bytes:
        sent: bytes = self.servers[-1].value()
        return sent


class ScreenTests(SynchronousTestCase):
    def test_incoming_line_keeps_half_typed_line(self) -> None:
        """
        A message arriving while a line is half-typed appears above it; the
        input line, its text and its cursor are drawn again below.
        """
        h = ScreenHarness()
        h.log_in()
        h.type("hello wor世".encode())
        h.type(LEFT)
        h.say(line(Message("lobby", "bob", "ping")))
        rows = h.shown()
        self.assertEqual(rows[-2:], ["<bob> ping", "[alice@lobby] hello wor世"])
        x, y = h.cursor()
        self.assertEqual((x, y), (len("[alice@lobby] hello wor"), len(rows) - 1))
        h.type(b"ld\r")
        self.assertEqual(h.sent(), "alice\r\nhello world世\r\n".encode())
        self.assertEqual(h.shown()[-2:], ["<alice> hello world世", "[alice@lobby]"])

    def test_keys(self) -> None:
        """
        Home, End, history, Ctrl-U, Ctrl-W, Ctrl-A, Ctrl-E and Delete edit the line.
        """
        h = ScreenHarness()
        h.log_in()
        h.type(b"first\r")
        h.type(b"one two")
        h.type(b"\x17")  # Ctrl-W
        h.type(HOME + b"<" + END + b">")
        self.assertEqual(h.screen.editor.text, "<one >")
        h.type(b"\x01\x1b[3~\x05!")  # Ctrl-A, Delete, Ctrl-E
        self.assertEqual(h.screen.editor.text, "one >!")
        h.type(UP)
        self.assertEqual(h.screen.editor.text, "first")
        h.type(DOWN + b"\x15")
        self.assertEqual(h.screen.editor.text, "")
        h.type(b"x\x1b\x7f")  # Alt-Backspace
        self.assertEqual(h.screen.editor.text, "")

    def test_tab_completes(self) -> None:
        """
        Tab completes a nickname from the server's lists, or a command; several
        candidates are listed.
        """
        h = ScreenHarness()
        h.log_in()
        h.say(line(Joined("lobby", "bella")))
        h.type(b"b\t")
        self.assertEqual(h.shown()[-2:], ["bella  bob", "[alice@lobby] b"])
        h.type(b"o\t")
        self.assertEqual(h.screen.editor.text, "bob: ")
        h.type(b"\x15/top\t")
        self.assertEqual(h.screen.editor.text, "/topic ")

    def test_password_is_masked(self) -> None:
        """
        Answering the server's password question shows stars, and the
        password stays out of the history and the view.
        """
        h = ScreenHarness()
        h.say("*** alice is registered. Send its password (or /login PASSWORD):")
        h.type(b"hunter2")
        self.assertEqual(h.shown()[-1], "[password for alice] *******")
        h.type(b"\r")
        self.assertEqual(h.sent(), b"alice\r\nhunter2\r\n")
        h.log_in()
        h.type(UP)
        self.assertEqual(h.screen.editor.text, "")
        self.assertNotIn("hunter2", "\n".join(h.shown()))

    def test_offline_keeps_the_line(self) -> None:
        """
        While reconnecting, the prompt says so and Enter keeps the typed line.
        """
        h = ScreenHarness(columns=100)
        h.log_in()
        h.protocols[-1].connectionLost(Failure(ConnectionError()))
        h.type(b"still here\r")
        rows = h.shown()
        self.assertEqual(rows[-1], "[offline] still here")
        self.assertIn("reconnecting in", rows[-3])
        self.assertIn("not connected", rows[-2])
        h.clock.advance(8.0)
        self.assertEqual(h.sent(), b"alice\r\n")
        h.log_in()
        h.type(b"\r")
        self.assertEqual(h.sent(), b"alice\r\nstill here\r\n")
        self.assertEqual(h.shown()[-2:], ["<alice> still here", "[alice@lobby]"])

    def test_echo(self) -> None:
        """
        Own public lines and actions (/me in any case, as the server takes it)
        are shown as sent; commands are not.
        """
        h = ScreenHarness()
        h.log_in()
        for typed in (
            b"/me waves\r",
            b"/ME shouts\r",
            b"/Me hops\r",
            b"//slash\r",
            b"/who\r",
            b"   \r",
        ):
            h.type(typed)
        self.assertEqual(
            h.shown()[-5:],
            ["* alice waves", "* alice shouts", "* alice hops", "<alice> /slash", "[alice@lobby]"],
        )

    def test_function_keys_type_nothing(self) -> None:
        """
        PgUp, PgDn (they scroll), Insert and F1-F12 put nothing in the input
        line (they used to type "[PGUP]", "[F1]"...).
        """
        h = ScreenHarness()
        h.log_in()
        h.type(b"a")
        for key in (b"\x1b[5~", b"\x1b[6~", b"\x1b[2~", b"\x1bOP", b"\x1b[15~", b"\x1b[24~"):
            h.type(key)
        h.type(b"b")
        self.assertEqual(h.screen.editor.text, "ab")

    def test_page_up_and_down(self) -> None:
        """
        PgUp shows the client's own scrollback a page at a time; what comes
        meanwhile is counted, not drawn over the page; PgDn goes forward and,
        at the end, follows the chat again with the new lines.
        """
        h = ScreenHarness()
        h.log_in()
        h.say(*[f"<bob> line {n}" for n in range(30)])
        h.type(b"half")
        self.assertEqual(h.shown()[-2:], ["<bob> line 29", "[alice@lobby] half"])
        h.type(b"\x1b[5~")
        rows = h.shown()
        self.assertEqual(rows[-2:], ["-- 8 lines back (PgDn: forward)", "[alice@lobby] half"])
        self.assertEqual(rows[-3], "<bob> line 21")
        h.say("<bob> while you read")
        h.type(b"\x1b[5~")
        rows = h.shown()
        self.assertEqual(rows[-2], "-- 17 lines back; 1 new (PgDn: forward)")
        self.assertEqual(rows[-3], "<bob> line 13")
        self.assertNotIn("<bob> while you read", rows)
        h.type(b"\x1b[6~\x1b[6~")
        self.assertEqual(h.shown()[-2], "-- 1 line back; 1 new (PgDn: forward)")
        h.type(b"\x1b[6~")
        rows = h.shown()
        self.assertEqual(rows[-3:], ["<bob> line 29", "<bob> while you read", "[alice@lobby] half"])
        h.say("<bob> live again")
        self.assertEqual(h.shown()[-2:], ["<bob> live again", "[alice@lobby] half"])

    def test_completion_offers_what_the_user_may_use(self) -> None:
        """
        Tab offers only the commands the user may use now: before login
        those that work then (and /login while a password is asked for);
        operators' commands only once the server says the user is one.
        """
        h = ScreenHarness(columns=80)
        h.type(b"/\t")
        self.assertIn("/exit  /help  /nick  /q  /quit", h.shown())
        h.say("*** alice is registered. Send its password (or /login PASSWORD):")
        h.type(b"\x15/l\t")
        self.assertEqual(h.screen.editor.text, "/login ")
        h.type(b"\x15secret\r")
        h.log_in()
        h.type(b"/wa\t")
        self.assertEqual(h.shown()[-1], "[alice@lobby] /wa")
        h.type(b"\x15/ig\t")
        self.assertEqual(h.shown()[-1], "[alice@lobby] /ignore")
        h.type(b"\x15")
        h.say("*** You are an operator of this server; /help lists your commands.")
        h.type(b"/wa\t")
        self.assertEqual(h.shown()[-1], "[alice@lobby] /wall")

    def test_narrow_window(self) -> None:
        """
        In a 30-column window a long prompt is cut to half the width rather
        than wrapping (and leaving copies behind at each redraw), and a long
        list of completions is one line of whole words and a count.
        """
        h = ScreenHarness(columns=30)
        h.say(
            line(Welcome("alice", ("alice", "bob"))),
            line(Entered("a-really-long-room-name", "alice", None, ("alice",))),
        )
        h.say(*[f"<bob{n}> hi" for n in range(12)])
        for _ in range(3):
            h.type(b"x")
        h.type(b"\x7f\x7f\x7fbo\t")
        rows = h.shown()
        prompts = [row for row in rows if row.startswith("[alice@")]
        self.assertEqual(prompts, ["[alice@a-rea…] bob"])
        listing = rows[-2]
        self.assertLessEqual(len(listing), 29)
        self.assertEqual(listing, "bob  bob0  bob1  (+10 more)")

    def test_passwords_are_not_remembered(self) -> None:
        """
        A line with a password (/register, /password, /unregister, /login, in
        any case) is not kept in the history that Up brings back.
        """
        h = ScreenHarness()
        h.log_in()
        for typed in (b"hello\r", b"/register secret1\r", b"/PASSWORD a b\r", b"/login x\r"):
            h.type(typed)
        h.type(b"\x1b[A")
        self.assertEqual(h.screen.editor.text, "hello")

    def test_editing_by_what_the_user_sees(self) -> None:
        """
        Backspace, Delete and the arrows work on grapheme clusters, as typed
        on the keyboard: 👍🏽 goes whole (not leaving 👍), the cursor never
        lands inside a family joined with ZWJ, and e with a combining accent
        is one character.
        """
        h = ScreenHarness()
        h.log_in()
        h.type("ok 👍🏽".encode() + b"\x7f")
        self.assertEqual(h.screen.editor.text, "ok ")
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
        h.type(f"a{family}b".encode() + LEFT + LEFT + b"\x1b[3~")
        self.assertEqual(h.screen.editor.text, "ok ab")
        h.type(END + b"\x15" + "e\u0301x".encode() + LEFT + b"\x7f")
        self.assertEqual(h.screen.editor.text, "x")

    def test_paste_goes_at_the_servers_pace(self) -> None:
        """
        A 50-line paste: the client sends the burst at once and the rest at a
        little under the server's limit, each line shown as sent only when it
        has gone; a server that says its limit is lower is followed.
        """
        h = ScreenHarness(columns=40)
        h.log_in()
        h.shown()
        before = h.sent()
        h.type(b"".join(b"line %d\r" % n for n in range(50)))
        self.assertEqual(h.sent()[len(before) :].count(b"\r\n"), 18)
        self.assertEqual(h.shown()[-2:], ["<alice> line 17", "[alice@lobby]"])
        h.clock.pump([0.25] * 10)
        sent = h.sent()[len(before) :]
        # 2.5 s at 4.5 lines a second: 11 more.
        self.assertEqual(sent.count(b"\r\n"), 29)
        self.assertEqual(h.shown()[-2:], ["<alice> line 28", "[alice@lobby]"])
        h.say(
            "!!! You are sending too fast (at most 1 line a second, bursts of 5); "
            "lines over that wait their turn."
        )
        h.clock.advance(1.2)
        self.assertEqual(h.sent()[len(before) :].count(b"\r\n"), 30)
        h.clock.pump([1.2] * 30)
        self.assertTrue(h.sent().endswith(b"line 49\r\n"))
        self.assertEqual(h.sent()[len(before) :].count(b"\r\n"), 50)

    def test_too_long_line_is_not_sent(self) -> None:
        """
        A line longer than the server takes is not sent nor shown as sent:
        the client says why and keeps it in the input line to shorten.
        """
        h = ScreenHarness()
        h.log_in()
        before = h.sent()
        h.type("é".encode() * 1025 + b"\r")
        self.assertEqual(h.sent(), before)
        self.assertIn(
            "-- not sent: the line is 2050 bytes and the server takes at most 2048; "
            "shorten it or send it in parts.",
            " ".join(h.shown()),
        )
        self.assertEqual(h.screen.editor.text, "é" * 1025)
        h.type(b"\x7f\x7f\r")
        self.assertTrue(h.sent().endswith("é".encode() * 1023 + b"\r\n"))

    def test_colours(self) -> None:
        """
        Each kind of line has its colour; --no-color (or NO_COLOR) gives none at all.
        """
        h = ScreenHarness()
        h.log_in()
        h.say("!!! nope", line(PrivateMessage("bob", "alice", "psst")))
        row = h.shown().index("!!! nope")
        self.assertEqual(h.emulator.buffer[row][0].fg, "red")
        self.assertTrue(h.emulator.buffer[row][0].bold)
        self.assertEqual(h.emulator.buffer[row + 1][0].fg, "brown")  # pyte's name for yellow
        plain = ScreenHarness(colours=False)
        plain.log_in()
        plain.say("!!! nope")
        self.assertIn(b"!!! nope", plain.terminal.value())
        self.assertIsNone(re.search(rb"\x1b\[[0-9;]*m", plain.terminal.value()))
        for argv, environ, expected in [
            ([], {}, True),
            (["--no-color"], {}, False),
            ([], {"NO_COLOR": "1"}, False),
            ([], {"NO_COLOR": ""}, True),
        ]:
            self.assertEqual(colours_wanted(parse_arguments(argv), environ), expected)

    def test_hostile_server_cannot_drive_the_terminal(self) -> None:
        """
        Escape sequences and other controls from the server are not passed to the terminal.
        """
        self.assertEqual(printable("a\x1b]0;title\x07b\x9bc\td"), "a]0;titlebcd")
        h = ScreenHarness(colours=False)
        h.say("evil\x1b[2J\x1b[H line")
        self.assertNotIn(b"\x1b[2J", h.terminal.value())

    def test_quit_keys(self) -> None:
        """
        Ctrl-D deletes while there is text and quits on an empty line; Ctrl-C quits.
        """
        for keys in (b"ab\x01\x04\x05\x04\x7f\x04", b"typed\x03"):
            h = ScreenHarness()
            h.log_in()
            h.type(keys)
            self.assertTrue(h.sent().endswith(b"/quit\r\n"), keys)
        h = ScreenHarness()
        h.type(b"ab\x01\x04")
        self.assertEqual(h.screen.editor.text, "b")

    def test_client_mistake(self) -> None:
        """
        A bug of the client's shows as one line (with the traceback under
        --debug), never kills the session.
        """
        for debug in (False, True):
            h = ScreenHarness(debug=debug, columns=200)
            h.log_in()

            def broken() -> None:
                raise RuntimeError("oops")

            self.patch(h.screen, "_complete", broken)
            try:
                h.type(b"\t")
            finally:
                errors = self.flushLoggedErrors(RuntimeError)
            self.assertEqual(len(errors), 1)
            h.screen.problem("handling a key: oops", errors[0].getTraceback())
            rows = h.shown()
            self.assertIn("-- client error: handling a key: oops", rows)
            self.assertEqual(any("Traceback" in row for row in rows), debug)
            h.type(b"still works\r")
            self.assertTrue(h.sent().endswith(b"still works\r\n"))

    def test_resize_and_application_keys(self) -> None:
        """
        The input line follows the terminal's width; Home/End in application mode work.
        """
        h = ScreenHarness(columns=30)
        h.log_in()
        h.type(b"y" * 40)
        # 14 columns of prompt, 14 of text, the cursor's, and the last left free.
        self.assertEqual(len(h.shown()[-1]), 28)
        h.type(b"\x1bOH")
        self.assertEqual(h.screen.editor.cursor, 0)
        h.type(b"\x1bOF")
        self.assertEqual(h.screen.editor.cursor, 40)
        h.screen.terminalSize(60, 10)
        h.emulator.resize(10, 60)
        self.assertEqual(h.screen.columns, 60)
        h.type(b"\x0c")  # Ctrl-L clears the screen
        self.assertEqual(h.shown(), ["[alice@lobby] " + "y" * 40])


def in_timezone(case: SynchronousTestCase, zone: str) -> None:
    """
    Run the rest of C{case} with local time in C{zone}.
    """
    import os
    import time

    old = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()

    def restore() -> None:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()

    case.addCleanup(restore)


# 2026-11-21 12:34:56 UTC.
NOON = 1795264496.0


class WhatUsersMissTests(SynchronousTestCase):
    """
    Times, attention, /r, /ignore and "since you left", as the terminal shows them.
    """

    def test_times(self) -> None:
        """
        Live lines get the local time in front; stored ones (history, kept
        messages, sent in UTC) are shown in local time, in brackets, with
        the date when it is not today.
        """
        in_timezone(self, "Asia/Tokyo")
        h = ScreenHarness(timestamps=True, now=NOON)
        h.log_in()
        h.say(
            "<bob> hi",
            "*** Recent messages in lobby:",
            "[2026-11-21 12:30] <bob> earlier",
            "[2026-11-20 23:59] <bob> yesterday, in UTC",
            "*** End of history.",
        )
        h.type(b"hello\r")
        rows = h.shown()
        self.assertIn("21:34 <bob> hi", rows)
        self.assertIn("[21:30] <bob> earlier", rows)
        self.assertIn("[08:59] <bob> yesterday, in UTC", rows)
        self.assertIn("21:34 <alice> hello", rows)
        h.say("[2026-11-19 01:00] *bob* kept")
        self.assertIn("[2026-11-19 10:00] *bob* kept", h.shown())

    def test_attention(self) -> None:
        """
        A line that names you (as a word, any case) or a private message
        rings the bell and stands out; other lines, and your own, do not;
        --no-bell keeps the highlight without the bell.
        """
        h = ScreenHarness()
        h.log_in()
        h.terminal.clear()
        for said, rings in [
            ("<bob> hey Alice, lunch?", True),
            ("* bob pokes alice", True),
            ("*bob* psst", True),
            ("<bob> malice aforethought", False),
            ("<bob> hello all", False),
        ]:
            h.say(said)
            written = h.terminal.value()
            h.terminal.clear()
            self.assertEqual(b"\x07" in written, rings, said)
            self.assertEqual(b"\x1b[7" in written, rings, said)
        quiet = ScreenHarness(bell=False, colours=False)
        quiet.log_in()
        quiet.say("<bob> alice?")
        self.assertNotIn(b"\x07", quiet.terminal.value())
        self.assertIn(">> <bob> alice?", quiet.shown())

    def test_reply(self) -> None:
        """
        /r TEXT answers the last private message; before any, it says so.
        """
        h = ScreenHarness()
        h.log_in()
        h.type(b"/r anyone?\r")
        self.assertIn("-- nobody has sent you a private message yet.", h.shown())
        before = h.sent()
        h.say("*carol* are you there?", "*bob* lunch?")
        h.type(b"/r yes, at noon\r")
        self.assertEqual(h.sent()[len(before) :], b"/msg bob yes, at noon\r\n")

    def test_ignore(self) -> None:
        """
        /ignore NICK hides what NICK says on this screen (public, actions,
        private, history); /ignore lists; /unignore shows it again; none of
        it reaches the server.
        """
        h = ScreenHarness()
        h.log_in()
        before = h.sent()
        h.type(b"/ignore Bob\r")
        h.say(
            "<bob> spam", "* bob spams", "*bob* spam", "[2026-11-21 12:00] <bob> spam", "<carol> hi"
        )
        h.type(b"/ignore\r/unignore bob\r")
        h.say("<bob> sorry")
        rows = h.shown()
        self.assertFalse([row for row in rows if "spam" in row], rows)
        self.assertIn("<carol> hi", rows)
        self.assertIn("-- you ignore: bob.", rows)
        self.assertIn("<bob> sorry", rows)
        self.assertEqual(h.sent(), before)

    def test_help_lists_the_client_commands(self) -> None:
        """
        The server's /help is followed by the client's own commands (/r,
        /ignore, /unignore), described in the same column.
        """
        h = ScreenHarness(columns=100)
        h.log_in()
        h.type(b"/help\r")
        self.assertTrue(h.sent().endswith(b"/help\r\n"))
        h.say(*(f"*** {row}" for row in wording.help_lines(operator=False, features=())))
        rows = h.shown()
        end = rows.index(
            "***   Any other line is sent to this room; start it with // to send a leading /."
        )
        self.assertEqual(rows[end + 1], "-- The client's own commands:")
        quit_row = next(row for row in rows if row.startswith("***   /quit"))
        column = quit_row.index("leave the chat")
        for row, usage, summary in zip(
            rows[end + 2 : end + 5],
            ["/r", "/ignore", "/unignore"],
            [
                "answer the last private message",
                "hide NICK's lines on this screen; alone: list whom you ignore",
                "show NICK's lines again",
            ],
            strict=True,
        ):
            self.assertTrue(row.startswith(f"--   {usage} "), row)
            self.assertEqual(row.index(summary), column, row)

    def test_ignore_speaks_of_a_person(self) -> None:
        """
        /ignore NICK says NICK's lines are hidden as a person's ("their"), not a thing's.
        """
        h = ScreenHarness(columns=100)
        h.log_in()
        h.type(b"/ignore bob\r")
        self.assertIn(
            "-- ignoring bob: their lines are hidden on this screen only "
            "(they still reach you; /unignore bob).",
            h.shown(),
        )

    def test_since_you_left(self) -> None:
        """
        After a reconnection, the history replayed on entering the room is
        cut to what came after the last line seen, under a marker.
        """
        h = ScreenHarness()
        h.log_in()
        h.say("<bob> one", "<bob> two")
        h.type(b"three\r")
        h.protocols[-1].connectionLost(Failure(ConnectionLost()))
        h.clock.advance(1.0)
        h.shown()
        h.log_in()
        h.say(
            "*** Recent messages in lobby:",
            "[2026-11-21 12:00] <bob> one",
            "[2026-11-21 12:00] <bob> two",
            "[2026-11-21 12:01] <alice> three",
            "[2026-11-21 12:02] <carol> four",
            "*** End of history.",
        )
        rows = h.shown()
        start = rows.index("-- since you left:")
        self.assertEqual(rows[start + 1 :][:1], ["[2026-11-21 12:02] <carol> four"])
        self.assertEqual(rows.count("[2026-11-21 12:00] <bob> one"), 0)
