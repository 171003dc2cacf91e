"""
Tests for history: the database and its migrations, the batching archive, the
history commands, and the transcript exporter; all on real SQLite files.
"""

from __future__ import annotations

import calendar
import io
import sqlite3
import sys
import threading
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat import transcript
from chat.core.events import Action, Entry, Message, PrivateMessage
from chat.core.service import ChatService, Settings
from chat.store import database
from chat.store.accounts import Accounts
from chat.store.database import ACTION, PRIVATE, PUBLIC
from chat.store.history import History, open_pool
from tests.helpers import Client, SyncPool, new_service
from tests.live import connect_raw, in_lobby, start_twistd

T0 = float(calendar.timegm((2026, 11, 19, 7, 6, 40, 0, 0, 0)))


def rows(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute("SELECT time, kind, room, sender, recipient, text FROM messages").fetchall()


class DatabaseTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = self.mktemp()

    def test_new_database(self) -> None:
        """
        A new database gets the latest schema, in WAL mode.
        """
        db = database.connect(self.path)
        self.assertEqual(database.version(db), database.LATEST)
        self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.assertTrue(database.searchable(db.cursor()))

    def test_migration_from_version_1(self) -> None:
        """
        A database written with schema version 1 (no full-text index) is
        brought up to date on opening, and its old messages become searchable.
        """
        old = database.connect(self.path, target=1)
        self.assertEqual(database.version(old), 1)
        self.assertFalse(database.searchable(old.cursor()))
        database.write(old.cursor(), [(T0, PUBLIC, "lobby", "alice", None, "chess tonight")])
        old.commit()
        old.close()
        db = database.connect(self.path)
        self.assertEqual(database.version(db), database.LATEST)
        found = database.search(db.cursor(), "lobby", "chess", 10, fts=True)
        self.assertEqual([entry.text for entry in found], ["chess tonight"])
        database.write(db.cursor(), [(T0 + 1, PUBLIC, "lobby", "bob", None, "chess again")])
        found = database.search(db.cursor(), "lobby", "chess", 10, fts=True)
        self.assertEqual([entry.text for entry in found], ["chess tonight"])
        # Indexed in batches, not by each write; a search is preceded by it.
        database.index(db.cursor())
        found = database.search(db.cursor(), "lobby", "chess", 10, fts=True)
        self.assertEqual([entry.text for entry in found], ["chess tonight", "chess again"])
        database.write(db.cursor(), [(T0 + 2, PUBLIC, "lobby", "bob", None, "chess 3")], True)
        found = database.search(db.cursor(), "lobby", "chess", 10, fts=True)
        self.assertEqual(len(found), 3)

    def test_newer_schema_refused(self) -> None:
        """
        A database from a newer server is not touched.
        """
        db = sqlite3.connect(self.path)
        db.execute(f"PRAGMA user_version={database.LATEST + 1}")
        db.close()
        with self.assertRaises(RuntimeError) as caught:
            database.connect(self.path)
        self.assertIn("newer", str(caught.exception))

    def test_any_text_round_trips(self) -> None:
        """
        Whatever the text (quotes, backslashes, emoji beyond the BMP, empty) and
        whatever the time, a stored row reads back exactly.
        """
        db = database.connect(self.path)
        written = [
            (
                T0 + 0.123456789,
                PUBLIC,
                "lobby",
                "alice",
                None,
                "h\u00e9llo \U0001f44b\U0001f3fd \\ \" ' \U0010ffff",
            ),
            (0.1 + 0.2, PRIVATE, None, "a", "b", ""),
        ]
        database.write(db.cursor(), written)
        self.assertEqual(rows(db), written)

    def test_recent(self) -> None:
        """
        Recent history is a room's last N public messages and actions, oldest
        first; room names match in any case; private messages never appear.
        """
        db = database.connect(self.path)
        database.write(
            db.cursor(),
            [
                (T0, PUBLIC, "lobby", "alice", None, "one"),
                (T0 + 1, ACTION, "lobby", "bob", None, "waves"),
                (T0 + 2, PUBLIC, "games", "carol", None, "elsewhere"),
                (T0 + 3, PRIVATE, None, "alice", "bob", "secret"),
                (T0 + 4, PUBLIC, "Lobby", "alice", None, "three"),
            ],
        )
        self.assertEqual(
            database.recent(db.cursor(), "LOBBY", 2),
            [
                Entry(T0 + 1, ACTION, "lobby", "bob", None, "waves"),
                Entry(T0 + 4, PUBLIC, "Lobby", "alice", None, "three"),
            ],
        )
        self.assertEqual(len(database.recent(db.cursor(), "lobby", 100)), 3)

    def fill(self) -> sqlite3.Connection:
        db = database.connect(self.path)
        database.write(
            db.cursor(),
            [
                (T0, PUBLIC, "lobby", "alice", None, "Chess tonight at 8"),
                (T0 + 1, PUBLIC, "lobby", "bob", None, "chessboard ready"),
                (T0 + 2, PUBLIC, "lobby", "carol", None, "100% sure, a_b"),
                (T0 + 3, PUBLIC, "games", "dave", None, "chess elsewhere"),
                (T0 + 4, PRIVATE, None, "alice", "bob", "chess secret"),
            ],
            indexing=True,
        )
        return db

    def test_search_words(self) -> None:
        """
        Full-text search matches words and word prefixes, in one room only.
        """
        db = self.fill()
        found = database.search(db.cursor(), "lobby", "chess", 10, fts=True)
        self.assertEqual([e.sender for e in found], ["alice", "bob"])
        found = database.search(db.cursor(), "lobby", "chess tonight", 10, fts=True)
        self.assertEqual([e.sender for e in found], ["alice"])

    def test_search_cannot_inject_query_syntax(self) -> None:
        """
        FTS5 operators and quotes in the search text are searched for, not obeyed.
        """
        db = self.fill()
        for text in ['"', 'chess" OR "x', "NEAR(chess", "*", "chess AND", "-", " "]:
            database.search(db.cursor(), "lobby", text, 10, fts=True)
        self.assertEqual(database.search(db.cursor(), "lobby", "  ", 10, fts=True), [])

    def test_search_without_fts(self) -> None:
        """
        Without FTS5, search is a case-insensitive substring match in which % and _ are literal.
        """
        db = self.fill()
        found = database.search(db.cursor(), "lobby", "CHESS", 10, fts=False)
        self.assertEqual([e.sender for e in found], ["alice", "bob"])
        found = database.search(db.cursor(), "lobby", "0% sure, a_", 10, fts=False)
        self.assertEqual([e.sender for e in found], ["carol"])
        self.assertEqual(
            database.search(db.cursor(), "lobby", "%", 10, fts=False)[0].sender, "carol"
        )
        self.assertEqual(database.search(db.cursor(), "lobby", "x_y", 10, fts=False), [])

    def test_transcript(self) -> None:
        """
        A transcript holds every room's (or one room's) public messages, from a time on.
        """
        db = self.fill()
        everything = list(database.transcript(db, None, None))
        self.assertEqual([e.sender for e in everything], ["alice", "bob", "carol", "dave"])
        self.assertEqual(
            [e.sender for e in database.transcript(db, "LOBBY", T0 + 1)], ["bob", "carol"]
        )


class HistoryTests(SynchronousTestCase):
    """
    The batching archive, on a synchronous pool and a fake clock.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.pool = SyncPool(self.mktemp())
        self.clock.advance(T0)
        self.history = History(self.pool, self.clock, interval=0.01, batch=3)

    def stored(self) -> list[tuple[object, ...]]:
        return rows(self.pool.db)

    def test_batched_by_time(self) -> None:
        """
        Recorded messages are written together once the interval has passed,
        with the time they were recorded.
        """
        self.history.record(Message("lobby", "alice", "hi"))
        self.clock.advance(0.005)
        self.history.record(Action("lobby", "bob", "waves"))
        self.assertEqual(self.stored(), [])
        self.clock.advance(0.005)
        self.assertEqual(
            self.stored(),
            [
                (T0, PUBLIC, "lobby", "alice", None, "hi"),
                (T0 + 0.005, ACTION, "lobby", "bob", None, "waves"),
            ],
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_batched_by_size(self) -> None:
        """
        A full batch is written at once, without waiting for the interval.
        """
        for n in range(3):
            self.history.record(Message("lobby", "alice", str(n)))
        self.assertEqual(len(self.stored()), 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_private_messages_stored(self) -> None:
        """
        Private messages are stored with their recipient and no room.
        """
        self.history.record(PrivateMessage("alice", "bob", "psst"))
        self.history.flush()
        self.assertEqual(self.stored(), [(T0, PRIVATE, None, "alice", "bob", "psst")])

    def test_reads_include_pending(self) -> None:
        """
        A read first writes what is pending, so it misses nothing recorded before it.
        """
        self.history.record(Message("lobby", "alice", "chess?"))
        recent = self.successResultOf(self.history.recent("lobby", 10))
        self.assertEqual([e.text for e in recent], ["chess?"])
        self.history.record(Message("lobby", "bob", "chess!"))
        found = self.successResultOf(self.history.search("lobby", "chess", 10))
        self.assertEqual([e.text for e in found], ["chess?", "chess!"])

    def test_start_learns_fts(self) -> None:
        """
        Starting finds out whether the database can search words.
        """
        self.history.startService()
        self.assertTrue(self.history.fts)

    def test_start_failure_logged(self) -> None:
        """
        A database that cannot be opened is logged as an error.
        """
        self.pool.fail_next = True
        self.history.startService()
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_write_failure_retried(self) -> None:
        """
        A write that fails (a full disk) loses nothing: the batch is kept in
        front of what comes next and written on the retry, 5 s later; the
        outage is logged once, and its end.
        """
        observer = EventLoggingObserver()
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.history.record(Message("lobby", "alice", "first"))
        self.pool.fail_next = True
        self.history.flush()
        for text in ("second", "third", "fourth"):
            self.history.record(Message("lobby", "alice", text))
        self.assertEqual(self.stored(), [])
        self.pool.fail_next = True
        self.clock.advance(5)
        self.assertEqual(self.stored(), [])
        self.clock.advance(5)
        self.assertEqual([row[-1] for row in self.stored()], ["first", "second", "third", "fourth"])
        said = [formatEvent(e) for e in observer]
        self.assertEqual(len([line for line in said if "Could not store" in line]), 1)
        self.assertIn("retrying every 5.0 s", " ".join(said))
        self.assertTrue(any("Storing messages works again" in line for line in said))

    def test_write_failure_bounded(self) -> None:
        """
        However long the database stays unwritable, what waits in memory is
        bounded; the oldest are given up, and counted when it comes back.
        """
        from chat.store import history

        self.patch(history, "MAX_UNWRITTEN", 10)
        self.history.record(Message("lobby", "alice", "0"))
        self.pool.fail_next = True
        self.history.flush()
        for n in range(1, 15):
            self.history.record(Message("lobby", "alice", str(n)))
        self.clock.advance(5)
        self.assertEqual([row[-1] for row in self.stored()], [str(n) for n in range(5, 15)])

    def test_stop_flushes_then_closes(self) -> None:
        """
        Stopping writes what is pending, then closes the database.
        """
        self.history.startService()
        self.history.record(Message("lobby", "alice", "last words"))
        self.pool.hold = True
        stopped = self.history.stopService()
        self.assertNoResult(stopped)
        self.assertFalse(self.pool.closed)
        self.assertEqual([row[-1] for row in self.stored()], ["last words"])
        self.pool.release()
        self.successResultOf(stopped)
        self.assertTrue(self.pool.closed)


class RealPoolTests(TestCase):
    """
    The archive on a real thread pool and a real SQLite file.
    """

    async def test_written_and_read_back(self) -> None:
        """
        Messages recorded through the real pool are read back, survive a stop,
        and are in the file afterwards.
        """
        path = str(Path(self.mktemp()).resolve())
        history = History(open_pool(path, reactor), reactor)
        history.startService()
        for n in range(5):
            history.record(Message("lobby", "alice", f"message {n}"))
        recent = await history.recent("lobby", 3)
        self.assertEqual([e.text for e in recent], ["message 2", "message 3", "message 4"])
        history.record(Message("lobby", "bob", "after"))
        await history.stopService()
        db = sqlite3.connect(path)
        self.assertEqual(db.execute("SELECT count(*) FROM messages").fetchone()[0], 6)
        db.close()

    async def test_reads_follow_writes_on_their_own_connection(self) -> None:
        """
        With reads on a second database thread, a read still sees every
        message recorded before it was asked for.
        """
        path = str(Path(self.mktemp()).resolve())
        history = History(open_pool(path, reactor), reactor, reader=open_pool(path, reactor))
        history.startService()
        self.addCleanup(history.stopService)
        for n in range(50):
            history.record(Message("lobby", "alice", f"message {n}"))
            if n % 10 == 9:
                recent = await history.recent("lobby", 2)
                self.assertEqual([e.text for e in recent], [f"message {n - 1}", f"message {n}"])
                # Found by a search at once, though indexed once a second.
                found = await history.search("lobby", f"{n}", 5)
                self.assertEqual([e.text for e in found], [f"message {n}"])

    def test_index_updated_once_a_second(self) -> None:
        """
        The full-text index is brought up to date by at most one commit a
        second, not by every one: FTS5's cost is per transaction.
        """
        path = self.mktemp()
        clock = Clock()
        pool = SyncPool(path)
        history = History(pool, clock)
        history.startService()
        self.assertTrue(history.fts)

        def indexed() -> int:
            return int(pool.db.execute("SELECT upto FROM messages_indexed").fetchone()[0])

        for n in range(10):
            history.record(Message("lobby", "alice", f"message {n}"))
            clock.advance(0.1)
        self.assertEqual(indexed(), 1)
        clock.advance(1)
        history.record(Message("lobby", "alice", "later"))
        clock.advance(0.1)
        self.assertEqual(indexed(), 11)


class DatabaseThreadTests(TestCase):
    """
    The database thread itself: jobs in order, each in a transaction.
    """

    def setUp(self) -> None:
        self.thread = open_pool(str(Path(self.mktemp()).resolve()), reactor)
        self.addCleanup(self.thread.close)

    async def test_in_order_and_answered(self) -> None:
        """
        Jobs run in the order they were asked for, each committed before the
        next; their results come back in the reactor thread.
        """
        seen: list[int] = []

        def note(cursor: object, n: int) -> int:
            seen.append(n)
            return n * 2

        for n in range(10):
            self.thread.submit(note, n, failed=self.fail)
        self.assertEqual(await self.thread.runInteraction(note, 10), 20)
        self.assertEqual(seen, list(range(11)))

    async def test_failure_rolled_back_and_told(self) -> None:
        """
        A job that raises is rolled back; a submitted one's failure goes to
        its C{failed}, in the reactor thread, and the thread goes on.
        """
        told: list[Failure] = []
        main = threading.current_thread()

        def insert_then_fail(cursor: database.Cursor) -> None:
            database.write(cursor, [(1.0, database.PUBLIC, "lobby", "alice", None, "lost")])
            raise sqlite3.OperationalError("database or disk is full")

        def failed(failure: Failure) -> None:
            self.assertIs(threading.current_thread(), main)
            told.append(failure)

        self.thread.submit(insert_then_fail, failed=failed)
        stored = await self.thread.runInteraction(database.recent, "lobby", 10)
        self.assertEqual(stored, [])
        self.assertEqual(len(told), 1)
        self.assertTrue(told[0].check(sqlite3.OperationalError))
        with self.assertRaises(sqlite3.OperationalError):
            await self.thread.runInteraction(insert_then_fail)


class CommandTests(SynchronousTestCase):
    """
    History as a user of the line protocol sees it.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pool = SyncPool(self.mktemp())
        self.history = History(self.pool, self.clock)
        self.service = new_service(self.clock, Settings(history_lines=3), history=self.history)

    def test_history_on_entering(self) -> None:
        """
        A user entering a room sees its last messages, marked with their time,
        before anything new.
        """
        alice = Client(self.service, "alice")
        for text in ["one", "two", "three", "four"]:
            alice.send(text)
        alice.send("/me waves")
        bob = Client(self.service)
        bob.lines()
        bob.send("bob")
        self.assertEqual(
            bob.lines()[-6:],
            [
                "*** You are in lobby. 2 users here: alice, bob",
                "*** Recent messages in lobby:",
                "[2026-11-19 07:06] <alice> three",
                "[2026-11-19 07:06] <alice> four",
                "[2026-11-19 07:06] * alice waves",
                "*** End of history.",
            ],
        )

    def test_no_history_no_block(self) -> None:
        """
        Entering a room with no messages shows no history block.
        """
        alice = Client(self.service)
        alice.lines()
        alice.send("alice")
        self.assertEqual(alice.lines()[-1], "*** You are in lobby. 1 user here: alice")

    def test_live_lines_wait_for_history(self) -> None:
        """
        Lines that arrive while history is being read are shown after it, in order.
        """
        alice = Client(self.service, "alice")
        alice.send("old news")
        self.pool.hold = True
        bob = Client(self.service)
        bob.lines()
        bob.send("bob")
        alice.send("new news")
        self.assertEqual(bob.lines()[-1], "*** You are in lobby. 2 users here: alice, bob")
        self.pool.release()
        self.assertEqual(
            bob.lines(),
            [
                "*** Recent messages in lobby:",
                "[2026-11-19 07:06] <alice> old news",
                "*** End of history.",
                "<alice> new news",
            ],
        )

    def test_hanging_up_while_history_is_read(self) -> None:
        """
        A client that hangs up while the history shown on entering is read
        leaves nothing behind: neither the read nor the live lines held for
        it (the session and its connection refer to each other, and would
        keep them until a full garbage collection); the history that comes
        later goes nowhere.
        """
        alice = Client(self.service, "alice")
        alice.send("old news")
        self.pool.hold = True
        bob = Client(self.service)
        bob.send("bob")
        alice.send(*[f"news {n}" for n in range(50)])
        bob.lines()
        session, connection = bob.connection.session, bob.connection
        bob.hang_up()
        self.assertEqual([session._reads, session._turn, connection._held], [None, None, None])
        self.pool.release()
        self.assertEqual(bob.lines(), [])
        self.assertEqual(alice.lines()[-1], "*** bob has left (connection closed)")

    def test_half_close_waits_for_history(self) -> None:
        """
        A script that half-closes while the history shown on entering rooms is
        still being read gets every line it sent handled and answered, that
        history included, in order, before the goodbye.
        """
        # With accounts, the nickname is checked in the database first: the
        # lines after it wait, and are handled after that answer.
        accounts = Accounts(self.pool, self.clock, maybeDeferred, cost=2**4)
        service = new_service(
            self.clock, Settings(history_lines=3), history=self.history, accounts=accounts
        )
        zed = Client(service, "zed")
        zed.send("old news")
        zed.lines()
        self.pool.hold = True
        script = Client(service)
        script.lines()
        script.paste("halfclose", "/join ops2", "hello ops2", "/msg zed hc")
        script.protocol.readConnectionLost()
        self.pool.release()  # the nickname: now the history of lobby and ops2 is read
        self.assertFalse(script.closed)
        self.pool.release()
        self.assertEqual(
            script.lines(),
            [
                "*** You are halfclose. 2 users online: halfclose, zed",
                "*** Type /help for the list of commands.",
                "*** You are in lobby. 2 users here: halfclose, zed",
                "*** Recent messages in lobby:",
                "[2026-11-19 07:06] <zed> old news",
                "*** End of history.",
                "*** You are in ops2. 1 user here: halfclose (room operator)",
                "-> *zed* hc",
                "*** Goodbye.",
            ],
        )
        self.assertTrue(script.closed)
        self.assertEqual(
            zed.lines(),
            ["*** halfclose has joined", "*** halfclose has gone to ops2", "*halfclose* hc"],
        )

    def test_quit_waits_for_history(self) -> None:
        """
        /quit sent while the history shown on entering is read ends the
        connection once that history, and the answers held behind it, are
        shown; what is sent after /quit is not taken.
        """
        zed = Client(self.service, "zed")
        zed.send("old news")
        zed.lines()
        self.pool.hold = True
        bot = Client(self.service)
        bot.lines()
        bot.paste("bot", "/msg zed done", "/quit finished", "after quit")
        self.assertFalse(bot.closed)
        self.pool.release()
        self.assertEqual(
            bot.lines()[-6:],
            [
                "*** You are in lobby. 2 users here: bot, zed",
                "*** Recent messages in lobby:",
                "[2026-11-19 07:06] <zed> old news",
                "*** End of history.",
                "-> *zed* done",
                "*** Goodbye.",
            ],
        )
        self.assertTrue(bot.closed)
        self.assertEqual(
            zed.lines(), ["*** bot has joined", "*bot* done", "*** bot has left (finished)"]
        )

    def test_histories_shown_in_turn(self) -> None:
        """
        A room entered while the last one's history is still read shows its
        own history after that one, and after the line saying it was entered.
        """
        amy = Client(self.service, "amy")
        amy.send("lobby news", "/join ops2", "ops2 news")
        self.pool.hold = True
        bob = Client(self.service)
        bob.lines()
        bob.paste("bob", "/join ops2")
        self.pool.release()
        self.assertEqual(
            [line.split("] ", 1)[-1] for line in bob.lines()[2:]],
            [
                "*** You are in lobby. 1 user here: bob",
                "*** Recent messages in lobby:",
                "<amy> lobby news",
                "*** End of history.",
                "*** You are in ops2. 2 users here: amy (room operator), bob",
                "*** Recent messages in ops2:",
                "<amy> ops2 news",
                "*** End of history.",
            ],
        )

    def test_history_right_after_login_waits_its_turn(self) -> None:
        """
        /history and /search sent right behind the nickname, while the
        history shown on entering is read, are not refused: each waits for the
        read before it, then is answered, in order.
        """
        alice = Client(self.service, "alice")
        alice.send("chess at eight", "tea at five")
        self.pool.hold = True
        bob = Client(self.service)
        bob.lines()
        bob.paste("bob", "/history 1", "/search chess", "hello")
        self.assertEqual(bob.lines()[-1], "*** You are in lobby. 2 users here: alice, bob")
        while self.pool.waiting:
            self.pool.release()
        self.assertEqual(
            [line.split("] ", 1)[-1] for line in bob.lines()],
            [
                "*** Recent messages in lobby:",
                "<alice> chess at eight",
                "<alice> tea at five",
                "*** End of history.",
                "*** Last 1 message in lobby:",
                "<alice> tea at five",
                "*** End of history.",
                "*** Messages in lobby matching 'chess':",
                "<alice> chess at eight",
                "*** End of history.",
            ],
        )
        self.assertEqual(alice.lines()[-1], "<bob> hello")

    def test_history_command(self) -> None:
        """
        /history shows more of the room's past; /history N exactly N; bad N is a usage error.
        """
        alice = Client(self.service, "alice")
        for n in range(6):
            alice.send(f"m{n}")
        alice.lines()
        alice.send("/history 50")
        self.assertEqual(alice.lines()[0], "*** Last 6 messages in lobby:")  # all there are
        alice.send("/history 2")
        self.assertEqual(
            alice.lines(),
            [
                "*** Last 2 messages in lobby:",
                "[2026-11-19 07:06] <alice> m4",
                "[2026-11-19 07:06] <alice> m5",
                "*** End of history.",
            ],
        )
        alice.send("/history")
        self.assertEqual(len(alice.lines()), 8)

    def test_one_message(self) -> None:
        """
        /history 1 says it shows the last message, not "1 messages".
        """
        alice = Client(self.service, "alice")
        alice.send("only this", "/history 1")
        self.assertEqual(alice.lines()[0], "*** Last 1 message in lobby:")
        alice.send("/history x", "/history 1_0", "/history ٣", "/history 0", "/history 501")
        self.assertEqual(
            alice.lines(),
            [
                # A nickname: your conversation with x, kept for registered nicknames only.
                "!!! Conversations are kept for registered nicknames: /register PASSWORD to keep "
                "yours.",
                "!!! Usage: /history [NICK] [N]",
                "!!! Usage: /history [NICK] [N]",
                "!!! Usage: /history [NICK] [N], with N from 1 to 500",
                "!!! Usage: /history [NICK] [N], with N from 1 to 500",
            ],
        )

    def test_history_of_empty_room(self) -> None:
        """
        /history in a room with no messages says so.
        """
        alice = Client(self.service, "alice")
        alice.send("/join quiet", "/history")
        self.assertEqual(alice.lines()[-1], "*** No messages in quiet yet.")

    def test_search(self) -> None:
        """
        /search finds the room's messages with the words given, and says when there are none.
        """
        alice = Client(self.service, "alice")
        alice.send("chess at eight", "tea at five")
        alice.lines()
        alice.send("/search chess", "/search golf", "/search")
        self.assertEqual(
            alice.lines(),
            [
                "*** Messages in lobby matching 'chess':",
                "[2026-11-19 07:06] <alice> chess at eight",
                "*** End of history.",
                "*** No messages in lobby match 'golf'.",
                "!!! Usage: /search TEXT",
            ],
        )

    def test_history_failure(self) -> None:
        """
        A failed read is an error line; live lines held meanwhile are then shown.
        """
        alice = Client(self.service, "alice")
        bob = Client(self.service, "bob")
        self.pool.fail_next = True
        bob.send("/history")
        self.assertEqual(bob.lines(), ["!!! History is unavailable right now."])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        alice.send("still here")
        self.assertEqual(bob.lines(), ["<alice> still here"])

    def test_without_history(self) -> None:
        """
        On a server that keeps no history, the history commands say so.
        """
        service = new_service(self.clock)
        alice = Client(service, "alice")
        alice.send("/history", "/search x")
        self.assertEqual(alice.lines(), ["!!! This server keeps no history."] * 2)

    def test_messages_recorded(self) -> None:
        """
        Public messages, actions and private messages said through the protocol are stored.
        """
        alice = Client(self.service, "alice")
        Client(self.service, "bob")
        alice.send("hi", "/me waves", "/msg bob psst")
        self.history.flush()
        self.assertEqual(
            rows(self.pool.db),
            [
                (T0, PUBLIC, "lobby", "alice", None, "hi"),
                (T0, ACTION, "lobby", "alice", None, "waves"),
                (T0, PRIVATE, None, "alice", "bob", "psst"),
            ],
        )


class ExportTests(SynchronousTestCase):
    """
    python -m chat.transcript
    """

    def setUp(self) -> None:
        self.path = self.mktemp()
        db = database.connect(self.path)
        database.write(
            db.cursor(),
            [
                (T0, PUBLIC, "lobby", "alice", None, "hello"),
                (T0 + 60, ACTION, "lobby", "bob", None, "waves"),
                (T0 + 120, PRIVATE, None, "alice", "bob", "secret"),
                (T0 + 86400, PUBLIC, "games", "carol", None, "next day"),
            ],
        )
        db.commit()
        db.close()
        self.stderr = io.StringIO()
        self.patch(sys, "stderr", self.stderr)

    def run_export(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        code = transcript.main(["--db", self.path, *argv], out)
        return code, out.getvalue()

    def test_reader_goes_away(self) -> None:
        """
        Piped into a reader that stops early (| head), the exporter ends
        quietly, status 0, with no traceback.
        """
        import subprocess

        db = database.connect(self.path)
        database.write(
            db.cursor(), [(T0 + n, PUBLIC, "lobby", "alice", None, "x" * 60) for n in range(5000)]
        )
        db.commit()
        db.close()
        export = subprocess.Popen(
            [sys.executable, "-m", "chat.transcript", "--db", self.path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert export.stdout is not None and export.stderr is not None
        self.assertTrue(export.stdout.readline().startswith(b"2026-11-19 07:06:40 [lobby]"))
        export.stdout.close()
        self.assertEqual(export.wait(30), 0)
        self.assertEqual(export.stderr.read(), b"")

    def test_everything(self) -> None:
        """
        Without options, every room's public messages, oldest first; no private ones.
        """
        self.assertEqual(
            self.run_export(),
            (
                0,
                "2026-11-19 07:06:40 [lobby] <alice> hello\n"
                "2026-11-19 07:07:40 [lobby] * bob waves\n"
                "2026-11-20 07:06:40 [games] <carol> next day\n",
            ),
        )

    def test_room_and_since(self) -> None:
        """
        --room picks one room; --since a UTC date or time.
        """
        self.assertEqual(
            self.run_export("--room", "LOBBY", "--since", "2026-11-19T07:07"),
            (0, "2026-11-19 07:07:40 [lobby] * bob waves\n"),
        )
        self.assertEqual(self.run_export("--since", "2026-11-20")[1].count("\n"), 1)

    def test_no_such_room(self) -> None:
        """
        A --room nothing was ever said in is one line saying there is no such
        room, status 1; a room there is, with nothing since --since, is an
        empty transcript.
        """
        import subprocess

        export = subprocess.run(
            [sys.executable, "-m", "chat.transcript", "--db", self.path, "--room", "nosuchroom"],
            capture_output=True,
            timeout=30,
        )
        self.assertEqual(
            (export.returncode, export.stdout, export.stderr),
            (1, b"", b"chat.transcript: no such room: nosuchroom (nothing was ever said there)\n"),
        )
        self.assertEqual(self.run_export("--room", "games", "--since", "2027-01-01"), (0, ""))

    def test_bad_since(self) -> None:
        """
        A --since that is not a date is a usage error.
        """
        with self.assertRaises(SystemExit):
            self.run_export("--since", "yesterday")
        self.assertIn("not a date", self.stderr.getvalue())

    def test_missing_database(self) -> None:
        """
        A database that does not exist is one line on stderr and status 1, and is not created.
        """
        code = transcript.main(["--db", "nonexistent.sqlite3"], io.StringIO())
        self.assertEqual(code, 1)
        self.assertIn("no such database", self.stderr.getvalue())
        self.assertFalse(Path("nonexistent.sqlite3").exists())

    def test_not_a_chat_database(self) -> None:
        """
        A file that is not a chat database is refused in one line.
        """
        other = self.mktemp()
        sqlite3.connect(other).close()
        self.assertEqual(transcript.main(["--db", other], io.StringIO()), 1)
        self.assertIn("not a chat database", self.stderr.getvalue())
        junk = self.mktemp()
        Path(junk).write_bytes(b"this is not sqlite" * 100)
        self.assertEqual(transcript.main(["--db", junk], io.StringIO()), 1)
        self.assertIn("cannot read", self.stderr.getvalue())


class HostileSearchTests(SynchronousTestCase):
    """
    A search cannot hold the database, nor another user's writes, nor a
    joining user's live lines.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.path = self.mktemp()
        self.writer = SyncPool(self.path)
        with self.writer.db:
            database.write(
                self.writer.db.cursor(),
                [(float(n), PUBLIC, "lobby", "bot", None, f"filler {n}") for n in range(20_000)],
            )

    def serve(self, history: History) -> tuple[ChatService, Client]:
        history.startService()
        service = new_service(self.clock, history=history)
        return service, Client(service, "alice")

    def test_words_bounded(self) -> None:
        """
        A search for more than eight words is refused before it reaches the database.
        """
        _, alice = self.serve(History(self.writer, self.clock))
        alice.lines()
        alice.send("/search " + " ".join(f"w{n}" for n in range(9)))
        self.assertEqual(alice.lines(), ["!!! Search for at most 8 words."])

    def test_time_budget(self) -> None:
        """
        A search still running past its time budget is stopped, and the user told.
        """
        _, alice = self.serve(History(self.writer, self.clock, search_budget=0.0))
        alice.lines()
        alice.send("/search filler")
        self.assertEqual(
            alice.lines(),
            ["!!! That search took too long and was stopped; try fewer or longer words."],
        )
        alice.send("hello")
        self.assertFalse(alice.closed)

    def test_one_at_a_time_and_writes_go_on(self) -> None:
        """
        While one user's search waits on the read connection: a second read
        from the same user waits its turn (it is not asked of the database
        until the first is shown), others' messages are written (writes never
        wait behind reads), and the search, when done, finds what was said
        before it was asked for.
        """
        reader = SyncPool(self.path, hold=True)
        history = History(self.writer, self.clock, reader=reader)
        service, alice = self.serve(history)
        bob = Client(service, "bob")
        # The history each is shown on entering the room.
        reader.release()
        bob.send("needle before")
        self.clock.advance(1)
        alice.lines()
        alice.send("/search needle", "/history 5")
        self.assertEqual(alice.lines(), [])
        self.assertEqual(len(reader.waiting), 1)
        bob.send("needle after")
        self.clock.advance(1)
        count = self.writer.db.execute(
            "SELECT count(*) FROM messages WHERE text LIKE 'needle%'"
        ).fetchone()[0]
        self.assertEqual(count, 2)
        reader.release()
        lines = alice.lines()
        self.assertIn("<bob> needle after", lines)
        found = [line for line in lines if line.startswith("[")]
        self.assertEqual([line.split("> ")[1] for line in found], ["needle before"])
        # Then the /history that waited its turn is read.
        self.assertEqual(len(reader.waiting), 1)
        reader.release()
        self.assertEqual(alice.lines()[0], "*** Last 5 messages in lobby:")

    def test_live_lines_are_not_held_without_bound(self) -> None:
        """
        A joining user whose history is slow to come gets the room's live
        lines once a thousand are waiting, rather than hear nothing.
        """
        reader = SyncPool(self.path, hold=True)
        service, _ = self.serve(History(self.writer, self.clock, reader=reader))
        talker = Client(service, "talker")
        late = Client(service)
        late.send("late")
        for n in range(1001):
            talker.send(f"live {n}")
        self.assertIn("<talker> live 0", late.lines())
        reader.release()


class FileWatchTests(SynchronousTestCase):
    def test_deleted_database_is_noticed(self) -> None:
        """
        A database file deleted (here: moved away) while the server runs is
        noticed within ten seconds and logged once, critically; its return too.
        """
        from chat.store.watch import FileWatch

        observer = EventLoggingObserver()
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        path = Path(self.mktemp()).resolve()
        clock = Clock()
        watch = FileWatch(SyncPool(str(path)), clock)
        watch.startService()
        self.addCleanup(watch.stopService)
        clock.advance(10)
        self.assertFalse([e for e in observer if e["log_level"].name == "critical"])
        path.rename(path.with_suffix(".moved"))
        clock.advance(10)
        clock.advance(10)
        critical = [formatEvent(e) for e in observer if e["log_level"].name == "critical"]
        self.assertEqual(len(critical), 1)
        self.assertIn(f"The database file {path} has been deleted or replaced", critical[0])
        path.with_suffix(".moved").rename(path)
        clock.advance(10)
        self.assertIn(f"The database file {path} is back", [formatEvent(e) for e in observer])


HELD_SEARCHES = """
import os, time
from chat.store import database
_search = database.search
def held_search(*args, **kwargs):
    # A search that takes as long as the test wants: until ./release exists.
    open("searching", "w").close()
    while not os.path.exists("release"):
        time.sleep(0.01)
    return _search(*args, **kwargs)
database.search = held_search
"""


class SearchLaneTests(TestCase):
    async def test_history_on_entering_does_not_wait_for_searches(self) -> None:
        """
        While searches hold the database, a newcomer is shown the lobby's
        history, and then its live lines, at once; the searches are answered
        when done.
        """
        workdir = Path(self.mktemp()).resolve()
        workdir.mkdir()
        process, port = await start_twistd(workdir, prelude=HELD_SEARCHES)
        self.addCleanup(process.stop)
        self.addCleanup((workdir / "release").touch)
        talker = await in_lobby(port, "talker")
        talker.send("chess tonight")
        searchers = [await in_lobby(port, f"searcher{n}") for n in range(3)]
        for searcher in searchers:
            searcher.send("/search chess")
        while not (workdir / "searching").exists():
            await deferLater(reactor, 0.01, lambda: None)
        newcomer = await connect_raw(port)
        newcomer.send("newcomer")
        await newcomer.wait_line("*** End of history.").addTimeout(10, reactor)
        self.assertTrue(newcomer.lines[-2].endswith("] <talker> chess tonight"), newcomer.lines)
        talker.send("live")
        await newcomer.wait_line("<talker> live")
        (workdir / "release").touch()
        for searcher in searchers:
            await searcher.wait_for(lambda line: line.endswith("] <talker> chess tonight"))
