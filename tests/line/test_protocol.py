"""
Tests for L{chat.line.protocol}: the line door as a netcat or telnet user sees it.
"""

from twisted.internet.error import ConnectionAborted
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat.core.limits import MAX_LINE_BYTES
from chat.line.protocol import LineFactory
from chat.net.backpressure import SendQueue
from tests.helpers import (
    Client,
    Recorder,
    connections,
    enter,
    factory,
    make_service,
    memory,
    new_service,
)

PROMPT = (
    "*** Choose a nickname (1 to 16 ASCII letters, digits, '_' or '-', starting with a letter):"
)


class ConnectTests(SynchronousTestCase):
    def test_greeting(self) -> None:
        """
        A new connection is greeted with the server's name and asked for a nickname.
        """
        client = Client(make_service(server_name="Hackathon"))
        self.assertEqual(client.lines(), ["*** Welcome to Hackathon.", PROMPT])

    def test_lines_end_in_crlf(self) -> None:
        """
        The server sends CRLF line endings, whatever the client sends.
        """
        client = Client(make_service())
        self.assertTrue(client.raw().startswith(b"*** Welcome to chat.\r\n*** Choose"))

    def test_factory_builds_protocols_sharing_the_service(self) -> None:
        """
        The factory hands every protocol the same service.
        """
        service = make_service()
        factory = LineFactory(service)
        first = factory.buildProtocol(None)
        second = factory.buildProtocol(None)
        self.assertIs(first.connection.service, service)
        self.assertIs(second.connection.service, service)
        self.assertFalse(factory.noisy)

    def test_set_up_error_never_admits(self) -> None:
        """
        A bug while a connection is set up (here: admitting it raises) closes
        that connection at once; it is not counted, greeted or let in.
        """
        service = make_service()

        def broken(session: object) -> None:
            raise RuntimeError("admission is broken")

        self.patch(service, "admit", broken)
        transport = StringTransport()
        client = Client(service, transport=transport)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(client.raw(), b"")
        self.assertEqual(connections(service), set())
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        client.send("alice")
        self.assertEqual(service.chat.online(), [])

    def test_connections_tracked(self) -> None:
        """
        The service knows every open connection, logged in or not.
        """
        service = make_service()
        client = Client(service)
        self.assertEqual(connections(service), {client.connection})
        client.hang_up()
        self.assertEqual(connections(service), set())


class LoginTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service()

    def test_first_line_is_nickname(self) -> None:
        """
        The first non-empty line is the nickname; the user is told who is online.
        """
        client = Client(self.service)
        client.lines()
        client.send("", "   ", "alice")
        self.assertEqual(
            client.lines(),
            [
                "*** You are alice. 1 user online: alice",
                "*** Type /help for the list of commands.",
                "*** You are in lobby. 1 user here: alice",
            ],
        )

    def test_nick_command_logs_in(self) -> None:
        """
        "/nick NAME" works as the first line too.
        """
        client = Client(self.service)
        client.lines()
        client.send("/NICK  bob ")
        self.assertEqual(client.lines()[0], "*** You are bob. 1 user online: bob")

    def test_nick_command_without_name(self) -> None:
        """
        "/nick" alone is a usage error and the user is still asked for a nickname.
        """
        client = Client(self.service)
        client.lines()
        client.send("/nick")
        self.assertEqual(client.lines(), ["!!! Usage: /nick NICK"])
        client.send("bob")
        self.assertEqual(client.lines()[0], "*** You are bob. 1 user online: bob")

    def test_telnet_client(self) -> None:
        """
        A telnet client's option negotiation is ignored, and its CR NUL or bare
        CR line ends work.
        """
        alice = Client(self.service, "alice")
        client = Client(self.service)
        client.lines()
        client.protocol.dataReceived(b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f")
        client.protocol.dataReceived(b"bob\r\x00hello\r")
        self.assertEqual(client.lines()[0], "*** You are bob. 2 users online: alice, bob")
        self.assertEqual(alice.lines(), ["*** bob has joined", "<bob> hello"])

    def test_telnet_ctrl_c(self) -> None:
        """
        Ctrl-C in telnet (IAC IP, then IAC DO TIMING-MARK) is the user's wish
        to leave, not text: the timing mark telnet waits for is answered
        first (until then it discards what it receives), then the goodbye,
        and the connection closes; the room is told as for /quit.
        """
        alice = Client(self.service, "alice")
        bob = Client(self.service, "bob")
        alice.lines()
        before = len(bob.raw())
        bob.protocol.dataReceived(b"\xff\xf4\xff\xfd\x06")
        self.assertEqual(bob.raw()[before:], b"\xff\xfb\x06*** Goodbye.\r\n")
        self.assertTrue(bob.closed)
        self.assertEqual(alice.lines(), ["*** bob has left"])

    def test_telnet_timing_mark_alone(self) -> None:
        """
        A timing mark asked for on its own (split across packets) is answered
        and changes nothing else.
        """
        bob = Client(self.service, "bob")
        before = len(bob.raw())
        bob.protocol.dataReceived(b"\xff")
        bob.protocol.dataReceived(b"\xfd\x06/who\r\n")
        self.assertEqual(bob.raw()[before:], b"\xff\xfb\x06*** 1 user in lobby: bob\r\n")
        self.assertFalse(bob.closed)

    def test_crlf_login(self) -> None:
        """
        A telnet user's CRLF line works the same as netcat's LF.
        """
        client = Client(self.service)
        client.lines()
        client.protocol.dataReceived(b"alice\r\n")
        self.assertEqual(client.lines()[0], "*** You are alice. 1 user online: alice")

    def test_join_notice_to_others(self) -> None:
        """
        Everyone already logged in is told who joined; the joiner sees everyone.
        """
        alice = Client(self.service, "alice")
        bob = Client(self.service, "bob")
        self.assertEqual(alice.lines(), ["*** bob has joined"])
        carol = Client(self.service)
        carol.lines()
        carol.send("carol")
        self.assertEqual(carol.lines()[0], "*** You are carol. 3 users online: alice, bob, carol")
        self.assertEqual(bob.lines(), ["*** carol has joined"])

    def test_taken_nickname_asks_again(self) -> None:
        """
        A taken nickname (in any case) gets an error and the question again; the
        connection stays open and the next try works.
        """
        Client(self.service, "alice")
        client = Client(self.service)
        client.lines()
        client.send("ALICE")
        self.assertEqual(client.lines(), ["!!! The nickname ALICE is taken.", PROMPT])
        self.assertFalse(client.closed)
        client.send("alice2")
        self.assertEqual(client.lines()[0], "*** You are alice2. 2 users online: alice, alice2")

    def test_invalid_nickname_asks_again(self) -> None:
        """
        An invalid nickname gets an error that says why, and the question again.
        """
        client = Client(self.service)
        client.lines()
        client.send("alice smith")
        self.assertEqual(
            client.lines(),
            [
                "!!! Invalid nickname 'alice smith': "
                "it may contain only ASCII letters, digits, '_' and '-'.",
                PROMPT,
            ],
        )
        self.assertFalse(client.closed)

    def test_other_commands_before_login(self) -> None:
        """
        Before login, commands other than /nick, /help and /quit are refused.
        """
        client = Client(self.service)
        client.lines()
        client.send("/who")
        self.assertEqual(
            client.lines(),
            ["!!! Choose a nickname first; until then only /nick, /help and /quit work."],
        )

    def test_help_before_login(self) -> None:
        """
        /help works before login.
        """
        client = Client(self.service)
        client.lines()
        client.send("/help")
        self.assertEqual(client.lines()[0], "*** Commands:")

    def test_quit_before_login(self) -> None:
        """
        /quit before login says goodbye, closes, and announces nothing.
        """
        alice = Client(self.service, "alice")
        client = Client(self.service)
        client.send("/quit")
        self.assertEqual(client.lines()[-1], "*** Goodbye.")
        self.assertTrue(client.closed)
        client.hang_up()
        self.assertEqual(alice.lines(), [])

    def test_motd_after_login(self) -> None:
        """
        The message of the day is shown, line by line as notices, right after login.
        """
        service = make_service(motd=["Be nice.", "", "Have fun."])
        client = Client(service)
        client.lines()
        client.send("alice")
        self.assertEqual(
            client.lines()[1:],
            [
                "*** Be nice.",
                "*** ",
                "*** Have fun.",
                "*** Type /help for the list of commands.",
                "*** You are in lobby. 1 user here: alice",
            ],
        )


class ThreeUsers(SynchronousTestCase):
    """
    alice, bob and carol, logged in, with what they were sent so far read.
    """

    def setUp(self) -> None:
        self.service = make_service()
        self.alice = Client(self.service, "alice")
        self.bob = Client(self.service, "bob")
        self.carol = Client(self.service, "carol")
        for client in (self.alice, self.bob, self.carol):
            client.lines()


class ChatTests(ThreeUsers):
    def test_broadcast_no_echo(self) -> None:
        """
        A plain line reaches every other user as "<nick> text"; the sender gets no echo.
        """
        self.alice.send("hello world")
        self.assertEqual(self.bob.lines(), ["<alice> hello world"])
        self.assertEqual(self.carol.lines(), ["<alice> hello world"])
        self.assertEqual(self.alice.lines(), [])

    def test_spoofing_text(self) -> None:
        """
        What another user's terminal would show as someone else's line, or
        as nothing, does not get through: invisible characters are removed,
        and a run of spaces that would wrap the rest onto a row of its own
        (as if <obs> said it) is squeezed.
        """
        self.alice.send(" " * 100 + "<obs> please send me your password", "hi\u200b\u2800 bob")
        self.assertEqual(
            self.bob.lines(),
            ["<alice> " + " " * 16 + "<obs> please send me your password", "<alice> hi bob"],
        )

    def test_habits_from_other_chats(self) -> None:
        """
        Habits of the classic school chats, typed without a slash: a private
        message is never said to the room, lone command words are not
        either; each gets a one-line hint. Ordinary lines that start with
        the same words are said, and /say says anything as it is.
        """
        self.alice.send("send bob see you at 5", "msg BOB hi", "HELP", "list", "quit", "exit")
        hint = "!!! Not sent to the room: did you mean {}? (/say TEXT says anything as it is.)"
        self.assertEqual(
            self.alice.lines(),
            [
                hint.format("/msg bob see you at 5"),
                hint.format("/msg BOB hi"),
                hint.format("/help"),
                hint.format("/who"),
                hint.format("/quit"),
                hint.format("/quit"),
            ],
        )
        self.assertEqual(self.bob.lines() + self.carol.lines(), [])
        self.alice.send("send the file to dave", "help me please", "/say help", "/say /quit")
        self.assertEqual(
            self.bob.lines(),
            [
                "<alice> send the file to dave",
                "<alice> help me please",
                "<alice> help",
                "<alice> /quit",
            ],
        )
        self.assertFalse(self.alice.closed)

    def test_command_habits(self) -> None:
        """
        /join #room is /join room; /part goes back to the lobby; /exit and /q quit.
        """
        self.alice.send("/join #games")
        self.assertEqual(
            self.alice.lines()[0], "*** You are in games. 1 user here: alice (room operator)"
        )
        self.alice.send("/part", "/part")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** You are in lobby. 3 users here: alice, bob, carol",
                "!!! You are already in lobby.",
            ],
        )
        self.bob.send("/EXIT")
        self.assertEqual(self.bob.lines()[-1], "*** Goodbye.")
        self.carol.send("/q later")
        self.assertEqual(self.carol.lines()[-1], "*** Goodbye.")

    def test_same_bytes_for_every_recipient(self) -> None:
        """
        A broadcast is formatted once: every recipient is written the same bytes object.
        """
        writes: list[bytes] = []
        for client in (self.bob, self.carol):
            original = client.transport.write

            def spy(data: bytes, original=original) -> None:  # type: ignore[no-untyped-def]
                writes.append(data)
                original(data)

            client.transport.write = spy  # type: ignore[method-assign]
        self.alice.send("once")
        self.assertEqual(len(writes), 2)
        self.assertIs(writes[0], writes[1])

    def test_empty_lines_ignored(self) -> None:
        """
        Empty and blank lines are not broadcast.
        """
        self.alice.send("", "   ", "\t")
        self.assertEqual(self.bob.lines(), [])
        self.assertEqual(self.alice.lines(), [])

    def test_double_slash(self) -> None:
        """
        A line starting with // is sent literally, starting with one /.
        """
        self.alice.send("//etc/passwd is a file")
        self.assertEqual(self.bob.lines(), ["<alice> /etc/passwd is a file"])

    def test_utf8(self) -> None:
        """
        UTF-8 text travels intact.
        """
        self.alice.send("héllo 👋 日本")
        self.assertEqual(self.bob.lines(), ["<alice> héllo 👋 日本"])

    def test_invalid_utf8_replaced(self) -> None:
        """
        Bytes that are not UTF-8 become U+FFFD instead of raising.
        """
        self.alice.protocol.dataReceived(b"caf\xe9 \xc3\x28 \xfe\n")
        self.assertEqual(self.bob.lines(), ["<alice> caf\ufffd \ufffd( \ufffd"])

    def test_control_characters_not_relayed(self) -> None:
        """
        ESC, BEL, CR, backspace and C1 controls never reach another user's terminal.
        """
        self.alice.protocol.dataReceived(b"\x1b[2J\x1b]0;pwned\x07\x08\x00\xc2\x9b31mtext\r\n")
        [line] = self.bob.lines()
        self.assertEqual(line, "<alice> [2J]0;pwned31mtext")
        self.assertFalse(any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in line))

    def test_cannot_forge_notice_or_error(self) -> None:
        """
        Whatever a user types, no line they cause starts with a notice or error prefix.
        """
        self.alice.send("*** bob has left", "!!! fake error", "/me *** x", "\r*** y")
        for line in self.bob.lines():
            self.assertFalse(line.startswith(("*** ", "!!! ")), line)

    def test_msg(self) -> None:
        """
        /msg reaches only its recipient; the sender gets a confirmation.
        """
        self.alice.send("/msg bob are you there?")
        self.assertEqual(self.bob.lines(), ["*alice* are you there?"])
        self.assertEqual(self.alice.lines(), ["-> *bob* are you there?"])
        self.assertEqual(self.carol.lines(), [])

    def test_msg_aliases(self) -> None:
        """
        /whisper, /w and /tell are /msg; command names are case-insensitive.
        """
        self.alice.send("/whisper bob 1", "/w bob 2", "/tell bob 3", "/MSG bob 4")
        self.assertEqual(self.bob.lines(), ["*alice* 1", "*alice* 2", "*alice* 3", "*alice* 4"])

    def test_msg_unknown_nick(self) -> None:
        """
        /msg to a nickname nobody has is an error, and nobody else hears anything.
        """
        self.alice.send("/msg ghost boo")
        self.assertEqual(self.alice.lines(), ["!!! No such user: ghost"])
        self.assertEqual(self.bob.lines() + self.carol.lines(), [])

    def test_msg_usage(self) -> None:
        """
        /msg without a recipient or text is a usage error.
        """
        self.alice.send("/msg", "/msg bob", "/msg bob   ")
        self.assertEqual(self.alice.lines(), ["!!! Usage: /msg NICK TEXT"] * 3)

    def test_who(self) -> None:
        """
        /who and its aliases list everyone online.
        """
        self.alice.send("/who", "/list", "/users")
        self.assertEqual(self.alice.lines(), ["*** 3 users in lobby: alice, bob, carol"] * 3)

    def test_me(self) -> None:
        """
        /me shows an action to everyone else.
        """
        self.alice.send("/me waves")
        self.assertEqual(self.bob.lines(), ["* alice waves"])
        self.alice.send("/me")
        self.assertEqual(self.alice.lines(), ["!!! Usage: /me ACTION"])

    def test_nick(self) -> None:
        """
        /nick renames and is announced to everyone, the renamed user included.
        """
        self.alice.send("/nick alicia")
        for client in (self.alice, self.bob, self.carol):
            self.assertEqual(client.lines(), ["*** alice is now known as alicia"])
        self.alice.send("still me")
        self.assertEqual(self.bob.lines(), ["<alicia> still me"])

    def test_nick_refused(self) -> None:
        """
        A taken or missing new nickname is an error to the user alone.
        """
        self.alice.send("/nick BOB", "/nick")
        self.assertEqual(
            self.alice.lines(), ["!!! The nickname BOB is taken.", "!!! Usage: /nick NICK"]
        )
        self.assertEqual(self.bob.lines(), [])

    def test_help(self) -> None:
        """
        /help lists every command with a one-line description.
        """
        self.alice.send("/help")
        lines = self.alice.lines()
        self.assertEqual(lines[0], "*** Commands:")
        text = "\n".join(lines)
        for usage in [
            "/msg NICK TEXT",
            "/me ACTION",
            "/who",
            "/nick NICK",
            "/help",
            "/quit [REASON]",
        ]:
            self.assertIn(f"***   {usage} ", text)
        for alias in ["/whisper", "/w", "/tell", "/list", "/users"]:
            self.assertIn(alias, text)
        # This server keeps no history, accounts or bans, and alice is no
        # operator: /help does not offer what she cannot use.
        for missing in ["/history", "/search", "/register", "/login", "/kick", "/ban", "/wall"]:
            self.assertNotIn(f"***   {missing} ", text)

    def test_unknown_command(self) -> None:
        """
        An unknown command is an error, and nothing is broadcast.
        """
        self.alice.send("/frobnicate now", "/")
        self.assertEqual(
            self.alice.lines(),
            [
                "!!! Unknown command /frobnicate; type /help for the list.",
                "!!! Unknown command /; type /help for the list.",
            ],
        )
        self.assertEqual(self.bob.lines(), [])

    def test_quit(self) -> None:
        """
        /quit says goodbye, closes, and everyone else is told once, with the reason.
        """
        self.alice.send("/quit off to lunch")
        self.assertEqual(self.alice.lines(), ["*** Goodbye."])
        self.assertTrue(self.alice.closed)
        self.alice.hang_up()
        self.assertEqual(self.bob.lines(), ["*** alice has left (off to lunch)"])
        self.assertEqual(self.carol.lines(), ["*** alice has left (off to lunch)"])
        self.assertEqual(self.service.chat.online(), ["bob", "carol"])

    def test_lines_after_quit_ignored(self) -> None:
        """
        Lines that arrive in the same chunk after /quit are not acted on.
        """
        self.alice.protocol.dataReceived(b"/quit\nsneaky\n")
        self.assertEqual(self.bob.lines(), ["*** alice has left"])

    def test_hang_up(self) -> None:
        """
        A client that closes its socket is announced as gone exactly once.
        """
        self.alice.hang_up()
        self.assertEqual(self.bob.lines(), ["*** alice has left (connection closed)"])
        self.assertEqual(self.carol.lines(), ["*** alice has left (connection closed)"])

    def test_network_error(self) -> None:
        """
        A connection lost to a network error is announced as lost.
        """
        from twisted.internet.error import ConnectionLost
        from twisted.python.failure import Failure

        self.alice.protocol.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(self.bob.lines(), ["*** alice has left (connection lost)"])

    def test_line_too_long(self) -> None:
        """
        An over-long line gets an error and is dropped; the connection survives
        and the next line, even in the same chunk, works.
        """
        self.alice.protocol.dataReceived(b"x" * (MAX_LINE_BYTES + 1) + b"\nnext\n")
        self.assertEqual(
            self.alice.lines(),
            [f"!!! Line too long (over {MAX_LINE_BYTES} bytes); it was dropped."],
        )
        self.assertEqual(self.bob.lines(), ["<alice> next"])
        self.assertFalse(self.alice.closed)

    def test_longest_line_allowed(self) -> None:
        """
        A line of exactly the maximum length, CRLF-terminated, is delivered.
        """
        self.alice.protocol.dataReceived(b"y" * MAX_LINE_BYTES + b"\r\n")
        self.assertEqual(self.bob.lines(), ["<alice> " + "y" * MAX_LINE_BYTES])

    def test_bug_in_a_handler_is_contained(self) -> None:
        """
        An unexpected exception while handling a line is logged, the user gets
        an error line, and the connection and everyone else carry on.
        """

        def broken(user: object, room: str, text: str, *rest: object) -> None:
            raise RuntimeError("bug")

        self.patch(self.service.chat, "say", broken)
        self.alice.send("boom")
        self.assertEqual(
            self.alice.lines(), ["!!! Internal server error; that line was not processed."]
        )
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertFalse(self.alice.closed)
        self.alice.send("/who")
        self.assertEqual(self.alice.lines(), ["*** 3 users in lobby: alice, bob, carol"])


