"""
Unit tests for the bundled client's session, options and pipe mode, on
in-memory transports and a fake clock.
"""

from __future__ import annotations

import io
import sys

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chat.client.options import parse_arguments
from chat.client.pipe import PipeDisplay
from chat.client.session import (
    CONNECTING,
    OFFLINE,
    ONLINE,
    QUIT_GRACE_SECONDS,
    Backoff,
    ServerConnection,
    Session,
)


class FakeServers:
    """
    A connector that connects each attempt to a fresh L{StringTransport},
    or fails it when told to.
    """

    def __init__(self) -> None:
        self.transports: list[StringTransport] = []
        self.protocols: list[ServerConnection] = []
        self.refuse = False

    def __call__(self, protocol: ServerConnection) -> Deferred[object]:
        if self.refuse:
            return fail(ConnectionRefusedError("Connection refused"))
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.transports.append(transport)
        self.protocols.append(protocol)
        return succeed(protocol)

    @property
    def sent(self) -> bytes:
        sent: bytes = self.transports[-1].value()
        return sent

    def say(self, *lines: str) -> None:
        self.protocols[-1].dataReceived(b"".join(line.encode() + b"\r\n" for line in lines))

    def drop(self, reason: Exception | None = None) -> None:
        self.protocols[-1].connectionLost(Failure(reason or ConnectionLost()))


class Notes:
    """
    A display that remembers everything.
    """

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.sent_lines: list[bytes] = []
        self.changes = 0

    def server_line(self, line: bytes) -> None:
        self.lines.append(line)

    def failed(self, sentence: str) -> None:
        self.failures.append(sentence)

    def note(self, sentence: str) -> None:
        self.notes.append(sentence)

    def sent(self, line: bytes) -> None:
        self.sent_lines.append(line)

    def state_changed(self) -> None:
        self.changes += 1


