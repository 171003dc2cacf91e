"""
Tests for registered nicknames: hashing, the cred checker, and the commands as a user sees them.
"""

from __future__ import annotations

import calendar
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import Portal
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import Interface

from chat.core.errors import AlreadyRegistered
from chat.core.events import BanKind, Keeping
from chat.core.limits import HASHES_AT_ONCE, HUMAN
from chat.core.service import Settings
from chat.core.text import Problem, parse_duration, password_problem
from chat.line.wording import NICKNAME_RULES
from chat.store import database
from chat.store.accounts import (
    Accounts,
    ChatRealm,
    DatabaseChecker,
    IChatAccount,
    hash_password,
    verify_password,
)
from chat.store.bans import Bans
from chat.store.history import History, open_pool
from tests.helpers import Client, SyncPool, connections, new_service
from tests.live import TIMEOUT

CHEAP = 2**4  # scrypt cost for tests: the real one takes ~50 ms a hash
T0 = float(calendar.timegm((2026, 11, 19, 7, 6, 40, 0, 0, 0)))


def at_once(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
    """
    Run "in a thread" synchronously, for deterministic tests.
    """
    return maybeDeferred(function, *args)


class HashTests(SynchronousTestCase):
    def test_round_trip(self) -> None:
        """
        A password verifies against its own hash and no other password does.
        """
        stored = hash_password("correct horse", CHEAP)
        self.assertTrue(verify_password("correct horse", stored))
        self.assertFalse(verify_password("correct horse ", stored))
        self.assertFalse(verify_password("", stored))

    def test_salted(self) -> None:
        """
        The same password hashes differently each time, and never contains itself.
        """
        first, second = hash_password("secret1", CHEAP), hash_password("secret1", CHEAP)
        self.assertNotEqual(first, second)
        self.assertNotIn("secret1", first)
        self.assertTrue(first.startswith(f"scrypt${CHEAP}$8$1$"))

    def test_default_cost(self) -> None:
        """
        The default cost is scrypt's recommended 2**14.
        """
        self.assertTrue(hash_password("secret1").startswith("scrypt$16384$8$1$"))

    def test_garbage_never_verifies(self) -> None:
        """
        A damaged or foreign stored value never verifies, and never raises.
        """
        for stored in ["", "x", "md5$1$2$3$4$5", "scrypt$a$8$1$AA==$AA==", "scrypt$16$8$1$!!$??"]:
            self.assertFalse(verify_password("anything", stored))

    def test_password_rules(self) -> None:
        """
        Passwords have a minimum and a maximum length.
        """
        self.assertEqual(password_problem("12345"), Problem.TOO_SHORT)
        self.assertEqual(password_problem("x" * 201), Problem.TOO_LONG)
        self.assertIsNone(password_problem("123456"))


class CheckerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.pool = SyncPool(self.mktemp())
        database.create_account(self.pool.db.cursor(), "Alice", hash_password("secret1", CHEAP), T0)
        self.portal = Portal(ChatRealm(), [DatabaseChecker(self.pool, at_once)])

    def login(self, nickname: str, password: str) -> Deferred[Any]:
        credentials = UsernamePassword(nickname.encode(), password.encode())
        return self.portal.login(credentials, None, IChatAccount)

    def test_right_password(self) -> None:
        """
        The right password yields the account, with the nickname as registered.
        """
        interface, avatar, logout = self.successResultOf(self.login("ALICE", "secret1"))
        self.assertIs(interface, IChatAccount)
        self.assertEqual(avatar.nickname, "Alice")
        self.assertIsNone(logout())

    def test_wrong_password_or_nickname(self) -> None:
        """
        A wrong password and an unknown nickname fail alike.
        """
        self.failureResultOf(self.login("alice", "secret2"), UnauthorizedLogin)
        self.failureResultOf(self.login("bob", "secret1"), UnauthorizedLogin)

    def test_realm_only_knows_accounts(self) -> None:
        """
        The realm refuses to provide anything but an IChatAccount.
        """
        self.assertRaises(NotImplementedError, ChatRealm().requestAvatar, b"x", None, Interface)
        self.assertRaises(NotImplementedError, ChatRealm().requestAvatar, (), None, IChatAccount)


class AccountsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, at_once, cost=CHEAP)

    def test_register_once(self) -> None:
        """
        A nickname registers once; again, in any case, is refused.
        """
        self.successResultOf(self.accounts.register("alice", "secret1"))
        self.assertTrue(self.successResultOf(self.accounts.is_registered("ALICE")))
        self.failureResultOf(self.accounts.register("Alice", "secret2"), AlreadyRegistered)
        self.assertEqual(
            self.successResultOf(self.accounts.authenticate("alice", "secret1")), "alice"
        )

    def test_change_password(self) -> None:
        """
        Changing the password needs the old one; afterwards only the new one works.
        """
        self.successResultOf(self.accounts.register("alice", "secret1"))
        self.failureResultOf(
            self.accounts.change_password("alice", "wrong1", "secret2"), UnauthorizedLogin
        )
        self.successResultOf(self.accounts.change_password("alice", "secret1", "secret2"))
        self.failureResultOf(self.accounts.authenticate("alice", "secret1"), UnauthorizedLogin)
        self.successResultOf(self.accounts.authenticate("alice", "secret2"))

    def test_unregister(self) -> None:
        """
        Unregistering needs the password, and forgets the account and its kept messages.
        """
        self.successResultOf(self.accounts.register("alice", "secret1"))
        self.successResultOf(self.accounts.keep("bob", "alice", "hi"))
        self.failureResultOf(self.accounts.unregister("alice", "wrong1"), UnauthorizedLogin)
        self.successResultOf(self.accounts.unregister("alice", "secret1"))
        self.assertFalse(self.successResultOf(self.accounts.is_registered("alice")))
        self.assertEqual(self.successResultOf(self.accounts.collect("alice", 10)).entries, [])

    def test_keep_and_collect(self) -> None:
        """
        Messages are kept for registered users only, read oldest first a page
        at a time, and forgotten only when told (those read, no others).
        """
        self.successResultOf(self.accounts.register("Alice", "secret1"))
        keep = self.accounts.keep
        self.assertEqual(self.successResultOf(keep("bob", "alice", "one")), Keeping.KEPT)
        self.clock.advance(60)
        self.assertEqual(self.successResultOf(keep("carol", "ALICE", "two")), Keeping.KEPT)
        self.assertEqual(
            self.successResultOf(keep("bob", "nobody", "lost")), Keeping.NOT_REGISTERED
        )
        page = self.successResultOf(self.accounts.collect("alice", 1))
        self.assertEqual(
            [(e.time, e.sender, e.recipient, e.text) for e in page.entries],
            [(T0, "bob", "Alice", "one")],
        )
        self.assertTrue(page.more)
        self.successResultOf(keep("dave", "alice", "three"))
        self.successResultOf(self.accounts.forget(page.ids))
        rest = self.successResultOf(self.accounts.collect("alice", 10))
        self.assertEqual([e.text for e in rest.entries], ["two", "three"])
        self.assertFalse(rest.more)

    def test_keeping_is_bounded(self) -> None:
        """
        At most 100 messages wait for one recipient, and from one sender
        (for all its recipients); past that, the message is not kept, and why.
        """
        for name in ("alice", "bob", "carol"):
            self.successResultOf(self.accounts.register(name, "secret1"))
        keep = self.accounts.keep
        for n in range(100):
            self.assertEqual(self.successResultOf(keep(f"s{n}", "alice", "hi")), Keeping.KEPT)
        self.assertEqual(self.successResultOf(keep("x", "alice", "hi")), Keeping.RECIPIENT_FULL)
        for n in range(100):
            recipient = "bob" if n % 2 else "carol"
            self.assertEqual(self.successResultOf(keep("spammer", recipient, "hi")), Keeping.KEPT)
        self.assertEqual(self.successResultOf(keep("spammer", "bob", "hi")), Keeping.SENDER_FULL)


