"""
The stores on PostgreSQL (C{--db postgresql://...}), against a real server.

The same scenarios run through the stores on SQLite and on PostgreSQL
(L{StoreScenarios}): a store is written once, over either database's
queries, and must answer alike. Then what only PostgreSQL has to do: search
as FTS5 does, keep a message once however often its batch is written, and
bring an empty database's schema up to date once when several servers start
on it at once; and the server itself, started by twistd on PostgreSQL.
"""

from __future__ import annotations

import calendar
import io
import random
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat import admin, transcript
from chat.core.errors import AlreadyRegistered, TooSlow
from chat.core.events import (
    Action,
    BanKind,
    Keeping,
    KeptRoom,
    Message,
    Meta,
    PrivateMessage,
)
from chat.core.modes import Mode
from chat.core.pages import Page, Point, Reading
from chat.store import database, pg, postgres
from chat.store.accounts import Accounts
from chat.store.bans import Bans
from chat.store.history import History, Pool
from chat.store.markers import ReadMarkers
from chat.store.opening import Unusable
from chat.store.rooms import Rooms
from tests.helpers import SyncPool
from tests.live import TIMEOUT, connect_raw, reactor, start_twistd
from tests.pg import SERVER, PostgresSyncPool, fresh_database, url_of

T0 = float(calendar.timegm((2026, 12, 4, 9, 0, 0, 0, 0, 0)))
CHEAP = 2**4


def at_once(function: Any, *args: Any) -> Deferred[Any]:
    return maybeDeferred(function, *args)


def said(room: str, sender: str, text: str, n: int, account: str | None = None) -> Message:
    return Message(room, sender, text, meta=Meta(f"m{n}", account, time=T0 + n / 1000))