class TransportTests(SynchronousTestCase):
    def test_tcp_nodelay(self) -> None:
        """
        On a TCP transport, Nagle's algorithm is switched off and keepalive on.
        """

        class TCPTransport(StringTransport):
            nodelay = False
            keepalive = False

            def setTcpNoDelay(self, enabled: bool) -> None:
                self.nodelay = enabled

            def setTcpKeepAlive(self, enabled: bool) -> None:
                self.keepalive = enabled

        from twisted.internet.interfaces import ITCPTransport
        from zope.interface import directlyProvides

        transport = TCPTransport()
        directlyProvides(transport, ITCPTransport)
        factory(make_service()).buildProtocol(None).makeConnection(transport)
        self.assertTrue(transport.nodelay)
        self.assertTrue(transport.keepalive)


class LoggingTests(TestCase):
    def test_logins_logged_not_messages(self) -> None:
        """
        Logins and departures are logged; message text is not, unless asked for.
        """
        from twisted.internet.testing import EventLoggingObserver
        from twisted.logger import globalLogPublisher

        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        service = make_service()
        alice = Client(service, "alice")
        alice.send("secret plans", "/msg alice more secrets", "/me hides")
        alice.hang_up()
        formats = [event["log_format"] for event in observer]
        self.assertIn("{peer} logged in as {nickname}", formats)
        self.assertIn("{nickname} ({peer}) left: {why}", formats)
        everything = repr(list(observer))
        self.assertNotIn("secret", everything)
        self.assertNotIn("hides", everything)

    def test_messages_logged_when_asked(self) -> None:
        """
        With log_messages, public, private and action texts are logged too.
        """
        from twisted.internet.testing import EventLoggingObserver
        from twisted.logger import formatEvent, globalLogPublisher

        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        service = make_service(log_messages=True)
        alice = Client(service, "alice")
        alice.send("hello", "/msg alice psst", "/me waves", "/nick alicia")
        texts = [formatEvent(event) for event in observer]
        self.assertIn("<alice> hello", texts)
        self.assertIn("*alice* -> alice: psst", texts)
        self.assertIn("* alice waves", texts)
        self.assertIn("alice is now alicia", texts)

    def test_logged_messages_carry_no_escapes(self) -> None:
        """
        With log_messages, a message is logged as the room sees it: terminal
        escapes in it cannot act on the terminal of whoever reads the log.
        """
        from twisted.internet.testing import EventLoggingObserver
        from twisted.logger import formatEvent, globalLogPublisher

        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        service = make_service(log_messages=True)
        alice = Client(service, "alice")
        alice.send("\x1b]2;owned\x07\x1b[2Jhi", "/me \x1b[31mwaves", "/msg alice \x9b2Jx")
        texts = "\n".join(formatEvent(event) for event in observer)
        self.assertNotIn("\x1b", texts)
        self.assertNotIn("\x07", texts)
        self.assertNotIn("\x9b", texts)
        self.assertIn("<alice> ]2;owned[2Jhi", texts)


