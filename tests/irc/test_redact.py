"""
IRCv3 message-redaction through the IRC door: a sender deletes its own
message, a channel operator anyone's, others may not; the members that
take the capability are told, the others (and line users) see nothing new,
and the message is gone from the history and from searches.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import Settings
from chat.irc.message import parse
from chat.store.accounts import Accounts
from chat.store.history import History
from tests.helpers import Client, IRCUser, SyncPool, new_service

CAPS = "message-tags echo-message draft/message-redaction"


def _now(function: Any, *args: Any) -> Deferred[Any]:
    return maybeDeferred(function, *args)


class RedactTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_072_000)
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, _now, cost=2**4)
        self.service = new_service(
            self.clock,
            Settings(server_name="irc.test", history_lines=10),
            history=History(self.pool, self.clock),
            accounts=self.accounts,
        )
        # alice opens #den first: its operator.
        self.alice = IRCUser(self.service, "alice", caps=CAPS)
        self.alice.send("JOIN #den")
        self.bob = IRCUser(self.service, "bob", caps=CAPS)
        self.bob.send("JOIN #den")
        self.plain = IRCUser(self.service, "plain", caps="message-tags")
        self.plain.send("JOIN #den")
        self.liner = Client(self.service, "liner")
        self.liner.send("/join den")
        for user in (self.alice, self.bob, self.plain):
            user.lines()
        self.liner.lines()

    def said(self, user: IRCUser, text: str) -> str:
        """
        C{user} says C{text} in #den; its message id, from its echo.
        """
        user.send(f"PRIVMSG #den :{text}")
        echo = parse(user.lines()[-1])
        assert echo is not None
        return dict(echo.tags)["msgid"]

    def newcomer(self, nickname: str) -> IRCUser:
        """
        Somebody who comes into #den later.
        """
        user = IRCUser(self.service, nickname, caps=CAPS)
        user.send("JOIN #den")
        user.lines()
        return user

    def assert_forbidden(self, user: IRCUser, msgid: str) -> None:
        user.send(f"REDACT #den {msgid}")
        self.assertEqual(
            [m[1:4] for m in user.messages()], [("FAIL", "REDACT", "REDACT_FORBIDDEN")]
        )

    def test_own_message(self) -> None:
        """
        bob deletes his own message: the members with the capability see
        REDACT from him, the others nothing; it is gone from the history
        and from a search, on the line door too.
        """
        kept = self.said(self.bob, "a keeper")
        msgid = self.said(self.bob, "oops, my password")
        for user in (self.alice, self.plain):
            user.lines()
        self.liner.lines()
        self.bob.send(f"REDACT #den {msgid} :typo")
        redact = ("bob!bob@chat", "REDACT", "#den", msgid, "typo")
        self.assertEqual(self.bob.messages(), [redact])
        self.assertEqual(self.alice.messages(), [redact])
        self.assertEqual(self.plain.lines(), [])
        self.assertEqual(self.liner.lines(), [])
        self.liner.send("/history", "/search password")
        shown = "\n".join(self.liner.lines())
        self.assertIn("a keeper", shown)
        self.assertNotIn("oops", shown)
        # An IRC client replaying the channel gets the kept one, with its id.
        late = IRCUser(self.service, "late", caps="message-tags batch server-time")
        late.send("JOIN #den")
        replayed = [parse(line) for line in late.lines() if "PRIVMSG" in line]
        self.assertEqual(
            [(m.params[-1], dict(m.tags).get("msgid")) for m in replayed if m is not None],
            [("a keeper", kept)],
        )

    def test_operator_and_others(self) -> None:
        """
        alice, the channel's operator, deletes bob's message; bob may not
        delete alice's; an unknown id, or a channel bob is not in, is
        refused with FAIL, and nobody else hears of it.
        """
        bobs = self.said(self.bob, "spam spam")
        alices = self.said(self.alice, "hello")
        for user in (self.alice, self.bob, self.plain):
            user.lines()
        self.alice.send(f"REDACT #den {bobs}")
        self.assertEqual(self.bob.messages(), [("alice!alice@chat", "REDACT", "#den", bobs)])
        self.alice.lines()
        self.bob.send(
            f"REDACT #den {alices}",
            "REDACT #den nosuchid",
            "REDACT #elsewhere whatever",
            "REDACT alice whatever",
        )
        self.assertEqual(
            [m[1:5] for m in self.bob.messages()],
            [
                ("FAIL", "REDACT", "REDACT_FORBIDDEN", "#den"),
                ("FAIL", "REDACT", "UNKNOWN_MSGID", "#den"),
                ("FAIL", "REDACT", "INVALID_TARGET", "#elsewhere"),
                ("FAIL", "REDACT", "INVALID_TARGET", "alice"),
            ],
        )
        self.assertEqual(self.alice.lines(), [])

    def test_a_nickname_taken_later_is_not_its_owner(self) -> None:
        """
        A message said by a nickname without an account belongs to whoever
        had the nickname then: somebody who takes it afterwards may not
        delete it.
        """
        msgid = self.said(self.bob, "mine")
        self.bob.send("QUIT")
        self.clock.advance(60)
        self.assert_forbidden(self.newcomer("bob"), msgid)

    def test_an_account_owns_its_messages(self) -> None:
        """
        A message said while logged in to an account is the account's: its
        owner deletes it from a later connection.
        """
        self.successResultOf(self.accounts.register("carol", "secret1"))
        first = IRCUser(self.service)
        first.send(f"CAP REQ :{CAPS}", "PASS secret1", "NICK carol", "USER u 0 * :C", "CAP END")
        first.send("JOIN #den")
        first.lines()
        first.send("PRIVMSG #den :from my laptop")
        msgid = dict(parse(first.lines()[-1]).tags)["msgid"]  # type: ignore[union-attr]
        first.send("QUIT")
        self.clock.advance(60)
        second = IRCUser(self.service)
        second.send(f"CAP REQ :{CAPS}", "PASS secret1", "NICK carol", "USER u 0 * :C", "CAP END")
        second.send("JOIN #den")
        second.lines()
        second.send(f"REDACT #den {msgid}")
        self.assertEqual(second.messages(), [("carol!carol@chat", "REDACT", "#den", msgid)])

    def test_a_room_made_again(self) -> None:
        """
        Whoever makes a room again once it emptied is its operator, but may
        not delete what was said in it before.
        """
        self.clock.advance(1)
        msgid = self.said(self.bob, "before")
        for user in (self.alice, self.bob, self.plain):
            user.send("PART #den")
        self.liner.send("/join lobby")
        self.clock.advance(60)
        self.assert_forbidden(self.newcomer("mallory"), msgid)
