"""
Tests for the IRC door against hostile input (issue 21): what an attacker
sends gets a clear answer, and the connection, the server and every other
user go on.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import IRCUser, make_service


class MalformedTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")

    def test_not_utf8_without_a_verb(self) -> None:
        """
        A line of tags or a source alone that is not UTF-8 (C{@\\xff},
        C{:\\xff}) is refused with C{FAIL * INVALID_UTF8}, before
        registration too, and the client may still register.
        """
        user = IRCUser(self.service)
        for line in (b"@\xff", b":\xff", b"@\xff :\xff", b"@a :b \xff", b":\xff NICK"):
            user.protocol.dataReceived(line + b"\r\n")
        self.assertEqual(
            user.messages(),
            [
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "NICK", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
            ],
        )
        user.send("NICK alice", "USER alice 0 * :Alice")
        self.assertEqual(user.codes()[0], "001")
        self.assertEqual(self.flushLoggedErrors(), [])