class ListingTests(SynchronousTestCase):
    """
    Listings are bounded: a page of 100 rooms, and big answers cost flood allowance.
    """

    def setUp(self) -> None:
        from twisted.internet.task import Clock

        from chat.core.limits import HUMAN
        from chat.core.service import Settings

        self.clock = Clock()
        self.service = new_service(self.clock, Settings(limits=HUMAN))
        chat = self.service.chat
        for n in range(250):
            enter(chat, f"u{n:03}", Recorder(), f"room{n:03}")
        self.alice = Client(self.service, "alice")
        self.alice.lines()

    def test_pages(self) -> None:
        """
        /rooms shows 100 rooms and says how to see more; /rooms N the Nth page.
        """
        self.alice.send("/rooms")
        lines = self.alice.lines()
        self.assertEqual(lines[0], "*** 251 rooms, 1-100 here:")
        self.assertEqual(len(lines), 102)
        self.assertEqual(lines[-1], "*** More: /rooms 2")
        self.alice.send("/rooms 3")
        lines = self.alice.lines()
        self.assertEqual(lines[0], "*** 251 rooms, 201-251 here:")
        self.assertEqual(lines[-1], "***   room249 (1)")
        self.alice.send("/rooms 9", "/rooms x", "/rooms 0")
        self.assertEqual(
            self.alice.lines(),
            ["*** 251 rooms, none on this page:"] + ["!!! Usage: /rooms [PAGE]"] * 2,
        )

    def test_irc_list_is_capped(self) -> None:
        """
        IRC's LIST shows the first 100 channels and says there are more.
        """
        from tests.helpers import IRCUser

        irc = IRCUser(self.service, "wee")
        irc.send("LIST")
        codes = irc.codes()
        self.assertEqual(codes.count("322"), 100)
        self.assertEqual(codes[-2:], ["NOTICE", "323"])

    def test_big_listings_cost_flood_allowance(self) -> None:
        """
        Asking for 100-room pages over and over is flooding: each costs five
        lines of the allowance, so the fifth waits its turn.
        """
        for _ in range(6):
            self.alice.send("/rooms 2")
        lines = self.alice.lines()
        self.assertEqual(lines.count("*** 251 rooms, 101-200 here:"), 4)
        self.assertIn(
            "!!! You are sending too fast (at most 5 lines a second, bursts of 20); "
            "lines over that wait their turn.",
            lines,
        )
        self.clock.advance(3)
        self.assertEqual(self.alice.lines().count("*** 251 rooms, 101-200 here:"), 2)


class QuotedInputTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service()
        self.alice = Client(self.service, "alice")

    def test_tab_ends_command_name(self) -> None:
        """
        A tab after a command name separates it from its argument, as a space does.
        """
        self.alice.send("/who\t", "/me\twaves")
        self.assertEqual(self.alice.lines(), ["*** 1 user in lobby: alice"])

    def test_errors_quote_input_without_controls(self) -> None:
        """
        Error lines that quote what the user typed carry no control characters.
        """
        self.alice.protocol.dataReceived(b"/x\x1b[2J\x07 y\n/msg \x1b[31mghost hi\n")
        self.assertEqual(
            self.alice.lines(),
            [
                "!!! Unknown command /x[2J; type /help for the list.",
                "!!! No such user: [31mghost",
            ],
        )

    def test_motd_cleaned(self) -> None:
        """
        An operator's MOTD cannot send escape sequences either.
        """
        client = Client(make_service(motd=["\x1b[5mblink\x1b[0m\tnow"]))
        client.lines()
        client.send("bob")
        self.assertEqual(client.lines()[1], "*** [5mblink[0m now")


class RoomTests(ThreeUsers):
    def test_everyone_starts_in_lobby(self) -> None:
        """
        A new user is in the lobby, and the lobby's members see it join.
        """
        self.assertEqual(self.service.chat.members("lobby"), ["alice", "bob", "carol"])

    def test_join_moves(self) -> None:
        """
        /join moves the user: the old room hears where it went, the new room that
        it came, and the user sees the new room's members.
        """
        self.carol.send("/join games")
        self.alice.send("/join Games")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** carol has gone to games",
                "*** You are in games. 2 users here: alice, carol (room operator)",
            ],
        )
        self.assertEqual(
            self.bob.lines(), ["*** carol has gone to games", "*** alice has gone to games"]
        )
        self.assertEqual(self.carol.lines()[-1], "*** alice has joined")

    def test_messages_stay_in_the_room(self) -> None:
        """
        Public messages, actions, renames and departures reach the room only;
        private messages cross rooms.
        """
        self.carol.send("/join games")
        self.carol.lines()
        self.alice.lines()
        self.bob.lines()
        self.alice.send("hello lobby", "/me waves", "/nick alicia", "/msg carol psst")
        self.assertEqual(
            self.bob.lines(),
            ["<alice> hello lobby", "* alice waves", "*** alice is now known as alicia"],
        )
        self.assertEqual(self.carol.lines(), ["*alicia* psst"])
        self.bob.send("/quit")
        self.assertEqual(
            self.alice.lines(),
            ["*** alice is now known as alicia", "-> *carol* psst", "*** bob has left"],
        )
        self.assertEqual(self.carol.lines(), [])

    def test_join_refusals(self) -> None:
        """
        Joining the room one is in, a bad name, or nothing, is an error, and one stays put.
        """
        self.alice.send("/join LOBBY", "/join bad name", "/join")
        self.assertEqual(
            self.alice.lines(),
            [
                "!!! You are already in lobby.",
                "!!! Invalid room name 'bad name': "
                "it may contain only ASCII letters, digits, '_' and '-'.",
                "!!! Usage: /join ROOM [KEY]",
            ],
        )
        self.assertEqual(self.bob.lines(), [])
        self.assertEqual(self.alice.connection.room, "lobby")

    def test_rooms(self) -> None:
        """
        /rooms lists every room with its number of users and its topic.
        """
        self.carol.send("/join games", "/topic chess at 8")
        self.alice.send("/rooms")
        self.assertEqual(
            self.alice.lines()[-3:],
            ["*** 2 rooms:", "***   games (1): chess at 8", "***   lobby (2)"],
        )

    def test_topic(self) -> None:
        """
        /topic shows the topic; /topic TEXT sets it for the room, which is told;
        newcomers see it on entering.
        """
        # The lobby's topic is the server operators': alice is one.
        chat = memory(self.service)
        chat.set_operator(chat.find("alice"), True)
        self.alice.send("/topic")
        self.assertEqual(self.alice.lines(), ["*** lobby has no topic."])
        self.alice.send("/topic Welcome, all")
        self.assertEqual(self.alice.lines(), ["*** alice set the topic: Welcome, all"])
        self.assertEqual(self.bob.lines(), ["*** alice set the topic: Welcome, all"])
        self.bob.send("/topic")
        self.assertEqual(self.bob.lines(), ["*** Topic of lobby: Welcome, all"])
        dave = Client(self.service)
        dave.lines()
        dave.send("dave")
        self.assertEqual(
            dave.lines()[-2:],
            [
                "*** You are in lobby. 4 users here: alice, bob, carol, dave",
                "*** Topic: Welcome, all",
            ],
        )

    def test_who_everyone(self) -> None:
        """
        /who lists the room; /who * lists everyone online; anything else is a usage error.
        """
        self.carol.send("/join games")
        self.alice.lines()
        self.alice.send("/who", "/who *", "/who x")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** 2 users in lobby: alice, bob",
                "*** 3 users online: alice, bob, carol",
                "!!! Usage: /who [*]",
            ],
        )

    def test_empty_room_goes(self) -> None:
        """
        A room disappears when its last user leaves it; the lobby stays.
        """
        self.carol.send("/join games", "/join lobby")
        self.alice.send("/rooms")
        self.assertEqual(self.alice.lines()[-2:], ["*** 1 room:", "***   lobby (3)"])


class SlowReaderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(sendq=1024)
        self.alice = Client(self.service, "alice")
        self.slow = Client(self.service, "slow")
        self.alice.lines()
        outflow = self.slow.connection._outflow
        assert isinstance(outflow, SendQueue)
        self.outflow = outflow
        self.assertIs(self.slow.transport.producer, self.outflow)

    def test_connection_state_in_slots(self) -> None:
        """
        What chat keeps for each connection is in slots, with no instance
        dictionary beside them: the Twisted protocol, the connection, its
        session, its user and its outflow (an unshared dictionary cost each
        of 10 000 idle connections 1.5 KiB; Protocol's own, 40 bytes).
        """
        session = self.slow.connection.session
        kept = [self.slow.protocol, self.slow.connection, session, session.user, self.outflow]
        for each in kept:
            self.assertFalse(hasattr(each, "__dict__"), type(each).__name__)

    def test_producer_registered(self) -> None:
        """
        Each connection registers a streaming producer that is not the protocol
        (whose own pauseProducing would stop reading).
        """
        self.assertTrue(self.slow.transport.streaming)
        self.assertIsNot(self.outflow, self.slow.protocol)

    def test_keeping_up(self) -> None:
        """
        A client whose transport never pauses receives everything, however much.
        """
        for _ in range(100):
            self.alice.send("x" * 100)
        self.assertFalse(self.slow.transport.disconnected)

    def test_not_reading_is_dropped(self) -> None:
        """
        Once the transport pauses, more than the limit written is a drop: the
        connection is aborted, the others are told why, and it is logged.
        """
        self.outflow.pauseProducing()
        for _ in range(9):
            self.alice.send("y" * 100)
        self.assertFalse(self.slow.transport.disconnected)
        self.alice.send("z" * 100)
        self.assertTrue(self.slow.transport.disconnected)
        self.slow.protocol.connectionLost(Failure(ConnectionAborted()))
        self.assertEqual(self.alice.lines(), ["*** slow has left (too slow to keep up)"])
        self.assertEqual(self.service.chat.online(), ["alice"])

    def test_written_outside_input_counts_too(self) -> None:
        """
        What reaches a client other than in answer to input (another
        front-end's user speaking, say) counts against the limit the same way.
        """
        self.outflow.pauseProducing()
        alice = self.service.chat.find("alice")
        for _ in range(9):
            self.service.chat.say(alice, "lobby", "y" * 100)
        self.assertFalse(self.slow.transport.disconnected)
        self.service.chat.say(alice, "lobby", "z" * 100)
        self.assertTrue(self.slow.transport.disconnected)

    def test_pause_repeated_on_every_write(self) -> None:
        """
        The transport pauses its producer again on every write while its buffer
        is full; that does not restart the count.
        """
        self.outflow.pauseProducing()
        for _ in range(12):
            self.outflow.pauseProducing()
            self.alice.send("y" * 100)
        self.assertTrue(self.slow.transport.disconnected)

    def test_resume_forgives(self) -> None:
        """
        A client that catches up starts counting afresh.
        """
        for _ in range(3):
            self.outflow.pauseProducing()
            for _ in range(8):
                self.alice.send("y" * 100)
            self.outflow.resumeProducing()
        self.assertFalse(self.slow.transport.disconnected)
