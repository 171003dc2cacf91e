"""
IRCv3 read-marker through the IRC door: MARKREAD asked and set, told on
entering a room before the end of its names, never going back, bounded,
and kept for an account across its sessions by the SQLite store.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import Settings
from chat.core.session import marks
from chat.irc import wording
from chat.store import database
from chat.store.accounts import Accounts
from chat.store.markers import ReadMarkers
from tests.helpers import IRCUser, SyncPool, make_service, new_service

CAP = "draft/read-marker"
NOW = 1_795_072_000


def _now(function: Any, *args: Any) -> Deferred[Any]:
    return maybeDeferred(function, *args)


class ReadMarkerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        # Now is 2026-11-19 (a marker is never later than now).
        clock = self.service.clock
        assert isinstance(clock, Clock)
        clock.advance(NOW)

    def test_offered(self) -> None:
        user = IRCUser(self.service)
        user.send("CAP LS 302")
        (listed,) = user.messages()
        self.assertIn(CAP, listed[-1].split())

    def test_ask_set_and_never_back(self) -> None:
        """
        A target never marked is C{*}; a mark is told back as it stands,
        and an older one leaves it where it is.
        """
        alice = IRCUser(self.service, "alice", caps=CAP)
        alice.send("MARKREAD #nosuchtarget")
        self.assertEqual(alice.messages(), [("irc.test", "MARKREAD", "#nosuchtarget", "*")])
        alice.send("MARKREAD #Test timestamp=2019-06-01T12:00:00.000Z")
        alice.send("MARKREAD #test timestamp=2019-01-01T00:00:00.000Z")
        alice.send("MARKREAD #TEST")
        self.assertEqual(
            alice.messages(),
            [("irc.test", "MARKREAD", name, "timestamp=2019-06-01T12:00:00.000Z")
             for name in ("#Test", "#test", "#TEST")],
        )  # fmt: skip
        # A private conversation, by nickname, any case; times to the millisecond.
        alice.send("MARKREAD Bob timestamp=2023-07-04T00:00:00.5Z", "MARKREAD bob")
        self.assertEqual(
            [m[3] for m in alice.messages()], ["timestamp=2023-07-04T00:00:00.500Z"] * 2
        )

    def test_refused(self) -> None:
        """
        No target, a time that is not one (C{*} included: only the server
        says it), or a target that names nothing: FAIL, and nothing changes.
        """
        alice = IRCUser(self.service, "alice", caps=CAP)
        alice.send(
            "MARKREAD",
            "MARKREAD #test timestamp=not-a-timestamp",
            "MARKREAD #test *",
            "MARKREAD #test timestamp=2019-02-30T00:00:00.000Z",
            "MARKREAD #test 2019-01-04T14:33:26.123Z",
            "MARKREAD !!! timestamp=2019-01-04T14:33:26.123Z",
            "MARKREAD #test timestamp=1960-01-01T00:00:00.000Z",
            "MARKREAD #test timestamp=\u0662019-01-04T14:33:26.123Z",
            "MARKREAD #test",
        )
        said = alice.messages()
        self.assertEqual(
            [m[1:4] for m in said[:-1]],
            [("FAIL", "MARKREAD", "NEED_MORE_PARAMS")]
            + [("FAIL", "MARKREAD", "INVALID_PARAMS")] * 7,
        )
        self.assertEqual(said[-1], ("irc.test", "MARKREAD", "#test", "*"))

    def test_times_written_as_read(self) -> None:
        """
        A time is written back as it was read, four digits of year and all;
        one in the future is now (a marker never goes back, so a marker in
        9999 would stop it for ever); a leap second is its last millisecond.
        """
        self.assertEqual(
            wording.marker_time(wording.parse_server_time("1970-01-01T00:00:00.000Z") or 0),
            "1970-01-01T00:00:00.000Z",
        )
        for stamp in ("2019-01-04T14:33:26.123Z", "2000-02-29T23:59:59.999Z"):
            self.assertEqual(wording.marker_time(wording.parse_server_time(stamp) or 0), stamp)
        self.assertEqual(
            wording.parse_server_time("2016-12-31T23:59:60Z"),
            wording.parse_server_time("2016-12-31T23:59:59.999Z"),
        )
        clock = self.service.clock
        assert isinstance(clock, Clock)
        clock.advance(0.5)
        alice = IRCUser(self.service, "alice", caps=CAP)
        alice.send("MARKREAD #test timestamp=9999-12-31T23:59:59.999Z")
        self.assertEqual(alice.messages()[-1][3], "timestamp=2026-11-19T07:06:40.500Z")

    def test_told_before_the_end_of_names(self) -> None:
        """
        On JOIN, a client with the capability is told the room's marker
        between the names and their end; one without is told nothing new.
        """
        alice = IRCUser(self.service, "alice", caps=CAP)
        plain = IRCUser(self.service, "plain")
        alice.send("JOIN #test")
        self.assertEqual(alice.codes(), ["JOIN", "353", "MARKREAD", "366"])
        alice.send("MARKREAD #test timestamp=2020-03-15T10:00:00.000Z", "PART #test")
        alice.lines()
        alice.send("JOIN #test")
        said = alice.messages()
        self.assertEqual(
            said[2], ("irc.test", "MARKREAD", "#test", "timestamp=2020-03-15T10:00:00.000Z")
        )
        self.assertEqual(said[3][1], "366")
        plain.send("JOIN #test")
        self.assertEqual(plain.codes(), ["JOIN", "353", "366"])

    def test_in_a_crowd(self) -> None:
        """
        In a room too full to list, the count, then the marker, then the end.
        """
        service = make_service(server_name="irc.test", crowd=2)
        service.clock.advance(NOW)  # type: ignore[attr-defined]
        users = [IRCUser(service, f"user{n}", caps=CAP) for n in range(3)]
        for user in users:
            user.send("JOIN #big")
        self.assertEqual(users[2].codes(), ["JOIN", "NOTICE", "MARKREAD", "366"])

    def test_bounded(self) -> None:
        """
        Past READ_MARKERS_KEPT targets, marking another forgets the one read longest ago.
        """
        self.patch(marks, "READ_MARKERS_KEPT", 3)
        alice = IRCUser(self.service, "alice", caps=CAP)
        for n, name in enumerate(["#a", "#b", "#c", "#d"]):
            alice.send(f"MARKREAD {name} timestamp=2020-01-0{n + 1}T00:00:00.000Z")
        alice.lines()
        alice.send("MARKREAD #a", "MARKREAD #d")
        self.assertEqual(
            [m[3] for m in alice.messages()], ["*", "timestamp=2020-01-04T00:00:00.000Z"]
        )


class AccountMarkerTests(SynchronousTestCase):
    """
    An account's markers are kept by the store: read on one device, read on the next.
    """

    def setUp(self) -> None:
        self.pool = SyncPool(self.mktemp())
        clock = Clock()
        clock.advance(NOW)
        accounts = Accounts(self.pool, clock, _now, cost=2**4)
        self.service = new_service(
            clock,
            Settings(server_name="irc.test"),
            accounts=accounts,
            markers=ReadMarkers(self.pool),
        )
        self.successResultOf(accounts.register("alice", "secret1"))

    def login(self) -> IRCUser:
        user = IRCUser(self.service)
        user.send(f"CAP REQ :{CAP}", "PASS secret1", "NICK alice", "USER u 0 * :A", "CAP END")
        user.lines()
        return user

    def test_kept_across_sessions(self) -> None:
        first = self.login()
        first.send("JOIN #test", "MARKREAD #test timestamp=2021-05-20T08:30:00.000Z")
        first.send("MARKREAD bob timestamp=2021-05-20T08:31:00.000Z", "QUIT")
        self.assertEqual(
            database.read_markers(self.pool.db.cursor(), "ALICE"),
            {"#test": 1621499400.0, "bob": 1621499460.0},
        )
        second = self.login()
        second.send("JOIN #test", "MARKREAD bob")
        said = [m for m in second.messages() if m[1] == "MARKREAD"]
        self.assertEqual(
            said,
            [
                ("irc.test", "MARKREAD", "#test", "timestamp=2021-05-20T08:30:00.000Z"),
                ("irc.test", "MARKREAD", "bob", "timestamp=2021-05-20T08:31:00.000Z"),
            ],
        )

    def test_one_account_many_sessions(self) -> None:
        """
        Two sessions of one account share its markers: the second cannot
        move one back, and the first is told where the second moved it.
        """
        first = self.login()
        second = IRCUser(self.service, "guest", caps=CAP)
        second.send("PRIVMSG NickServ :IDENTIFY alice secret1")
        second.lines()
        first.send("MARKREAD #x timestamp=2021-01-05T00:00:00.000Z")
        first.lines()
        self.assertEqual(
            second.messages(),
            [("irc.test", "MARKREAD", "#x", "timestamp=2021-01-05T00:00:00.000Z")],
        )
        second.send("MARKREAD #x timestamp=2021-01-03T00:00:00.000Z")
        self.assertEqual(second.messages()[-1][3], "timestamp=2021-01-05T00:00:00.000Z")
        self.assertEqual(first.lines(), [])

    def test_other_accounts_and_past_owners(self) -> None:
        """
        A session that identifies to another account leaves the first
        one's markers behind; markers set for an account unregistered
        meanwhile are not kept for its next owner.
        """
        self.successResultOf(self.service.accounts.register("bob", "secret2"))  # type: ignore[union-attr]
        user = self.login()
        user.send("MARKREAD secretfriend timestamp=2021-05-20T08:30:00.000Z")
        user.send("PRIVMSG NickServ :IDENTIFY bob secret2", "MARKREAD secretfriend")
        self.assertEqual(user.messages()[-1][2:], ("secretfriend", "*"))
        cursor = self.pool.db.cursor()
        self.assertEqual(database.read_markers(cursor, "bob"), {})
        with self.pool.db:
            database.delete_account(self.pool.db.cursor(), "bob")
        user.send("MARKREAD mylover timestamp=2021-05-20T08:30:00.000Z")
        user.lines()
        self.assertEqual(database.read_markers(self.pool.db.cursor(), "bob"), {})

    def test_merging_keeps_the_bound(self) -> None:
        """
        What a session marked before identifying joins the account's, and
        past READ_MARKERS_KEPT the ones read longest ago go, in the
        database too: identifying again and again never grows them.
        """
        self.patch(marks, "READ_MARKERS_KEPT", 3)
        for round in range(3):
            user = IRCUser(self.service, f"guest{round}", caps=CAP)
            for n in range(3):
                user.send(f"MARKREAD #r{round}x{n} timestamp=2020-01-0{n + 1}T0{round}:00:00.000Z")
            user.send("PRIVMSG NickServ :IDENTIFY alice secret1", "QUIT")
        stored = database.read_markers(self.pool.db.cursor(), "alice")
        self.assertEqual(len(stored), 3, stored)

    def test_marked_before_identifying(self) -> None:
        """
        What a session marked before it proved its account is kept for the
        account, and the account's own markers join the session's.
        """
        with self.pool.db:
            database.mark_read(self.pool.db.cursor(), "alice", "#old", 100.0, None)
        user = IRCUser(self.service, "guest", caps=CAP)
        user.send("MARKREAD #new timestamp=2022-01-01T00:00:00.000Z")
        user.send("PRIVMSG NickServ :IDENTIFY alice secret1")
        user.lines()
        user.send("MARKREAD #old")
        self.assertEqual(user.messages()[-1][3], "timestamp=1970-01-01T00:01:40.000Z")
        self.assertEqual(
            database.read_markers(self.pool.db.cursor(), "alice"),
            {"#old": 100.0, "#new": 1640995200.0},
        )
