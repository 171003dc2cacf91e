"""
Unit tests for L{chat.client}: the session logic, on in-memory transports.
"""

import io
import sys

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chat.client import QUIT_GRACE_SECONDS, ServerConnection, Session, Terminal, parse_arguments


class SessionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.stderr = io.StringIO()
        self.patch(sys, "stderr", self.stderr)
        self.clock = Clock()

    def connect(
        self, nickname: str | None = None
    ) -> tuple[Session, StringTransport, StringTransport]:
        session = Session(self.clock, nickname)
        server_side = StringTransport()
        server = ServerConnection(session)
        server.makeConnection(server_side)
        terminal_side = StringTransport()
        Terminal(session).makeConnection(terminal_side)
        self.server = server
        return session, server_side, terminal_side

    def test_logs_in_with_nickname(self) -> None:
        """
        Given a nickname, the client sends it as its first line.
        """
        _, server, _ = self.connect("alice")
        self.assertEqual(server.value(), b"alice\r\n")

    def test_no_nickname_sends_nothing(self) -> None:
        """
        Without a nickname, the user's first line will be it; nothing is sent first.
        """
        _, server, _ = self.connect()
        self.assertEqual(server.value(), b"")

    def test_typed_lines_go_to_server(self) -> None:
        """
        Each typed line goes to the server with CRLF, a CR from the terminal removed.
        """
        session, server, _ = self.connect()
        session.terminal.dataReceived(b"bob\nhello\r\npart")  # type: ignore[union-attr]
        self.assertEqual(server.value(), b"bob\r\nhello\r\n")

    def test_server_lines_printed(self) -> None:
        """
        Server lines are printed with local line endings, split across reads or not.
        """
        _, _, terminal = self.connect()
        self.server.dataReceived(b"*** Welcome\r\n<al")
        self.server.dataReceived(b"ice> hi\r\nbare\n")
        self.assertEqual(terminal.value(), b"*** Welcome\n<alice> hi\nbare\n")

    def test_end_of_input_quits(self) -> None:
        """
        End of input sends /quit once; the server's goodbye is still shown and
        its close ends the client with status 0.
        """
        session, server, terminal = self.connect("alice")
        session.terminal.readConnectionLost()  # type: ignore[union-attr]
        session.terminal.connectionLost(Failure(ConnectionDone()))  # type: ignore[union-attr]
        self.assertEqual(server.value(), b"alice\r\n/quit\r\n")
        session.terminal.dataReceived(b"late\n")  # type: ignore[union-attr]
        self.assertEqual(server.value(), b"alice\r\n/quit\r\n")
        self.server.dataReceived(b"*** Goodbye.\r\n")
        self.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(terminal.value(), b"*** Goodbye.\n")
        self.assertEqual(self.successResultOf(session.finished), 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.stderr.getvalue(), "")

    def test_server_that_never_closes(self) -> None:
        """
        If the server does not close after /quit, the client closes after a grace period.
        """
        session, server, _ = self.connect("alice")
        session.input_ended()
        self.clock.advance(QUIT_GRACE_SECONDS)
        self.assertTrue(server.disconnecting)
        self.server.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.successResultOf(session.finished), 0)

    def test_server_goes_away(self) -> None:
        """
        A server that closes or drops the connection unasked is one sentence on
        stderr and status 1.
        """
        for reason, word in [(ConnectionDone(), "closed"), (ConnectionLost(), "lost")]:
            self.stderr.truncate(0)
            self.stderr.seek(0)
            session, _, _ = self.connect("alice")
            self.server.connectionLost(Failure(reason))
            self.assertEqual(self.successResultOf(session.finished), 1)
            self.assertEqual(
                self.stderr.getvalue(), f"chat-client: the connection to the server was {word}.\n"
            )

    def test_terminal_lost_output(self) -> None:
        """
        Losing standard output alone does not end the session.
        """
        session, _, _ = self.connect("alice")
        session.terminal.writeConnectionLost()  # type: ignore[union-attr]
        self.assertNoResult(session.finished)

    def test_huge_input_line(self) -> None:
        """
        An absurdly long input line is reported and not sent.
        """
        session, server, _ = self.connect()
        session.terminal.dataReceived(b"x" * (Terminal.MAX_LENGTH + 2))  # type: ignore[union-attr]
        self.assertEqual(server.value(), b"")
        self.assertIn("ignored", self.stderr.getvalue())


class ArgumentTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        """
        By default the client goes to localhost:8888 with no nickname.
        """
        arguments = parse_arguments([])
        self.assertEqual(
            (arguments.host, arguments.port, arguments.nickname), ("localhost", 8888, None)
        )

    def test_all(self) -> None:
        """
        --host, --port and a nickname are understood.
        """
        arguments = parse_arguments(["--host", "chat.example", "--port", "7000", "alice"])
        self.assertEqual(
            (arguments.host, arguments.port, arguments.nickname), ("chat.example", 7000, "alice")
        )