class PipeTests(SynchronousTestCase):
    """
    In a pipe the client behaves exactly as its first version did.
    """

    def setUp(self) -> None:
        self.stderr = io.StringIO()
        self.patch(sys, "stderr", self.stderr)
        self.clock = Clock()
        self.servers = FakeServers()

    def connect(self, nickname: str | None = None) -> tuple[Session, PipeDisplay, StringTransport]:
        session = Session(self.clock, self.servers, nickname)
        terminal_side = StringTransport()
        display = PipeDisplay(session)
        display.makeConnection(terminal_side)
        session.start()
        return session, display, terminal_side

    def test_logs_in_with_nickname(self) -> None:
        """
        Given a nickname, the client sends it as its first line.
        """
        self.connect("alice")
        self.assertEqual(self.servers.sent, b"alice\r\n")

    def test_no_nickname_sends_nothing(self) -> None:
        """
        Without a nickname, the user's first line will be it; nothing is sent first.
        """
        self.connect()
        self.assertEqual(self.servers.sent, b"")

    def test_typed_lines_go_to_server(self) -> None:
        """
        Each typed line goes to the server with CRLF, a CR from the terminal removed.
        """
        _, display, _ = self.connect()
        display.dataReceived(b"bob\nhello\r\npart")
        self.assertEqual(self.servers.sent, b"bob\r\nhello\r\n")

    def test_lines_before_connection_wait(self) -> None:
        """
        Input read, and even ended, before the connection is made is sent
        once it is, after the nickname; nothing is lost.
        """
        pending: Deferred[object] = Deferred()
        protocols: list[ServerConnection] = []

        def slow(protocol: ServerConnection) -> Deferred[object]:
            protocols.append(protocol)
            return pending

        session = Session(self.clock, slow, "bob")
        display = PipeDisplay(session)
        display.makeConnection(StringTransport())
        session.start()
        display.dataReceived(b"hello\n")
        display.readConnectionLost()
        server = StringTransport()
        protocols[0].makeConnection(server)
        pending.callback(protocols[0])
        self.assertEqual(server.value(), b"bob\r\nhello\r\n/quit\r\n")

    def test_server_lines_printed(self) -> None:
        """
        Server lines are printed unchanged with local line endings, split across reads or not.
        """
        _, _, terminal = self.connect()
        self.servers.protocols[-1].dataReceived(b"*** Welcome\r\n<al")
        self.servers.protocols[-1].dataReceived(b"ice> hi\r\nbare\n")
        self.assertEqual(terminal.value(), b"*** Welcome\n<alice> hi\nbare\n")

    def test_end_of_input_quits(self) -> None:
        """
        End of input sends /quit once; the server's goodbye is still shown and
        its close ends the client with status 0.
        """
        session, display, terminal = self.connect("alice")
        display.readConnectionLost()
        display.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.servers.sent, b"alice\r\n/quit\r\n")
        display.dataReceived(b"late\n")
        self.assertEqual(self.servers.sent, b"alice\r\n/quit\r\n")
        self.servers.say("*** Goodbye.")
        self.servers.drop(ConnectionDone())
        self.assertEqual(terminal.value(), b"*** Goodbye.\n")
        self.assertEqual(self.successResultOf(session.finished), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.stderr.getvalue(), "")

    def test_server_that_never_closes(self) -> None:
        """
        If the server does not close after /quit, the client closes after a grace period.
        """
        session, _, _ = self.connect("alice")
        self.servers.say("*** Welcome to chat.")
        session.quit()
        self.clock.advance(QUIT_GRACE_SECONDS)
        self.assertTrue(self.servers.transports[-1].disconnecting)
        self.servers.drop(ConnectionDone())
        self.assertEqual(self.successResultOf(session.finished), 0)

    def test_server_goes_away(self) -> None:
        """
        A server that closes or drops the connection unasked is one sentence on
        stderr and status 1: in a pipe there is no reconnecting.
        """
        for reason, word in [(ConnectionDone(), "closed"), (ConnectionLost(), "lost")]:
            self.stderr.truncate(0)
            self.stderr.seek(0)
            session, _, _ = self.connect("alice")
            self.servers.say("*** Welcome to chat.")
            self.servers.drop(reason)
            self.assertEqual(self.successResultOf(session.finished), 1)
            self.assertEqual(
                self.stderr.getvalue(), f"chat-client: the connection to the server was {word}.\n"
            )
            self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_silent_close_is_an_error(self) -> None:
        """
        A server that closes without a word (a plain client on a TLS port:
        TLS cannot parse the nickname) is one sentence and status 1, also
        once the input has ended (a pipe is then quitting).
        """
        session, _, _ = self.connect("alice")
        session.quit()
        self.servers.drop(ConnectionDone())
        self.assertEqual(self.successResultOf(session.finished), 1)
        self.assertEqual(
            self.stderr.getvalue(),
            "chat-client: the server closed the connection without a word "
            "(a TLS port? then use --tls).\n",
        )

    def test_cannot_connect(self) -> None:
        """
        A first connection that fails is one sentence and status 1.
        """
        self.servers.refuse = True
        session = Session(self.clock, self.servers, "alice", Backoff(), address="here:1")
        session.attach(PipeDisplay(session))
        self.assertEqual(self.successResultOf(session.start()), 1)
        self.assertEqual(
            self.stderr.getvalue(),
            "chat-client: cannot connect to here:1: "
            "Connection was refused by other side: Connection refused.\n",
        )

    def test_terminal_lost_output(self) -> None:
        """
        Losing standard output alone does not end the session.
        """
        session, display, _ = self.connect("alice")
        display.writeConnectionLost()
        self.assertNoResult(session.finished)

    def test_huge_input_line(self) -> None:
        """
        An absurdly long input line is reported and not sent.
        """
        _, display, _ = self.connect()
        display.dataReceived(b"x" * (PipeDisplay.MAX_LENGTH + 2))
        self.assertEqual(self.servers.sent, b"")
        self.assertIn("ignored", self.stderr.getvalue())

    def test_display_mistake_is_logged_not_fatal(self) -> None:
        """
        A mistake of the client's in handling a server line is logged, and the
        connection goes on.
        """
        session, display, _ = self.connect("alice")

        def broken(line: bytes) -> None:
            raise RuntimeError("oops")

        self.patch(display, "server_line", broken)
        self.servers.say("*** one", "*** two")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)
        self.assertNoResult(session.finished)