class MigrationTests(SynchronousTestCase):
    def test_from_version_2(self) -> None:
        """
        A version 2 database (history, no accounts) gains the account tables and keeps its messages.
        """
        path = self.mktemp()
        old = database.connect(path, target=2)
        database.write(old.cursor(), [(T0, database.PUBLIC, "lobby", "alice", None, "kept")])
        old.commit()
        old.close()
        db = database.connect(path)
        self.assertEqual(database.version(db), database.LATEST)
        self.assertEqual([e.text for e in database.recent(db.cursor(), "lobby", 5)], ["kept"])
        self.assertTrue(database.create_account(db.cursor(), "alice", "h", T0))
        self.assertFalse(database.create_account(db.cursor(), "ALICE", "h", T0))


PROMPT = "*** alice is registered. Send its password (or /login PASSWORD):"

ONE_AT_A_TIME = replace(HUMAN, connections=None)
"""
The default limits but the rate of new connections, so that one limit at a
time is seen (these tests open many connections from one address at once).
"""


class CommandTests(TestCase):
    """
    Accounts as a user of the line protocol sees them.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, at_once, cost=CHEAP)
        self.service = new_service(
            self.clock, history=History(self.pool, self.clock), accounts=self.accounts
        )
        self.successResultOf(self.accounts.register("alice", "secret1"))

    def arrive(self, *lines: str) -> Client:
        client = Client(self.service)
        client.lines()
        client.send(*lines)
        return client

    def test_register(self) -> None:
        """
        /register protects the current nickname; later logins ask for the password.
        """
        bob = Client(self.service, "bob")
        bob.send("/register hunter22")
        self.assertEqual(
            bob.lines(),
            ["*** bob is now registered: logging in as bob will ask for this password."],
        )
        bob.send("/register again22")
        self.assertEqual(bob.lines(), ["!!! bob is registered already."])
        bob.send("/quit")
        bob.hang_up()
        again = self.arrive("BOB")
        self.assertEqual(
            again.lines(), ["*** BOB is registered. Send its password (or /login PASSWORD):"]
        )
        again.send("hunter22")
        self.assertEqual(again.lines()[0], "*** You are bob. 1 user online: bob")

    def test_database_failure_while_logging_in(self) -> None:
        """
        If the database cannot say whether a nickname is registered, the user
        is told, the failure is logged, and the connection goes on: the lines
        sent meanwhile are handled and a second try works.
        """
        self.pool.fail_next = True
        bob = self.arrive("bob", "/help")
        lines = bob.lines()
        self.assertEqual(lines[0], "!!! Internal server error; that line was not processed.")
        self.assertIn("*** Commands:", lines)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        bob.send("bob")
        self.assertEqual(bob.lines()[0], "*** You are bob. 1 user online: bob")

    def test_register_rules(self) -> None:
        """
        A short password, or none, is refused.
        """
        bob = Client(self.service, "bob")
        bob.send("/register abc", "/register", "/register    ")
        self.assertEqual(
            bob.lines(),
            [
                "!!! Choose another password: it is shorter than 6 characters.",
                "!!! Usage: /register PASSWORD",
                "!!! Usage: /register PASSWORD",
            ],
        )

    def test_login_with_password(self) -> None:
        """
        A registered nickname asks for its password; the right one logs in.
        """
        alice = self.arrive("alice")
        self.assertEqual(alice.lines(), [PROMPT])
        self.assertIsNone(alice.connection.session.user)
        alice.send("secret1")
        self.assertEqual(alice.lines()[0], "*** You are alice. 1 user online: alice")

    def test_login_command(self) -> None:
        """
        /login PASSWORD works as the password line too.
        """
        alice = self.arrive("alice", "/login secret1")
        self.assertIn("*** You are alice. 1 user online: alice", alice.lines())

    def test_three_wrong_tries(self) -> None:
        """
        Three wrong passwords close the connection; each wrong one says how many are left.
        """
        alice = self.arrive("alice", "guess1", "guess2")
        self.assertEqual(
            alice.lines(),
            [
                PROMPT,
                "!!! Wrong password; 2 tries left.",
                PROMPT,
                "!!! Wrong password; 1 try left.",
                PROMPT,
            ],
        )
        self.assertFalse(alice.closed)
        alice.send("guess3")
        self.assertEqual(alice.lines(), ["!!! Wrong password. Goodbye."])
        self.assertTrue(alice.closed)
        self.assertEqual(self.service.chat.online(), [])

    def test_three_wrong_passwords_per_connection(self) -> None:
        """
        A connection has three wrong passwords, whatever gives them:
        choosing the nickname again starts no new count, and /password's
        and /unregister's wrong ones count too, the third closing it.
        """
        guesser = self.arrive("alice", "guess1", "guess2", "/nick alice", "guess3")
        self.assertEqual(
            guesser.lines(),
            [
                PROMPT,
                "!!! Wrong password; 2 tries left.",
                PROMPT,
                "!!! Wrong password; 1 try left.",
                PROMPT,
                PROMPT,
                "!!! Wrong password. Goodbye.",
            ],
        )
        self.assertTrue(guesser.closed)
        owner = self.arrive("alice", "secret1")
        owner.lines()
        owner.send("/password wrong11 newsecret", "/unregister wrong22")
        self.assertEqual(
            owner.lines(), ["!!! Wrong password, or your nickname is not registered."] * 2
        )
        owner.send("/password wrong33 newsecret")
        self.assertEqual(owner.lines(), ["!!! Wrong password. Goodbye."])
        self.assertTrue(owner.closed)
        self.assertEqual(
            self.successResultOf(self.accounts.authenticate("alice", "secret1")), "alice"
        )

    def test_lines_wait_for_the_password_check(self) -> None:
        """
        Lines sent right behind the password (as a script would) are handled
        after the check, in order; none is taken for a password or lost.
        """
        bob = Client(self.service, "bob")
        self.pool.hold = True
        alice = Client(self.service)
        alice.lines()
        alice.protocol.dataReceived(b"alice\nsecret1\nhello\n/me waves\n")
        self.assertEqual(alice.lines(), [])
        while self.pool.waiting:
            self.pool.release()
        self.assertEqual(alice.lines()[0], PROMPT)
        self.assertEqual(bob.lines()[-2:], ["<alice> hello", "* alice waves"])

    def test_half_close_behind_the_nickname_check(self) -> None:
        """
        A script that half-closes while its nickname is checked has every line
        after it handled and answered before the goodbye, also those after a
        /join (which the chat decides at once).
        """
        service = new_service(self.clock, accounts=self.accounts)
        zed = Client(service, "zed")
        self.pool.hold = True
        script = Client(service)
        script.lines()
        script.paste("bob", "/join ops2", "hello ops2", "/msg zed hi")
        script.protocol.readConnectionLost()
        while self.pool.waiting:
            self.pool.release()
        self.assertEqual(zed.lines()[-2:], ["*** bob has gone to ops2", "*bob* hi"])
        self.assertEqual(script.lines()[-2:], ["-> *zed* hi", "*** Goodbye."])

    def test_gone_before_the_answer(self) -> None:
        """
        A client that hangs up while its nickname or password is being checked
        is never logged in: no ghost holds the nickname afterwards.
        """
        self.pool.hold = True
        bob = Client(self.service)
        bob.send("bob")
        alice = Client(self.service)
        alice.send("alice")
        self.pool.release()
        alice.send("secret1")
        bob.hang_up()
        alice.hang_up()
        while self.pool.waiting:
            self.pool.release()
        self.assertEqual(self.service.chat.online(), [])
        self.assertEqual(connections(self.service), set())

    def test_other_nickname_instead(self) -> None:
        """
        At the password prompt, /nick picks another nickname instead.
        """
        alice = self.arrive("alice", "/nick bob")
        self.assertEqual(alice.lines()[-1], "*** You are in lobby. 1 user here: bob")

    def test_password_never_echoed_or_logged(self) -> None:
        """
        No line sent to anyone, and no log event, contains a password.
        """
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        bob = Client(self.service, "bob")
        alice = self.arrive("alice", "wrongpass", "secret1")
        alice.send("/password secret1 newsecret", "/register whatever", "/unregister newsecret")
        everything = repr(list(observer)) + alice.raw().decode() + bob.raw().decode()
        for password in ["wrongpass", "secret1", "newsecret", "whatever"]:
            self.assertNotIn(password, everything)
        self.assertIn("Wrong password for {nickname} from {peer}", everything)

    def test_rename_to_registered_refused(self) -> None:
        """
        Nobody can /nick to a registered nickname without logging in as it.
        """
        bob = Client(self.service, "bob")
        bob.send("/nick ALICE")
        self.assertEqual(bob.lines(), ["!!! ALICE is registered; log in as ALICE to use it."])
        bob.send("/nick carol")
        self.assertEqual(bob.lines(), ["*** bob is now known as carol"])

    def test_owner_renames_back(self) -> None:
        """
        Its owner may rename away from a registered nickname and back.
        """
        alice = self.arrive("alice", "secret1", "/nick ali", "/nick Alice")
        self.assertEqual(
            alice.lines()[-2:], ["*** alice is now known as ali", "*** ali is now known as Alice"]
        )

    def test_offline_messages(self) -> None:
        """
        A private message to a registered user who is away is kept, the sender
        is told so, and it is delivered with its time at the next login.
        """
        bob = Client(self.service, "bob")
        bob.send("/msg Alice are you there?")
        self.assertEqual(
            bob.lines(),
            [
                "*** Alice is offline; this will be delivered when they log in:",
                "-> *Alice* are you there?",
            ],
        )
        self.clock.advance(3600)
        alice = self.arrive("alice", "secret1")
        self.assertEqual(
            alice.lines()[-3:],
            [
                "*** Messages that came while you were offline:",
                "[2026-11-19 07:06] *bob* are you there?",
                "*** End of messages.",
            ],
        )
        alice.send("/quit")
        alice.hang_up()
        again = self.arrive("alice", "secret1")
        self.assertNotIn("*** Messages that came while you were offline:", again.lines())

    def test_full_disk_is_said(self) -> None:
        """
        A registration or password change the database cannot write (a full
        disk) is not said to be done: the user is told plainly that nothing
        changed, and can go on chatting.
        """
        import sqlite3

        def full(*_: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        self.patch(database, "create_account", full)
        self.patch(database, "set_account_hash", full)
        bob = Client(self.service, "bob")
        bob.send("/register secret1")
        self.assertEqual(
            bob.lines(), ["!!! The server cannot save that right now; nothing was changed."]
        )
        self.assertFalse(self.successResultOf(self.accounts.is_registered("bob")))
        alice = self.arrive("alice", "secret1")
        alice.lines()
        alice.send("/password secret1 secret2", "/who")
        self.assertEqual(
            alice.lines(),
            [
                "!!! The server cannot save that right now; nothing was changed.",
                "*** 2 users in lobby: alice, bob",
            ],
        )
        self.successResultOf(self.accounts.authenticate("alice", "secret1"))

    def test_kept_messages_bounded_and_paged(self) -> None:
        """
        A flood of private messages for an absent user: at most 100 wait,
        the senders are told when theirs is not kept; at login they come 50
        at a time, a second apart, and only what was shown is forgotten: a
        connection gone between pages finds the rest at the next login.
        """
        bob = Client(self.service, "bob")
        bob.lines()
        for n in range(101):
            bob.send(f"/msg alice note {n}")
        self.assertEqual(
            bob.lines()[-1], "!!! alice has 100 messages waiting already; yours was not kept."
        )
        alice = self.arrive("alice", "secret1")
        lines = alice.lines()
        notes = [line for line in lines if "*bob* note" in line]
        self.assertEqual(len(notes), 50)
        self.assertTrue(notes[0].endswith("*bob* note 0"))
        alice.hang_up()
        self.clock.advance(5)
        again = self.arrive("alice", "secret1")
        self.clock.advance(1)
        notes = [line for line in again.lines() if "*bob* note" in line]
        self.assertEqual(
            [note.rsplit(" ", 1)[1] for note in notes], [str(n) for n in range(50, 100)]
        )
        self.clock.advance(5)
        self.assertEqual(self.successResultOf(self.accounts.collect("alice", 10)).entries, [])

    def test_message_to_unknown_user(self) -> None:
        """
        A private message to someone neither online nor registered is an error.
        """
        bob = Client(self.service, "bob")
        bob.send("/msg nobody hi")
        self.assertEqual(bob.lines(), ["!!! No such user: nobody"])

    def test_password_and_unregister(self) -> None:
        """
        /password needs the old password; /unregister the current one; each says what happened.
        """
        alice = self.arrive("alice", "secret1")
        alice.lines()
        alice.send("/password wrong11 newsecret", "/password secret1 newsecret", "/password x")
        self.assertEqual(
            alice.lines(),
            [
                "!!! Wrong password, or your nickname is not registered.",
                "*** Your password is changed.",
                "!!! Usage: /password OLD NEW",
            ],
        )
        alice.send("/password newsecret abc", "/unregister secret1", "/unregister newsecret")
        self.assertEqual(
            alice.lines(),
            [
                "!!! Choose another password: it is shorter than 6 characters.",
                "!!! Wrong password, or your nickname is not registered.",
                "*** alice is no longer registered.",
            ],
        )
        alice.send("/unregister")
        self.assertEqual(alice.lines(), ["!!! Usage: /unregister PASSWORD"])
        self.assertFalse(self.successResultOf(self.accounts.is_registered("alice")))

    def slow_accounts(self) -> tuple[Accounts, list[Deferred[Any]]]:
        """
        Accounts whose every hash waits (in the returned list) until fired:
        checks in flight, as in the thread pool under load.
        """
        hashing: list[Deferred[Any]] = []

        def slow(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
            check: Deferred[Any] = Deferred()
            hashing.append(check)
            check.addCallback(lambda _: function(*args))
            return check

        return Accounts(self.pool, self.clock, slow, cost=CHEAP), hashing

    def at(self, host: str) -> Client:
        return Client(
            self.service, transport=StringTransport(peerAddress=IPv4Address("TCP", host, 1))
        )

    def test_wrong_passwords_per_nickname(self) -> None:
        """
        Reconnecting, or coming from other addresses, does not buy more
        guesses at one nickname: after ten wrong passwords for alice, nobody
        may try hers for a while (then one a minute); others on the same
        address log in to their own nicknames as before.
        """
        self.service = new_service(
            self.clock, Settings(limits=ONE_AT_A_TIME), accounts=self.accounts
        )
        self.successResultOf(self.accounts.register("bob", "bobpass1"))
        for index in range(3):
            guesser = self.at(f"10.0.0.{index + 1}")
            guesser.send("alice", "wrong1", "wrong2", "wrong3")
            guesser.hang_up()
        guesser = self.at("10.0.0.9")
        guesser.send("alice", "wrong4")
        guesser.hang_up()
        locked = "!!! Too many wrong passwords for alice; try again later. Goodbye."
        for host in ("10.0.0.1", "10.9.9.9"):
            owner = self.at(host)
            owner.lines()
            owner.send("alice", "secret1")
            self.assertEqual(owner.lines(), [PROMPT, locked])
            self.assertTrue(owner.closed)
            owner.hang_up()
        neighbour = self.at("10.0.0.1")
        neighbour.send("bob", "bobpass1")
        self.assertIn("*** You are bob. 1 user online: bob", neighbour.lines())
        self.clock.advance(60)
        again = self.at("10.0.0.1")
        again.send("alice", "secret1")
        self.assertIn("*** You are alice. 2 users online: alice, bob", again.lines())

    def test_wrong_passwords_per_address(self) -> None:
        """
        One address may get 30 passwords wrong, for any nicknames, then one
        every 20 seconds; right passwords cost nothing; another address may
        go on.
        """
        self.service = new_service(
            self.clock, Settings(limits=ONE_AT_A_TIME), accounts=self.accounts
        )
        for index in range(10):
            self.successResultOf(self.accounts.register(f"user{index}", "secret1"))
        for index in range(10):
            guesser = self.at("10.0.0.1")
            guesser.send(f"user{index}", "secret1", "/quit")
            guesser.hang_up()
            guesser = self.at("10.0.0.1")
            guesser.send(f"user{index}", "wrong1", "wrong2", "wrong3")
            guesser.hang_up()
        guesser = self.at("10.0.0.1")
        guesser.lines()
        guesser.send("alice", "secret1")
        self.assertEqual(
            guesser.lines(),
            [PROMPT, "!!! Too many wrong passwords from 10.0.0.1; try again later. Goodbye."],
        )
        elsewhere = self.at("10.9.9.9")
        elsewhere.send("alice", "secret1")
        self.assertIn("*** You are alice. 1 user online: alice", elsewhere.lines())

    def test_password_changes_share_the_allowances(self) -> None:
        """
        Wrong passwords given to /password and /unregister count against
        the nickname's allowance as a login's do: after ten of them, from
        however many connections, nobody may try alice's for a while.
        """
        self.service = new_service(
            self.clock, Settings(limits=ONE_AT_A_TIME), accounts=self.accounts
        )
        for index in range(5):
            session = self.at(f"10.0.0.{index + 1}")
            session.send("alice", "secret1", f"/password wrong{index}1 newsecret")
            session.send(f"/unregister wrong{index}2")
            self.assertEqual(
                session.lines()[-2:],
                ["!!! Wrong password, or your nickname is not registered."] * 2,
            )
            session.hang_up()
        owner = self.at("10.9.9.9")
        owner.lines()
        owner.send("alice", "secret1")
        self.assertEqual(
            owner.lines(),
            [PROMPT, "!!! Too many wrong passwords for alice; try again later. Goodbye."],
        )

    def counting_accounts(self) -> tuple[Accounts, list[object]]:
        """
        Accounts that list every password hash they make.
        """
        hashes: list[object] = []

        def counted(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
            hashes.append(function)
            return at_once(function, *args)

        return Accounts(self.pool, self.clock, counted, cost=CHEAP), hashes

    def test_hashes_per_address(self) -> None:
        """
        Every password an address has hashed counts, right or wrong: after
        60 (then one every 10 s) its next is not hashed, the user is told
        how long to wait and asked for the password again; another address
        logs in at once.
        """
        accounts, hashes = self.counting_accounts()
        self.successResultOf(accounts.register("carol", "secret3"))
        del hashes[:]
        self.service = new_service(self.clock, Settings(limits=ONE_AT_A_TIME), accounts=accounts)
        for _ in range(60):
            owner = self.at("10.0.0.1")
            owner.send("alice", "secret1")
            self.assertIn("*** You are alice. 1 user online: alice", owner.lines())
            owner.hang_up()
        self.assertEqual(len(hashes), 60)
        late = self.at("10.0.0.1")
        late.lines()
        late.send("alice", "secret1")
        self.assertEqual(
            late.lines(),
            [
                PROMPT,
                "!!! Too many password checks from your address; try again in 10 seconds.",
                PROMPT,
            ],
        )
        self.assertEqual(len(hashes), 60)
        elsewhere = self.at("10.9.9.9")
        elsewhere.send("carol", "secret3")
        self.assertIn("*** You are carol. 1 user online: carol", elsewhere.lines())
        self.clock.advance(10)
        late.send("secret1")
        self.assertIn("*** You are alice. 2 users online: alice, carol", late.lines())
        self.assertEqual(len(hashes), 62)

    def test_hashes_per_connection(self) -> None:
        """
        One connection may have ten passwords hashed at once, right or
        wrong (a password change is two), then one a minute: the next
        /password is refused unhashed, saying how long to wait (two minutes,
        as the last change took two hashes when one was left).
        """
        accounts, hashes = self.counting_accounts()
        self.service = new_service(self.clock, Settings(limits=ONE_AT_A_TIME), accounts=accounts)
        alice = self.at("10.0.0.1")
        alice.send("alice", "secret1")
        alice.lines()
        for _ in range(2):
            alice.send("/password secret1 secret2", "/password secret2 secret1")
        self.assertEqual(alice.lines(), ["*** Your password is changed."] * 4)
        self.assertEqual(len(hashes), 9)
        alice.send("/password secret1 secret2", "/password secret2 secret1")
        self.assertEqual(
            alice.lines(),
            [
                "*** Your password is changed.",
                "!!! Too many password checks on this connection; try again in 120 seconds.",
            ],
        )
        self.assertEqual(len(hashes), 11)
        self.clock.advance(60)
        alice.send("/password secret2 secret1")
        self.assertEqual(
            alice.lines(),
            ["!!! Too many password checks on this connection; try again in 60 seconds."],
        )
        self.clock.advance(60)
        alice.send("/password secret2 secret1")
        self.assertEqual(alice.lines(), ["*** Your password is changed."])

    def test_guesses_in_parallel(self) -> None:
        """
        A hundred connections sending a nickname and a guess at once (the
        checks all in flight together) get ten checks, not a hundred: the
        allowance is taken before the password is hashed.
        """
        accounts, hashing = self.slow_accounts()
        self.service = new_service(self.clock, Settings(limits=ONE_AT_A_TIME), accounts=accounts)
        guessers = []
        for index in range(100):
            guesser = self.at(f"10.0.{index // 50}.{index % 50 + 1}")
            guesser.paste("alice", f"guess{index}")
            guessers.append(guesser)
        # Four are hashed at once (HASHES_AT_ONCE), the other six wait their turn.
        self.assertEqual(len(hashing), HASHES_AT_ONCE)
        self.assertEqual(sum(guesser.closed for guesser in guessers), 90)
        for check in hashing:
            # Each one done lets the next one waiting start (the list grows).
            check.callback(None)
        self.assertEqual(
            sum("!!! Wrong password; 2 tries left." in g.lines() for g in guessers[:10]), 10
        )
        self.assertEqual(len(hashing), 10)

    def test_registrations_per_address(self) -> None:
        """
        One address may register 30 nicknames, then one every 20 s (Ergo's
        30 in 10 minutes); trying a nickname registered already costs
        nothing (and no hash); other addresses are not held back.
        """
        self.service = new_service(
            self.clock, Settings(limits=ONE_AT_A_TIME), accounts=self.accounts
        )
        for index in range(30):
            user = self.at("10.0.0.1")
            user.send(f"user{index}", "/register secret1")
            self.assertIn(f"*** user{index} is now registered", user.lines()[-1])
            user.hang_up()
        squatter = self.at("10.0.0.1")
        squatter.send("spammer", "/register secret1")
        self.assertEqual(
            squatter.lines()[-1], "!!! Too many registrations from your address; try again later."
        )
        self.assertFalse(self.successResultOf(self.accounts.is_registered("spammer")))
        self.clock.advance(40)
        squatter.send("/register secret1", "/register secret1", "/register secret1")
        self.assertEqual(
            squatter.lines(),
            [
                "*** spammer is now registered: logging in as spammer will ask for this password.",
                "!!! spammer is registered already.",
                "!!! spammer is registered already.",
            ],
        )
        # The two refused cost nothing: the second token of the 40 s is still there.
        another = self.at("10.0.0.1")
        another.send("another", "/register secret1")
        self.assertIn("*** another is now registered", another.lines()[-1])
        elsewhere = self.at("10.9.9.9")
        elsewhere.send("honest", "/register secret1")
        self.assertIn("*** honest is now registered", elsewhere.lines()[-1])

    def test_hashing_bounded_per_address(self) -> None:
        """
        However many connections one address opens, at most two of its
        password hashes are under way at once; the rest wait their turn, and
        another address's login is hashed at once.
        """
        accounts, hashing = self.slow_accounts()
        self.service = new_service(self.clock, Settings(limits=ONE_AT_A_TIME), accounts=accounts)
        busy = []
        for index in range(6):
            user = self.at("10.0.0.1")
            user.send(f"user{index}", "/register secret1")
            busy.append(user)
        self.assertEqual(len(hashing), 2)
        honest = self.at("10.9.9.9")
        honest.send("alice", "secret1")
        self.assertEqual(len(hashing), 3)
        hashing[2].callback(None)
        self.assertIn("*** You are alice.", " ".join(honest.lines()))
        while len([d for d in hashing if not d.called]):
            next(d for d in hashing if not d.called).callback(None)
        self.assertEqual(len(hashing), 7)
        for index, user in enumerate(busy):
            self.assertIn(f"*** user{index} is now registered", user.lines()[-1])

    def test_hashing_shared_fairly(self) -> None:
        """
        However many addresses keep hashing, four hashes are under way at
        once in all, addresses taking turns: a login from an address that
        seldom hashes is the next one started, ahead of every address that
        was hashing already.
        """
        accounts, hashing = self.slow_accounts()
        self.service = new_service(self.clock, Settings(limits=ONE_AT_A_TIME), accounts=accounts)
        busy = []
        for address in range(8):
            for index in range(3):
                user = self.at(f"10.0.{address}.1")
                user.send(f"user{address}x{index}", "/register secret1")
                busy.append(user)
        self.assertEqual(len(hashing), 4)
        # Each hash done starts the next: every busy address has had a turn.
        for index in range(8):
            hashing[index].callback(None)
        self.assertEqual(len(hashing), 12)
        honest = self.at("10.9.9.9")
        honest.send("alice", "secret1")
        self.assertEqual(len(hashing), 12)
        hashing[8].callback(None)
        self.assertEqual(len(hashing), 13)
        hashing[12].callback(None)
        self.assertIn("*** You are alice.", " ".join(honest.lines()))
        for check in hashing:
            if not check.called:
                check.callback(None)
        self.assertEqual(len(hashing), 25)
        for index, user in enumerate(busy):
            self.assertIn(
                f"*** user{index // 3}x{index % 3} is now registered", " ".join(user.lines())
            )

    def test_login_when_logged_in(self) -> None:
        """
        /login after login is an error.
        """
        bob = Client(self.service, "bob")
        bob.send("/login x")
        self.assertEqual(bob.lines(), ["!!! You are logged in already."])

    def test_regain_from_a_ghost(self) -> None:
        """
        A registered nickname held by another connection (a ghost: TCP can
        take hours to notice a dead peer) is taken back with its password:
        the old connection is told why and closed, its room told; a wrong
        password leaves it where it is.
        """
        ghost = self.arrive("alice", "secret1")
        watcher = Client(self.service, "watcher")
        ghost.lines()
        owner = self.arrive("alice")
        self.assertEqual(
            owner.lines(), ["*** alice is registered. Send its password (or /login PASSWORD):"]
        )
        owner.send("wrong1")
        self.assertFalse(ghost.closed)
        owner.send("secret1")
        self.assertEqual(ghost.lines(), ["!!! You were logged in again elsewhere. Goodbye."])
        self.assertTrue(ghost.closed)
        self.assertIn("*** You are alice. 2 users online: alice, watcher", owner.lines())
        self.assertEqual(
            watcher.lines(),
            ["*** alice has left (logged in again elsewhere)", "*** alice has joined"],
        )
        ghost.hang_up()
        self.assertEqual(watcher.lines(), [])

    def test_pipelined_password_is_never_a_nickname(self) -> None:
        """
        A script sends nickname, password and a message in one go while its
        old connection still holds the nickname: the password is taken as the
        password (it takes the nickname back), never as a nickname.
        """
        self.arrive("alice", "secret1")
        watcher = Client(self.service, "watcher")
        script = Client(self.service)
        script.lines()
        script.paste("alice", "secret1", "hello")
        self.assertIn("*** You are alice. 2 users online: alice, watcher", script.lines())
        self.assertEqual(
            watcher.lines(),
            [
                "*** alice has left (logged in again elsewhere)",
                "*** alice has joined",
                "<alice> hello",
            ],
        )

    def test_lines_after_a_refused_nickname_are_dropped(self) -> None:
        """
        Lines sent before the user could see its nickname refused (here, in
        the same packet) are neither the next nickname nor said to a room:
        they are dropped, and the user is told how many.
        """
        bob = Client(self.service, "bob")
        script = Client(self.service)
        script.lines()
        script.paste("bob", "sunshine1", "my secret plan")
        prompt = f"*** Choose a nickname ({NICKNAME_RULES}):"
        self.assertEqual(
            script.lines(),
            [
                "!!! The nickname bob is taken.",
                prompt,
                "!!! Ignored 2 lines sent before you could see that refusal.",
                prompt,
            ],
        )
        self.assertEqual(bob.lines(), [])
        # What the user types once it has seen the prompt is its answer.
        script.send("carol")
        self.assertIn("*** You are carol. 2 users online: bob, carol", script.lines())
        self.assertEqual(bob.lines(), ["*** carol has joined"])
        # With a registered nickname held by nobody, the same.
        other = Client(self.service)
        other.lines()
        other.paste("-bad-", "alice", "hi")
        self.assertEqual(
            other.lines()[2], "!!! Ignored 2 lines sent before you could see that refusal."
        )
        self.assertEqual(bob.lines(), [])

    def test_no_accounts(self) -> None:
        """
        On a server without accounts, the account commands say so.
        """
        service = new_service(self.clock)
        bob = Client(service, "bob")
        bob.send("/register secret1", "/password a b", "/unregister a", "/msg nobody hi")
        self.assertEqual(
            bob.lines(),
            ["!!! This server has no accounts."] * 3 + ["!!! No such user: nobody"],
        )


class OperatorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, at_once, cost=CHEAP)
        self.pool.make_operator("root", "secret1")
        self.service = new_service(
            self.clock, Settings(admins=["ROOT", "nobody"]), accounts=self.accounts
        )
        self.op = Client(self.service)
        self.op.send("root", "secret1")
        self.bob = Client(self.service, "bob")
        self.carol = Client(self.service, "carol")
        self.carol.send("/join games")
        for client in (self.op, self.bob, self.carol):
            client.lines()

    def test_kick(self) -> None:
        """
        An operator kicks a user: it is told why and closed; its room is told why it went.
        """
        self.op.send("/kick bob spamming")
        # The room is told at once, not once the kicked client's socket is closed.
        self.assertEqual(
            self.op.lines(), ["*** bob is kicked.", "*** bob has left (kicked by root: spamming)"]
        )
        self.assertEqual(self.bob.lines(), ["!!! You were kicked by root: spamming. Goodbye."])
        self.assertTrue(self.bob.closed)
        self.bob.hang_up()
        self.assertEqual(self.op.lines(), [])
        self.op.send("/kick carol")
        self.assertEqual(self.carol.lines(), ["!!! You were kicked by root. Goodbye."])

    def test_told_at_login(self) -> None:
        """
        An operator logging in with its password is told it is one; a user
        logging in with an ordinary registered nickname's password is not.
        """
        self.successResultOf(self.accounts.register("dave", "secret2"))
        for nickname, password, operator in [("root", "secret1", True), ("dave", "secret2", False)]:
            client = Client(self.service)
            client.send(nickname, password)
            told = "*** You are an operator of this server; /help lists your commands."
            self.assertEqual(told in client.lines(), operator, nickname)
            client.hang_up()

    def test_help_columns_align(self) -> None:
        """
        /help's descriptions start in one column, for a user and for an
        operator of a server with everything (its longest usage on a line
        of its own, the description under the others).
        """
        bans = Bans(self.pool, self.clock)
        bans.startService()
        everything = new_service(
            self.clock,
            Settings(admins=["root"]),
            history=History(self.pool, self.clock),
            accounts=self.accounts,
            bans=bans,
        )
        operator = Client(everything)
        operator.send("root", "secret1")
        for client in (operator, Client(everything, "bob")):
            client.lines()
            client.send("/help")
            rows = [line.removeprefix("***   ") for line in client.lines()[1:-1]]
            columns = set()
            for row in rows:
                usage, gap, rest = row.partition("  ")
                if gap:
                    columns.add(len(row) - len(rest.lstrip()))
                else:
                    self.assertTrue(usage.startswith("/ban "), row)
            self.assertEqual(len(columns), 1, rows)

    def test_wall(self) -> None:
        """
        An announcement reaches everyone online, in every room, the operator included.
        """
        self.op.send("/wall restart at noon\x07")
        for client in (self.op, self.bob, self.carol):
            self.assertEqual(client.lines(), ["*** Announcement from root: restart at noon"])

    def test_not_an_operator(self) -> None:
        """
        Anyone else is refused, and nobody hears of it.
        """
        self.bob.send("/kick carol", "/wall hi")
        self.assertEqual(
            self.bob.lines(),
            ["!!! Only operators can use /kick.", "!!! Only operators can use /wall."],
        )
        self.assertEqual(self.carol.lines(), [])

    def test_admin_names_are_kept(self) -> None:
        """
        An admin's nickname nobody registered cannot be used (so it cannot be
        registered first by a stranger), nor taken with /nick; the refused
        rename does not use up the allowance of renames.
        """
        squatter = Client(self.service)
        squatter.lines()
        squatter.send("nobody")
        self.assertEqual(
            squatter.lines(),
            [
                "!!! The nickname nobody is kept for an operator of this server.",
                f"*** Choose a nickname ({NICKNAME_RULES}):",
            ],
        )
        renamer = Client(self.service, "dave")
        renamer.send("/nick NOBODY", "/nick NOBODY", "/nick NOBODY", "/nick NOBODY", "/nick x")
        self.assertEqual(
            renamer.lines(),
            ["!!! The nickname NOBODY is kept for an operator of this server."] * 4
            + ["*** dave is now known as x"],
        )

    def test_registered_by_a_stranger_is_not_an_operator(self) -> None:
        """
        An admin's nickname a stranger registered (before the operator set its
        password with python -m chat.admin) makes no operator, and the log says
        what to do.
        """
        self.successResultOf(self.accounts.register("nobody", "stolen1"))
        squatter = Client(self.service)
        events = EventLoggingObserver()
        globalLogPublisher.addObserver(events)
        self.addCleanup(globalLogPublisher.removeObserver, events)
        squatter.send("nobody", "stolen1", "/wall mine now")
        self.assertEqual(squatter.lines()[-1], "!!! Only operators can use /wall.")
        self.assertIn(
            "nobody is in --admins, but its password was not set with python -m chat.admin: "
            "not an operator",
            [formatEvent(e) for e in events],
        )

    def test_usage_and_unknown(self) -> None:
        """
        Missing arguments are usage errors; kicking nobody is an error.
        """
        self.op.send("/kick", "/wall", "/kick ghost")
        self.assertEqual(
            self.op.lines(),
            ["!!! Usage: /kick NICK [REASON]", "!!! Usage: /wall TEXT", "!!! No such user: ghost"],
        )


class BanTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.path = self.mktemp()
        self.pool = SyncPool(self.path)
        self.accounts = Accounts(self.pool, self.clock, at_once, cost=CHEAP)
        self.pool.make_operator("root", "secret1")
        self.bans = Bans(self.pool, self.clock)
        self.bans.startService()
        self.service = new_service(
            self.clock, Settings(admins=["root"]), accounts=self.accounts, bans=self.bans
        )
        self.op = self.connect("10.0.0.1")
        self.op.send("root", "secret1")
        self.op.lines()

    def connect(self, host: str, login: str | None = None) -> Client:
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 4000))
        return Client(self.service, login, transport=transport)

    def test_ban_online_nickname(self) -> None:
        """
        Banning a user online bans its nickname (and only its nickname) and
        throws it out at once, its room told; the nickname cannot come back
        while the ban lasts; it ends on time.
        """
        bob = self.connect("10.0.0.2", "bob")
        self.op.lines()
        self.op.send("/ban bob 1h spamming")
        self.assertEqual(
            self.op.lines(),
            [
                "*** bob is banned until 2026-11-19 08:06 UTC: spamming.",
                "*** bob has left (banned by root: spamming)",
            ],
        )
        self.assertEqual(bob.lines(), ["!!! You were banned by root: spamming. Goodbye."])
        bob.hang_up()
        # Others behind bob's address (a NAT, a shell box) are not shut out.
        again = self.connect("10.0.0.2", "carol")
        self.assertFalse(again.closed)
        elsewhere = self.connect("10.0.0.3")
        elsewhere.lines()
        elsewhere.send("BOB")
        self.assertEqual(
            elsewhere.lines()[0],
            "!!! The nickname BOB is banned until 2026-11-19 08:06 UTC: spamming.",
        )
        self.clock.advance(3600)
        self.assertIsNone(self.bans.find(BanKind.NICK, "bob"))
        self.assertIsNone(self.bans.find(BanKind.ADDRESS, "10.0.0.2"))

    def test_operator_cannot_ban_itself(self) -> None:
        """
        An operator is never shut out by its own ban: banning its own
        nickname or the address it is on is refused, and says why.
        """
        self.op.send("/ban ROOT 1h", "/ban 10.0.0.1")
        self.assertEqual(
            self.op.lines(),
            [
                "!!! ROOT is you: you cannot ban yourself.",
                "!!! 10.0.0.1 is you: you cannot ban yourself.",
            ],
        )
        self.assertEqual(self.bans.all(), [])
        self.assertFalse(self.op.closed)

    def test_nickname_ban_holds_for_renames(self) -> None:
        """
        A banned nickname cannot be taken with /nick (nor with IRC's NICK):
        every way to a nickname checks the bans.
        """
        from tests.helpers import IRCUser

        self.op.send("/ban troll")
        self.op.lines()
        trollx = self.connect("10.0.0.5", "trollx")
        trollx.send("/nick TROLL")
        self.assertEqual(trollx.lines(), ["!!! The nickname TROLL is banned."])
        irc = IRCUser(self.service, "trolly")
        irc.send("NICK troll")
        self.assertEqual(irc.messages()[-1][1:4], ("432", "trolly", "troll"))
        self.assertEqual(self.service.chat.online(), ["root", "trollx", "trolly"])

    def test_nickname_ban_holds_for_regain(self) -> None:
        """
        A banned nickname cannot be taken with NickServ's REGAIN either, not
        even with its password: refused before the password is checked, and
        its holder keeps the nickname it had.
        """
        from tests.helpers import IRCUser

        self.successResultOf(self.accounts.register("banme", "secret1"))
        self.op.send("/ban banme")
        self.op.lines()
        irc = IRCUser(self.service, "guest")
        irc.send("PRIVMSG NickServ :REGAIN BANME secret1")
        self.assertEqual(irc.messages(), [("chat", "432", "guest", "BANME", "Nickname is banned")])
        self.assertEqual(self.service.chat.online(), ["guest", "root"])

    def test_bad_durations(self) -> None:
        """
        A duration that is not one (5x), or longer than ten years, is a
        usage error, not a reason or a ban past time_t.
        """
        self.op.send("/ban zed 5x", "/ban 127.0.0.34 100000000000000000w", "/ban zed 0s")
        self.assertEqual(self.op.lines(), ["!!! Usage: /ban NICK|ADDRESS [DURATION] [REASON]"] * 3)
        self.assertEqual(self.bans.all(), [])
        self.op.send("/ban zed 3650d", "/ban zed 3651d", "/bans")
        lines = self.op.lines()
        self.assertEqual(lines[0], "*** zed is banned until 2036-11-16 07:06 UTC.")
        self.assertEqual(lines[1], "!!! Usage: /ban NICK|ADDRESS [DURATION] [REASON]")

    def test_ban_address_and_list(self) -> None:
        """
        An address ban without end throws out every connection from it; /bans
        lists the bans; /unban lifts one.
        """
        first = self.connect("192.0.2.7", "carol")
        second = self.connect("192.0.2.7")
        self.op.lines()
        self.op.send("/ban 192.0.2.7", "/ban ghost 2d rude", "/bans")
        self.assertEqual(
            self.op.lines(),
            [
                "*** 192.0.2.7 is banned.",
                "*** carol has left (banned by root)",
                "*** ghost is banned until 2026-11-21 07:06 UTC: rude.",
                "*** 2 bans:",
                "***   192.0.2.7 (by root)",
                "***   ghost (by root) until 2026-11-21 07:06 UTC: rude",
            ],
        )
        self.assertTrue(first.closed and second.closed)
        self.op.send("/unban 192.0.2.7", "/unban 192.0.2.7", "/unban", "/ban")
        self.assertEqual(
            self.op.lines(),
            [
                "*** 192.0.2.7 is no longer banned.",
                "!!! 192.0.2.7 is not banned.",
                "!!! Usage: /unban NICK|ADDRESS",
                "!!! Usage: /ban NICK|ADDRESS [DURATION] [REASON]",
            ],
        )
        self.assertFalse(self.connect("192.0.2.7").closed)

    def test_bans_kept_in_the_database(self) -> None:
        """
        Bans survive a restart: a new Bans on the same database has them.
        """
        self.op.send("/ban mallory 1w", "/ban 198.51.100.1")
        again = Bans(SyncPool(self.path), self.clock)
        again.startService()
        self.assertEqual(
            [(ban.kind, ban.target) for ban in again.all()],
            [("nick", "mallory"), ("ip", "198.51.100.1")],
        )
        self.assertIsNotNone(again.find(BanKind.NICK, "MALLORY"))

    def test_only_operators(self) -> None:
        """
        The ban commands are for operators only.
        """
        bob = self.connect("10.0.0.2", "bob")
        bob.send("/ban root", "/unban x", "/bans")
        self.assertEqual(
            bob.lines(),
            [
                "!!! Only operators can use /ban.",
                "!!! Only operators can use /unban.",
                "!!! Only operators can use /bans.",
            ],
        )

    def test_durations(self) -> None:
        """
        Durations are a number and a unit; anything else is part of the reason.
        """
        self.assertEqual(
            [parse_duration(t) for t in ["30s", "5m", "2h", "7d", "1w", "10", "1y", "m"]],
            [30, 300, 7200, 604800, 604800, None, None, None],
        )
        self.op.send("/ban dave spam and eggs")
        self.assertEqual(self.op.lines(), ["*** dave is banned: spam and eggs."])


class UnpreparedDatabaseTests(TestCase):
    """
    Accounts on the real database thread, over a database it cannot prepare.
    """

    async def test_newer_schema_is_never_written(self) -> None:
        """
        A database of a newer schema refuses every login, not only the first:
        the connection whose preparation failed is never used unprepared.
        """
        path = str(Path(self.mktemp()).resolve())
        newer = database.connect(path)
        newer.execute(f"PRAGMA user_version={database.LATEST + 1}")
        newer.close()
        pool = open_pool(path, reactor)
        self.addCleanup(pool.close)
        service = new_service(Clock(), accounts=Accounts(pool, Clock(), at_once, cost=CHEAP))
        bob = Client(service)
        bob.lines()
        for _ in range(2):
            bob.send("bob")
            self.assertEqual(
                await answer(bob),
                ["!!! The server cannot use its database right now; try again later."],
            )
        self.flushLoggedErrors()
        db = sqlite3.connect(path)
        self.assertEqual(database.version(db), database.LATEST + 1)
        self.assertEqual(db.execute("SELECT count(*) FROM accounts").fetchone()[0], 0)
        db.close()


async def answer(client: Client) -> list[str]:
    """
    The lines C{client} is sent next, once the database thread has answered.
    """
    for _ in range(int(TIMEOUT / 0.01)):
        await deferLater(reactor, 0.01, lambda: None)
        lines = client.lines()
        if lines:
            return lines
    raise AssertionError("no answer")
