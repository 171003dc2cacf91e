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


class TagTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.mallory = IRCUser(self.service, "mallory", caps="message-tags echo-message")
        self.bob = IRCUser(self.service, "bob", caps="message-tags")
        for user in (self.mallory, self.bob):
            user.send("JOIN #den")
        for user in (self.mallory, self.bob):
            user.lines()

    def test_client_tag_names_and_values_the_spec_forbids(self) -> None:
        """
        A client-only tag whose name is not letters, digits and hyphens
        (after an optional vendor and C{/}), or whose value holds NUL, gets
        the line refused with C{FAIL VERB INVALID_TAG}: nothing reaches
        anyone, and the sender goes on.
        """
        for line in (
            b"@+a\rQUIT;+typing=active TAGMSG #den",
            b"@+a\x00b=1 TAGMSG bob",
            b"@+draft/reply=x\x00y PRIVMSG #den :hi",
            b"@+=1 PRIVMSG bob :hi",
            b"@+a:b=1 NOTICE #den :hi",
        ):
            self.mallory.protocol.dataReceived(line + b"\r\n")
        refusal = (
            "Message rejected: a client tag's name is letters, digits and hyphens "
            "(after a vendor/), its value has no NUL"
        )
        self.assertEqual(
            self.mallory.messages(),
            [
                ("irc.test", "FAIL", verb, "INVALID_TAG", refusal)
                for verb in ("TAGMSG", "TAGMSG", "PRIVMSG", "PRIVMSG", "NOTICE")
            ],
        )
        self.assertEqual(self.bob.lines(), [])
        self.mallory.send("@+example.com/x-y=1;+typing=active TAGMSG #den")
        [relayed] = self.bob.lines()
        self.assertTrue(relayed.startswith("@"), relayed)
        self.assertIn("+example.com/x-y=1", relayed)


class UserNameTests(SynchronousTestCase):
    def test_user_names_restricted(self) -> None:
        """
        A user name of anything but ASCII letters, digits, C{.}, C{-} and
        C{_} (C{USER x,root!r@ 0 * :x}) is refused with 461, and the client
        may send another; MONITOR and WHO then show the valid one.
        """
        service = make_service(server_name="irc.test")
        watcher = IRCUser(service, "watcher")
        watcher.send("MONITOR + mallory")
        watcher.lines()
        mallory = IRCUser(service)
        mallory.send("NICK mallory")
        for bad in ("x,root!r@", "a@b", "~john", "j\u00f6rg", "a!b", "#x"):
            mallory.send(f"USER {bad} 0 * :x")
        self.assertEqual(
            mallory.messages(),
            [("irc.test", "461", "mallory", "USER", "Your username is not valid")] * 6,
        )
        self.assertEqual(watcher.lines(), [])
        mallory.send("USER m.a-l_1 0 * :x")
        self.assertEqual(mallory.codes()[0], "001")
        self.assertEqual(watcher.codes(), ["730"])
        watcher.send("MONITOR S")
        self.assertEqual(
            watcher.messages(), [("irc.test", "730", "watcher", "mallory!m.a-l_1@chat")]
        )
        watcher.send("WHO mallory")
        self.assertEqual(watcher.messages()[0][3:5], ("*", "m.a-l_1"))