class ReconnectTests(SynchronousTestCase):
    """
    In a terminal, a session whose server goes away comes back.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.servers = FakeServers()
        self.display = Notes()
        # No jitter in these tests: the highest delay each time.
        self.session = Session(
            self.clock, self.servers, "alice", Backoff(1.0, 8.0, uniform=lambda a, b: b)
        )
        self.session.attach(self.display)
        self.session.start()

    def log_in(self, room: str = "lobby") -> None:
        self.servers.say(
            "*** You are alice. 2 users online: alice, bob",
            f"*** You are in {room}. 1 user here: alice",
        )

    def test_reconnects_with_backoff(self) -> None:
        """
        The user is told, the session waits, tries again, and doubles the wait
        (up to the cap) while the server stays away.
        """
        self.log_in()
        self.servers.drop()
        self.assertEqual(self.session.state, OFFLINE)
        self.assertEqual(
            self.display.notes,
            ["the connection to the server was lost; reconnecting in 1.0 s (Ctrl-C to quit)."],
        )
        self.servers.refuse = True
        delays = []
        for _ in range(5):
            [call] = self.clock.getDelayedCalls()
            delays.append(call.getTime() - self.clock.seconds())
            self.clock.advance(delays[-1])
        self.assertEqual(delays, [1.0, 2.0, 4.0, 8.0, 8.0])
        self.assertIn("cannot reconnect", self.display.notes[-1])
        self.assertNoResult(self.session.finished)

    def test_each_attempt_is_one_short_line(self) -> None:
        """
        Each failed attempt to reconnect is one short line saying why in a
        few words and when the next is, not Twisted's whole error message.
        """
        self.log_in()
        self.servers.drop()
        self.servers.refuse = True
        for _ in range(3):
            [call] = self.clock.getDelayedCalls()
            self.clock.advance(call.getTime() - self.clock.seconds())
        self.assertEqual(
            self.display.notes[1:],
            [
                "cannot reconnect (connection refused); trying again in 2.0 s.",
                "cannot reconnect (connection refused); trying again in 4.0 s.",
                "cannot reconnect (connection refused); trying again in 8.0 s.",
            ],
        )

    def test_logs_in_again_as_the_same_user(self) -> None:
        """
        On reconnection the client logs in with the nickname it had (even
        after a rename), the password the user typed when asked, and goes
        back to its room.
        """
        self.servers.say("*** alice is registered. Send its password (or /login PASSWORD):")
        self.assertTrue(self.session.typed(b"secret"))
        self.log_in()
        self.servers.say("*** alice is now known as alicia")
        self.assertTrue(self.session.typed(b"/join den"))
        self.servers.say("*** You are in den. 1 user here: alicia")
        self.servers.drop()
        self.clock.advance(1.0)
        self.assertEqual(self.session.state, ONLINE)
        self.assertEqual(self.servers.sent, b"alicia\r\n")
        self.servers.say("*** alicia is registered. Send its password (or /login PASSWORD):")
        self.assertEqual(self.servers.sent, b"alicia\r\n")  # not alice's password
        self.session.typed(b"other")
        self.servers.say(
            "*** You are alicia. 1 user online: alicia", "*** You are in lobby. 1 user here: alicia"
        )
        self.assertEqual(self.servers.sent, b"alicia\r\nother\r\n/join den\r\n")

    def test_password_replayed(self) -> None:
        """
        The password typed for this nickname is given again when asked after
        a reconnection, and not shown as typed.
        """
        self.servers.say("*** alice is registered. Send its password (or /login PASSWORD):")
        self.session.typed(b"secret")
        self.log_in()
        self.servers.drop()
        self.clock.advance(1.0)
        self.servers.say("*** alice is registered. Send its password (or /login PASSWORD):")
        self.assertEqual(self.servers.sent, b"alice\r\nsecret\r\n")
        self.assertIsNone(self.session.tracker.password_for)

    def test_refused_password_never_replayed(self) -> None:
        """
        A password the server refused is not given again after a
        reconnection (each try counts towards a lockout of the nickname and
        the address): the user is asked; and a kept password the server
        refuses on a reconnection (changed elsewhere) is forgotten.
        """
        prompt = "*** alice is registered. Send its password (or /login PASSWORD):"
        self.servers.say(prompt)
        self.session.typed(b"wrong1")
        self.servers.say("!!! Wrong password; 2 tries left.", prompt)
        self.session.typed(b"secret")
        self.log_in()
        self.servers.drop()
        self.clock.advance(1.0)
        self.servers.say(prompt)
        self.assertEqual(self.servers.sent, b"alice\r\nsecret\r\n")
        self.servers.say("!!! Wrong password; 2 tries left.", prompt)
        # Not sent again: the user is asked, as the prompt shows.
        self.assertEqual(self.servers.sent, b"alice\r\nsecret\r\n")
        self.assertEqual(self.session.tracker.password_for, "alice")

    def test_wrong_password_then_reconnect_asks(self) -> None:
        """
        Only a wrong password typed, then the connection lost: nothing is replayed.
        """
        prompt = "*** alice is registered. Send its password (or /login PASSWORD):"
        self.servers.say(prompt)
        self.session.typed(b"wrong1")
        self.servers.say("!!! Wrong password; 2 tries left.", prompt)
        self.servers.drop()
        self.clock.advance(1.0)
        self.servers.say(prompt)
        self.assertEqual(self.servers.sent, b"alice\r\n")

    def test_registered_password_replayed(self) -> None:
        """
        The password of /register (or the new one of /password), once the
        server accepted it, is given when asked after a reconnection.
        """
        self.log_in()
        self.session.typed(b"/register secret1")
        self.servers.say(
            "*** alice is now registered: logging in as alice will ask for this password."
        )
        self.session.typed(b"/password secret1 secret2")
        self.servers.say("*** Your password is changed.")
        self.session.typed(b"/password nope secret3")
        self.servers.say("!!! Wrong password, or your nickname is not registered.")
        self.servers.drop()
        self.clock.advance(1.0)
        self.servers.say("*** alice is registered. Send its password (or /login PASSWORD):")
        self.assertEqual(self.servers.sent, b"alice\r\nsecret2\r\n")

    def test_paste_then_quit(self) -> None:
        """
        /quit after a long paste goes after every pasted line, and the client
        waits for them to go before giving up on the server's goodbye; each
        line is shown as sent when it goes, not when typed.
        """
        self.log_in()
        for n in range(40):
            self.session.typed(b"line %d" % n)
        self.session.quit()
        self.assertEqual(len(self.display.sent_lines), 18)
        self.clock.pump([0.5] * 12)
        lines = self.servers.sent.split(b"\r\n")
        self.assertEqual(lines[1:42], [b"line %d" % n for n in range(40)] + [b"/quit"])
        self.assertEqual(len(self.display.sent_lines), 40)
        self.assertFalse(self.servers.transports[-1].disconnecting)

    def test_unsent_lines_are_told(self) -> None:
        """
        Lines still waiting their turn when the connection is lost are not
        shown as sent, and the user is told how many did not go.
        """
        self.log_in()
        for n in range(25):
            self.session.typed(b"line %d" % n)
        self.servers.drop()
        self.assertEqual(len(self.display.sent_lines), 18)
        self.assertIn(
            "7 lines you typed could not be sent before the connection ended.", self.display.notes
        )

    def test_backoff_resets_after_login(self) -> None:
        """
        A successful login starts the next round of waiting from the beginning.
        """
        self.log_in()
        self.servers.drop()
        self.clock.advance(1.0)
        self.servers.drop()
        self.clock.advance(2.0)
        self.log_in()
        self.servers.drop()
        [call] = self.clock.getDelayedCalls()
        self.assertEqual(call.getTime() - self.clock.seconds(), 1.0)

    def test_lines_refused_while_offline(self) -> None:
        """
        While disconnected, typed lines are not taken (the screen keeps them).
        """
        self.log_in()
        self.servers.drop()
        self.assertFalse(self.session.typed(b"hello"))

    def test_typed_quit_ends(self) -> None:
        """
        /quit typed by the user (any case, with a reason) ends the client with
        status 0 once the server closes: it does not reconnect.
        """
        self.log_in()
        self.assertTrue(self.session.typed(b"/QUIT bbl"))
        self.assertTrue(self.servers.sent.endswith(b"/QUIT bbl\r\n"))
        self.servers.say("*** Goodbye.")
        self.servers.drop(ConnectionDone())
        self.assertEqual(self.successResultOf(self.session.finished), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_deliberate_goodbye_is_not_retried(self) -> None:
        """
        When the server's last line is an error ending in "Goodbye." (kicked,
        banned, timed out, full...), the client says why and ends with
        status 1 instead of coming back.
        """
        self.log_in()
        self.servers.say("!!! You were kicked by root: spam. Goodbye.")
        self.servers.drop(ConnectionDone())
        self.assertEqual(self.successResultOf(self.session.finished), 1)
        self.assertEqual(
            self.display.failures,
            ["the server closed the connection: You were kicked by root: spam. Goodbye."],
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_shutdown_notice_is_retried(self) -> None:
        """
        The shutdown notice is not a refusal: the client comes back when the server does.
        """
        self.log_in()
        self.servers.say("*** The server is shutting down. Goodbye.")
        self.servers.drop(ConnectionDone())
        self.assertNoResult(self.session.finished)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_quit_while_offline(self) -> None:
        """
        Ctrl-C while waiting to reconnect ends at once with status 0 and no timer left.
        """
        self.log_in()
        self.servers.drop()
        self.session.quit()
        self.assertEqual(self.successResultOf(self.session.finished), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_quit_while_reconnecting(self) -> None:
        """
        Quitting while a reconnection is being attempted ends when it fails.
        """
        self.log_in()
        self.servers.drop()
        pending: Deferred[object] = Deferred()
        self.session._connect = lambda protocol: pending
        self.clock.advance(1.0)
        self.assertEqual(self.session.state, CONNECTING)
        self.session.quit()
        self.assertNoResult(self.session.finished)
        pending.errback(ConnectionRefusedError())
        self.assertEqual(self.successResultOf(self.session.finished), 0)

    def test_states_reported(self) -> None:
        """
        The display hears of every change of state, nickname and room.
        """
        before = self.display.changes
        self.log_in()  # a nickname, then a room
        self.assertEqual(self.display.changes, before + 2)
        self.servers.say("<bob> hi")
        self.assertEqual(self.display.changes, before + 2)
        self.servers.drop()
        self.assertEqual(self.display.changes, before + 3)

    def test_jitter(self) -> None:
        """
        Each delay is the doubled base times a random factor in [0.5, 1].
        """
        asked: list[tuple[float, float]] = []

        def uniform(low: float, high: float) -> float:
            asked.append((low, high))
            return 0.75

        backoff = Backoff(2.0, 100.0, uniform=uniform)
        self.assertEqual([backoff.next() for _ in range(3)], [1.5, 3.0, 6.0])
        self.assertEqual(asked, [(0.5, 1.0)] * 3)


class ArgumentTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        """
        By default the client goes to localhost:8888 with no nickname, in colour, reconnecting.
        """
        arguments = parse_arguments([])
        self.assertEqual(
            (arguments.host, arguments.port, arguments.nickname), ("localhost", 8888, None)
        )
        self.assertTrue(arguments.colour and arguments.reconnect)
        self.assertFalse(arguments.debug or arguments.tls)

    def test_all(self) -> None:
        """
        --host, --port, the switches and a nickname are understood.
        """
        arguments = parse_arguments(
            ["--host", "chat.example", "--port", "7000", "--no-color", "--no-reconnect", "alice"]
        )
        self.assertEqual(
            (arguments.host, arguments.port, arguments.nickname), ("chat.example", 7000, "alice")
        )
        self.assertFalse(arguments.colour or arguments.reconnect)

    def test_address_argument(self) -> None:
        """
        One HOST:PORT argument names the server; [brackets] hold an IPv6 address.
        """
        for words, expected in [
            (["chat.example:7000", "bob"], ("chat.example", 7000, "bob")),
            (["[::1]:9000"], ("::1", 9000, None)),
            ([":9000", "bob"], ("localhost", 9000, "bob")),
            # The netcat habit: HOST [PORT] [NICK].
            (["127.0.0.1", "alice"], ("127.0.0.1", 8888, "alice")),
            (["127.0.0.1", "7001"], ("127.0.0.1", 7001, None)),
            (["127.0.0.1"], ("127.0.0.1", 8888, None)),
            (["chat.example", "7001", "bob"], ("chat.example", 7001, "bob")),
            (["localhost", "bob"], ("localhost", 8888, "bob")),
            (["::1", "9000"], ("::1", 9000, None)),
            (["alice"], ("localhost", 8888, "alice")),
        ]:
            arguments = parse_arguments(words)
            self.assertEqual((arguments.host, arguments.port, arguments.nickname), expected)

    def test_version(self) -> None:
        """
        --version says which chat-client this is.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        with self.assertRaises(SystemExit) as caught:
            parse_arguments(["--version"])
        self.assertEqual(caught.exception.code, 0)
        self.assertRegex(out.getvalue(), r"^chat-client \d+\.\d+\.\d+\n$")

    def test_bad_arguments(self) -> None:
        """
        Contradictions and nonsense are usage errors (exit status 2).
        """
        self.patch(sys, "stderr", io.StringIO())
        for words in [
            ["--port", "1", "host:2"],
            ["alice", "host:2"],
            ["alice", "bob"],
            ["host:99999"],
            ["127.0.0.1", "70000"],
            ["127.0.0.1", "alice", "7001"],
            ["--host", "h", "127.0.0.1", "alice"],
        ]:
            with self.assertRaises(SystemExit) as caught:
                parse_arguments(words)
            self.assertEqual(caught.exception.code, 2, words)