class StoreScenarios:
    """
    What every store must do, whichever database it is on: L{make_pool}
    gives the database.
    """

    def make_pool(self) -> Pool:
        raise NotImplementedError

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pool = self.make_pool()
        self.history = History(self.pool, self.clock)
        self.history.fts = self.result(self.pool.runInteraction(self.pool.sql.searchable))
        self.accounts = Accounts(self.pool, self.clock, at_once, cost=CHEAP)

    def result(self, d: Deferred[Any]) -> Any:
        case: Any = self
        return case.successResultOf(d)

    def test_history(self) -> None:
        """
        Messages come back in the order said, a room's name in any case;
        words are found as prefixes, whatever their case and accents; a
        message is found by its id and deleted by it.
        """
        case: Any = self
        self.history.record(said("lobby", "alice", "Chess tonight?", 1, "alice"))
        self.history.record(Action("lobby", "bob", "sets up the chessboard"))
        self.history.record(said("lobby", "carol", "Café Olé, 8 pm", 2))
        self.history.record(said("den", "dave", "no chess here", 3))
        recent = self.result(self.history.recent("LOBBY", 10))
        case.assertEqual(
            [(e.sender, e.text) for e in recent],
            [
                ("alice", "Chess tonight?"),
                ("bob", "sets up the chessboard"),
                ("carol", "Café Olé, 8 pm"),
            ],
        )
        found = self.result(self.history.search("lobby", "CHESS", 10))
        case.assertEqual([e.sender for e in found], ["alice", "bob"])
        case.assertEqual(
            [e.sender for e in self.result(self.history.search("lobby", "cafe ole", 10))],
            ["carol"],
        )
        case.assertEqual(self.result(self.history.search("lobby", "chess nothing", 10)), [])
        entry, account = self.result(self.history.find("m1"))
        case.assertEqual((entry.text, account), ("Chess tonight?", "alice"))
        self.result(self.history.forget("m1"))
        case.assertIsNone(self.result(self.history.find("m1")))
        found = self.result(self.history.search("lobby", "chess", 10))
        case.assertEqual([e.sender for e in found], ["bob"])

    def test_pages(self) -> None:
        """
        Pages placed by a message id or by a time, and the conversations
        with messages between two times.
        """
        case: Any = self
        for n in range(1, 7):
            self.history.record(said("den", "alice", f"line {n}", n))
        texts = lambda page: [e.text for e in self.result(self.history.page("den", page))]  # noqa: E731
        case.assertEqual(texts(Page(Reading.AFTER, (Point(msgid="m2"),), 2)), ["line 3", "line 4"])
        case.assertEqual(texts(Page(Reading.BEFORE, (Point(msgid="m2"),), 5)), ["line 1"])
        case.assertEqual(
            texts(Page(Reading.AFTER, (Point(time=T0 + 0.004),), 10)), ["line 5", "line 6"]
        )
        case.assertEqual(texts(Page(Reading.LATEST, (), 2)), ["line 5", "line 6"])
        case.assertEqual(
            texts(Page(Reading.BETWEEN, (Point(msgid="m5"), Point(msgid="m2")), 10)),
            ["line 3", "line 4"],
        )
        case.assertEqual(texts(Page(Reading.AFTER, (Point(msgid="nope"),), 10)), [])
        [found] = self.result(self.history.conversations(None, ["den", "lobby"], 0, T0 + 1, 10))
        case.assertEqual((found.name, found.latest), ("den", T0 + 0.006))

    def test_private_history(self) -> None:
        """
        A private conversation is its account's: found under the other one's
        nickname in any case; read page by page; listed by the other one's
        latest nickname.
        """
        case: Any = self
        self.result(self.accounts.register("alice", "a-long-password"))
        self.clock.advance(1)
        for n, (sender, recipient, text) in enumerate(
            [("alice", "bob", "hi bob"), ("Bob", "alice", "hi alice"), ("alice", "bob", "bye")],
            1,
        ):
            account = "alice" if sender == "alice" else None
            to = "alice" if recipient == "alice" else None
            meta = Meta(f"p{n}", account, time=T0 + 1 + n / 1000)
            self.history.record(
                PrivateMessage(sender, recipient, text, meta=meta, recipient_account=to)
            )
        entries = self.result(self.history.conversation("alice", "BOB", 10))
        case.assertEqual(
            [(e.text, e.outgoing) for e in entries],
            [("hi bob", True), ("hi alice", False), ("bye", True)],
        )
        page = Page(Reading.AFTER, (Point(msgid="p1"),), 10)
        entries = self.result(self.history.private_page("alice", "bob", page))
        case.assertEqual([e.text for e in entries], ["hi alice", "bye"])
        [conversation] = self.result(self.history.conversations("alice", [], 0, T0 + 10, 10))
        case.assertEqual((conversation.name, conversation.room), ("bob", False))

    def test_accounts(self) -> None:
        """
        A nickname is registered once, in any case; its password proves it;
        private messages are kept for it while it is away, within limits.
        """
        case: Any = self
        self.result(self.accounts.register("Alice", "a-long-password"))
        failure = case.failureResultOf(self.accounts.register("ALICE", "another-password"))
        failure.trap(AlreadyRegistered)
        case.assertEqual(
            self.result(self.accounts.authenticate("alice", "a-long-password")), "Alice"
        )
        case.assertTrue(self.result(self.accounts.is_registered("aLiCe")))
        case.assertEqual(
            self.result(self.accounts.keep("bob", "alice", "are you there?")), Keeping.KEPT
        )
        case.assertEqual(
            self.result(self.accounts.keep("bob", "nobody", "hello?")), Keeping.NOT_REGISTERED
        )
        page = self.result(self.accounts.collect("ALICE", 10))
        case.assertEqual([(e.sender, e.text) for e in page.entries], [("bob", "are you there?")])
        self.result(self.accounts.forget(page.ids))
        case.assertEqual(self.result(self.accounts.collect("alice", 10)).entries, [])
        self.result(self.accounts.unregister("alice", "a-long-password"))
        case.assertFalse(self.result(self.accounts.is_registered("alice")))

    def test_bans_rooms_markers(self) -> None:
        """
        Bans, kept rooms and read markers are written and read back; a
        marker never goes back.
        """
        case: Any = self
        bans = Bans(self.pool, self.clock)
        bans.startService()
        bans.add(BanKind.ADDRESS, "192.0.2.1", None, "spam", "root")
        bans.add(BanKind.NICK, "Troll", 60, None, "root")
        bans.add(BanKind.NICK, "TROLL", 120, "again", "root")
        again = Bans(self.pool, self.clock)
        again.startService()
        nickname, address = (
            again.find(BanKind.NICK, "troll"),
            again.find(BanKind.ADDRESS, "192.0.2.1"),
        )
        case.assertEqual(
            (nickname and nickname.reason, address and address.reason), ("again", "spam")
        )
        case.assertTrue(again.remove(BanKind.ADDRESS, "192.0.2.1"))
        case.assertEqual(len(self.result(self.pool.runInteraction(self.pool.sql.bans))), 1)

        room = KeptRoom(
            "#Den",
            "alice",
            T0,
            topic="chess",
            topic_by="alice",
            topic_at=T0,
            flags=frozenset({Mode.NO_OUTSIDE, Mode.TOPIC_LOCKED}),
            operators=("alice",),
        )
        store = Rooms(self.pool)
        store.save(room)
        store.save(room)
        [back] = self.result(self.pool.runInteraction(_rooms, self.pool.sql))
        case.assertEqual(back, room)
        store.forget("#DEN")
        case.assertEqual(self.result(self.pool.runInteraction(_rooms, self.pool.sql)), [])

        self.result(self.accounts.register("alice", "a-long-password"))
        markers = ReadMarkers(self.pool)
        markers.mark("alice", "#den", T0 + 5)
        markers.mark("ALICE", "#den", T0 + 1)
        markers.mark("nobody", "#den", T0)
        case.assertEqual(self.result(markers.load("Alice")), {"#den": T0 + 5})
        case.assertEqual(self.result(markers.load("nobody")), {})

    def test_placed(self) -> None:
        """
        Messages written at their places (a cluster's archive, its nodes
        writing in parallel) are read in the order of their places, not of
        their writing; one written again is kept once; C{recent} reads up
        to a place when asked to.
        """
        case: Any = self
        second = [said("lobby", "bob", "second", 2)]
        first = [said("lobby", "alice", "first", 1), said("lobby", "carol", "third", 3)]
        self.result(self.history.keep_now(second, [2_000_000]))
        self.result(self.history.keep_now(first, [1_000_000, 3_000_000]))
        self.result(self.history.keep_now(second + first, [2_000_000, 1_000_000, 3_000_000]))
        texts = [e.text for e in self.result(self.history.recent("lobby", 10))]
        case.assertEqual(texts, ["first", "second", "third"])
        upto = self.result(self.pool.runInteraction(self.pool.sql.recent, "lobby", 10, 2_000_000))
        case.assertEqual([e.text for e in upto], ["first", "second"])
        # Placed where the search has looked already: found all the same, once.
        case.assertEqual(
            [e.text for e in self.result(self.history.search("lobby", "third", 5))], ["third"]
        )
        late = [said("lobby", "dave", "an elephant", 4)]
        self.result(self.history.keep_now(late, [2_500_000]))
        self.result(self.history.keep_now(late, [2_500_000]))
        found = self.result(self.history.search("lobby", "elephant", 5))
        case.assertEqual([e.text for e in found], ["an elephant"])


def _rooms(cursor: Any, sql: Any) -> list[KeptRoom]:
    from chat.store import rooms

    return rooms.load(cursor, sql)


class SQLiteStoreTests(StoreScenarios, SynchronousTestCase):
    def make_pool(self) -> Pool:
        return SyncPool(self.mktemp())


class PostgresStoreTests(StoreScenarios, SynchronousTestCase):
    def make_pool(self) -> Pool:
        pool = PostgresSyncPool(fresh_database(self))
        self.addCleanup(pool.close)
        return pool

    def test_written_once(self) -> None:
        """
        A batch written again (a retry after a lost answer, a second
        archiver) stores each message once: its id is unique.
        """
        rows = [(T0, database.PUBLIC, "lobby", "alice", None, "once", "m1", None)]
        self.result(self.pool.runInteraction(postgres.write, rows))
        self.result(self.pool.runInteraction(postgres.write, rows + rows))
        self.assertEqual(len(self.result(self.history.recent("lobby", 10))), 1)

    def test_single_server_after_a_cluster(self) -> None:
        """
        A single server opening a database a cluster wrote to places its
        messages after the cluster's (ids go on from the highest placed).
        """
        self.result(self.history.keep_now([said("lobby", "alice", "clustered", 1)], [1 << 50]))
        pool: Any = self.pool
        conninfo = pool.db.info.dsn
        postgres.connect(conninfo).close()  # opened again: prepared
        self.history.record(said("lobby", "bob", "single", 2))
        self.history.flush()
        texts = [e.text for e in self.result(self.history.recent("lobby", 10))]
        self.assertEqual(texts, ["clustered", "single"])

    def test_search_budget(self) -> None:
        """
        A search that runs past its budget is cancelled by the server and
        told as too slow; the connection goes on serving.
        """

        def slow(cursor: Any) -> None:
            postgres.budgeted(cursor, 0.05, lambda: cursor.execute("SELECT pg_sleep(1)"))

        self.failureResultOf(self.pool.runInteraction(slow)).trap(TooSlow)
        self.assertEqual(self.result(self.history.recent("lobby", 1)), [])


class SearchParityTests(SynchronousTestCase):
    """
    PostgreSQL finds what SQLite's FTS5 finds, on the same messages.
    """

    def test_same_results(self) -> None:
        vocabulary = [
            "chess", "Chessboard", "CAFÉ", "cafe", "naïve", "e-mail", "don't", "dont",
            "http://example.org/chess", "x_y", "42", "4.2", "Ölçü", "straße", "ÉCOLE",
            "über", "日本語", "emoji🙂", "a+b", "tonight!", "(paren)", "ÅNGSTRÖM",
            # What splitting words apart from FTS5 got wrong: kana with and
            # without their marks, й and ё, Arabic's hamza, Vietnamese, emoji
            # inside a word, Devanagari's vowel signs, a final sigma.
            "がっこう", "かっこう", "バン", "パン", "мой", "мои", "ёлка", "елка", "أحمد",
            "احمد", "Việt", "viet", "great🙂thanks", "🙂great", "हिन्दी", "ΟΔΟΣ", "οδος",
        ]  # fmt: skip
        chooser = random.Random(4)
        rows = [
            (T0 + n, database.PUBLIC, "lobby", "alice", None,
             " ".join(chooser.choice(vocabulary) for _ in range(chooser.randint(1, 6))))
            for n in range(400)
        ]  # fmt: skip
        lite = database.connect(self.mktemp())
        database.write(lite.cursor(), rows, indexing=True)
        lite.commit()
        self.assertTrue(database.searchable(lite.cursor()))
        big = postgres.connect(fresh_database(self))
        self.addCleanup(big.close)
        with big.cursor() as cursor:
            postgres.write(cursor, rows)
        big.commit()
        queries = [
            *vocabulary, "ches", "CAF", "naive", "e mail", "don", "don't tonight", "chess café",
            "strasse", "ecole", "uber", "日本", "🙂", "'", '"', "a b", "-",
        ]  # fmt: skip
        compared = 0
        for query in queries:
            expected = [e.time for e in database.search(lite.cursor(), "lobby", query, 500, True)]
            with big.cursor() as cursor:
                found = [e.time for e in postgres.search(cursor, "lobby", query, 500, True)]
            self.assertEqual(found, expected, query)
            compared += len(expected)
        self.assertGreater(compared, 1000)

    def test_long_words(self) -> None:
        """
        A word longer than PostgreSQL takes (2047 bytes, and lower-casing
        may lengthen one) is stored with the others of its batch and found
        by its start; searching for it fails nothing.
        """
        long = "Ⱥ" * 1100 + "end"
        big = postgres.connect(fresh_database(self))
        self.addCleanup(big.close)
        rows = [
            (T0, database.PUBLIC, "lobby", "mallory", None, long),
            (T0 + 1, database.PUBLIC, "lobby", "alice", None, "still kept"),
        ]
        with big.cursor() as cursor:
            postgres.write(cursor, rows)
            self.assertEqual(len(postgres.recent(cursor, "lobby", 10)), 2)
            self.assertEqual(
                [e.sender for e in postgres.search(cursor, "lobby", long, 10, True)], ["mallory"]
            )
            self.assertEqual(
                [e.sender for e in postgres.search(cursor, "lobby", "ⱥⱥⱥ", 10, True)], ["mallory"]
            )


class SchemaTests(SynchronousTestCase):
    """
    The schema of a PostgreSQL database several servers share.
    """

    def test_migrated_once(self) -> None:
        """
        Servers starting at once on an empty database: one migrates, the
        others wait for it and find it done; none fails.
        """
        conninfo = fresh_database(self)
        failures: list[BaseException] = []
        start = threading.Barrier(3)

        def server() -> None:
            try:
                start.wait()
                postgres.connect(conninfo).close()
            except BaseException as e:
                failures.append(e)

        threads = [threading.Thread(target=server) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(failures, [])
        with psycopg.connect(conninfo) as db:
            self.assertEqual(
                db.execute("SELECT version FROM chat_schema").fetchall(), [(postgres.LATEST,)]
            )

    def test_newer_refused(self) -> None:
        """
        A database of a newer server is refused, untouched, with one line
        that says so.
        """
        conninfo = fresh_database(self)
        postgres.connect(conninfo).close()
        with psycopg.connect(conninfo) as db:
            db.execute("UPDATE chat_schema SET version = %s", (postgres.LATEST + 1,))
        with self.assertRaises(Unusable) as caught:
            pg.check(conninfo)
        self.assertIn(f"schema version {postgres.LATEST + 1}", str(caught.exception))
        self.assertNotIn("password", pg.shown("postgresql://u:password@h:5/d"))

    def test_unreachable(self) -> None:
        """
        A server that is not there is said in one line, without the password.
        """
        with self.assertRaises(Unusable) as caught:
            pg.check("postgresql://someone:secret@127.0.0.1:1/chat")
        self.assertIn(
            "cannot connect to postgresql://someone@127.0.0.1:1/chat", str(caught.exception)
        )
        self.assertNotIn("secret", str(caught.exception))


class ServerTests(TestCase):
    """
    twistd's chat on PostgreSQL, through the line door.
    """

    timeout = 4 * TIMEOUT

    async def test_history_and_accounts_kept(self) -> None:
        """
        A nickname registered and messages said are there after a restart:
        the database is PostgreSQL's, not a file.
        """
        db = url_of(fresh_database(self))
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--db", db)
        self.addCleanup(process.stop)
        alice = await connect_raw(port)
        alice.send("alice")
        await alice.wait_for(lambda line: line.startswith("*** You are in lobby."))
        alice.send("/register a-long-password")
        await alice.wait_for(lambda line: "registered" in line)
        alice.send("kept in postgres")
        alice.send("/quit")
        await alice.closed
        await process.stop()
        self.assertFalse(any(workdir.iterdir()), "nothing is written beside the server")

        process, port = await start_twistd(workdir, "--db", db)
        self.addCleanup(process.stop)
        bob = await connect_raw(port)
        bob.send("bob")
        await bob.wait_for(lambda line: "kept in postgres" in line)
        bob.send("/nick alice")
        await bob.wait_for(lambda line: "registered" in line.lower())
        await process.stop()

    async def test_newer_schema_refused(self) -> None:
        """
        twistd refuses to start on a database of a newer server, in one line.
        """
        conninfo = fresh_database(self)
        postgres.connect(conninfo).close()
        with psycopg.connect(conninfo) as db:
            db.execute("UPDATE chat_schema SET version = 99")
        workdir = Path(self.mktemp())
        workdir.mkdir()
        from tests.live import spawn_twistd

        process = spawn_twistd(workdir, "--db", url_of(conninfo))
        ended = await process.ended.addTimeout(TIMEOUT, reactor)
        self.assertEqual(ended, ("exit", 1), process.log.decode())
        self.assertIn(b"schema version 99", process.log)
        self.assertEqual(process.port.called, True)
        self.failureResultOf(process.port)


class AdminTests(SynchronousTestCase):
    """
    C{python -m chat.admin} on a PostgreSQL database.
    """

    def test_operator_password(self) -> None:
        """
        An operator's password set, listed and revoked in PostgreSQL, as in a file.
        """
        db = url_of(fresh_database(self))
        out = io.StringIO()
        self.assertEqual(admin.main(["--db", db, "Root"], io.StringIO("a-long-password\n"), out), 0)
        self.assertIn("Root's operator password is set", out.getvalue())
        out = io.StringIO()
        self.assertEqual(admin.main(["--db", db, "--list"], io.StringIO(), out), 0)
        self.assertEqual(out.getvalue(), "Root\n")
        with psycopg.connect(db) as connection, connection.cursor() as cursor:
            self.assertTrue(postgres.is_operator(cursor, "ROOT"))
        self.assertEqual(admin.main(["--db", db, "--revoke", "root"], io.StringIO(), out), 0)
        out = io.StringIO()
        self.assertEqual(admin.main(["--db", db, "--list"], io.StringIO(), out), 0)
        self.assertEqual(out.getvalue(), "")

    def test_transcript(self) -> None:
        """
        A room's log from PostgreSQL as plain text; private messages never.
        """
        db = url_of(fresh_database(self))
        rows = [
            (T0, database.PUBLIC, "lobby", "alice", None, "hello"),
            (T0 + 1, database.ACTION, "lobby", "bob", None, "waves"),
            (T0 + 2, database.PRIVATE, None, "bob", "alice", "secret"),
            (T0 + 3, database.PUBLIC, "den", "carol", None, "elsewhere"),
        ]
        with postgres.connect(db) as connection, connection.cursor() as cursor:
            postgres.write(cursor, rows)
        out = io.StringIO()
        self.assertEqual(transcript.main(["--db", db, "--room", "LOBBY"], out), 0)
        self.assertEqual(
            out.getvalue(),
            "2026-12-04 09:00:00 [lobby] <alice> hello\n2026-12-04 09:00:01 [lobby] * bob waves\n",
        )
        out = io.StringIO()
        self.assertEqual(transcript.main(["--db", db], out), 0)
        self.assertNotIn("secret", out.getvalue())
        self.assertEqual(len(out.getvalue().splitlines()), 3)
        self.assertEqual(transcript.main(["--db", db, "--room", "nowhere"], out), 1)


class PoolTests(TestCase):
    """
    The server's own pool (adbapi, psycopg) on a real PostgreSQL.
    """

    async def test_connection_lost(self) -> None:
        """
        A connection the server dropped (a restart, an administrator) is
        made again by the next transaction, which succeeds: nobody is told
        the database is unavailable for it.
        """
        conninfo = fresh_database(self)
        postgres.connect(conninfo).close()
        pool = pg.PostgresPool(url_of(conninfo), reactor)
        self.addCleanup(pool.close)
        self.assertEqual(await pool.runInteraction(postgres.recent, "lobby", 5), [])
        name = psycopg.conninfo.conninfo_to_dict(conninfo)["dbname"]
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        rows = [(T0, database.PUBLIC, "lobby", "alice", None, "after", "m1", None)]
        await pool.runInteraction(postgres.write, rows)
        [entry] = await pool.runInteraction(postgres.recent, "lobby", 5)
        self.assertEqual(entry.text, "after")

    def test_password_never_shown(self) -> None:
        """
        Neither an address PostgreSQL cannot read nor a refused connection
        shows its password.
        """
        for address in (
            "postgresql://someone:p%zzsecret@127.0.0.1:1/chat",
            "postgresql://someone:topsecret@127.0.0.1:1/chat",
        ):
            with self.assertRaises(Unusable) as caught:
                pg.check(address)
            self.assertNotIn("secret", str(caught.exception))

    def test_tools_make_no_tables(self) -> None:
        """
        chat.admin --list on a database without chat's tables says so and
        leaves it as it was (a mistyped name is not given chat's tables).
        """
        conninfo = fresh_database(self)
        err = io.StringIO()
        self.patch(sys, "stderr", err)
        self.assertEqual(admin.main(["--db", url_of(conninfo), "--list"], io.StringIO()), 1)
        self.assertIn("not a chat database", err.getvalue())
        with psycopg.connect(conninfo) as db:
            self.assertEqual(db.execute("SELECT to_regclass('chat_schema')").fetchall(), [(None,)])
