"""
The cluster's history: each message written once to a real PostgreSQL, by
whichever node the archive's consumer group hands it to, whatever happens
to the nodes and the database meanwhile.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import psycopg
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat.cluster import redis
from chat.cluster.archive import GROUP, LINGER, Archive, _message, place
from chat.cluster.chat import ClusterChat
from chat.cluster.log import Log, Settings, entry_of
from chat.core.events import Message, Meta, PrivateMessage
from chat.store import postgres
from chat.store.history import History
from chat.store.pg import PostgresPool
from tests.cluster.brokers import Broker
from tests.cluster.test_chat import Person
from tests.cluster.test_log import until
from tests.live import reactor
from tests.pg import SERVER, fresh_database, url_of


class Archived(TestCase):
    """
    Nodes on a Redis of the test's own, sharing a PostgreSQL database.
    """

    timeout = 60

    def setUp(self) -> None:
        self.broker = Broker(self)
        self.conninfo = fresh_database(self)
        self.name = psycopg.conninfo.conninfo_to_dict(self.conninfo)["dbname"]
        postgres.connect(self.conninfo).close()  # its schema

    async def node(
        self, name: str, claim_after: float = 5.0, linger: float = LINGER, **settings: Any
    ) -> tuple[ClusterChat, History]:
        chat = ClusterChat(name, permanent_rooms=("lobby",))
        journal = Log(
            reactor,
            self.broker.address,
            name,
            chat.apply,
            chat.fenced,
            chat.gap,
            Settings(**settings),
        )
        pool = PostgresPool(url_of(self.conninfo), reactor)
        history = History(pool, reactor)
        archive = Archive(
            reactor,
            self.broker.address,
            name,
            history.keep_now,
            chat,
            claim_after=claim_after,
            retry=0.2,
            linger=linger,
        )
        history.waits_for = archive.caught_up
        history.placing = archive.place_now
        await chat.start(journal, reactor)
        await archive.start()
        self.addCleanup(pool.close)
        self.addCleanup(archive.stop)
        self.addCleanup(chat.stop)
        self.archives = [*getattr(self, "archives", []), archive]
        return chat, history

    def stored(self) -> list[tuple[str, int]]:
        """
        Each message id in the database, and how many times it is there.
        """
        with psycopg.connect(self.conninfo) as connection:
            rows = connection.execute(
                "SELECT msgid, count(*) FROM messages GROUP BY msgid ORDER BY msgid"
            ).fetchall()
        return [(str(msgid), int(count)) for msgid, count in rows]

    async def test_written_once(self) -> None:
        """
        Three nodes, a speaker on each saying 100 messages in the lobby and
        10 privately: every message is in the database exactly once, the
        archive's work shared among the nodes (what each wrote adds up).
        """
        nodes = [await self.node(name) for name in ("a", "b", "c")]
        people = [Person() for _ in nodes]
        users = [
            await chat.login(f"user{n}", person)
            for n, ((chat, _), person) in enumerate(zip(nodes, people, strict=True))
        ]
        for (chat, _), user in zip(nodes, users, strict=True):
            await chat.join(user, "lobby")
        said: list[str] = []
        for n in range(100):
            for i, ((chat, _), user) in enumerate(zip(nodes, users, strict=True)):
                message = chat.say(user, "lobby", f"{i}:{n}")
                assert message is not None and message.meta is not None
                said.append(message.meta.msgid)
                if n % 10 == 0:
                    private = chat.whisper(user, f"user{(i + 1) % 3}", f"psst {n}")
                    assert private is not None and private.meta is not None
                    said.append(private.meta.msgid)
        await until(lambda: all(len(person.said()) == 200 for person in people))
        _, history = nodes[2]
        recent = await history.recent("lobby", 500)
        self.assertEqual(len(recent), 300)
        self.assertEqual(sorted(self.stored()), sorted((msgid, 1) for msgid in said))
        self.assertEqual(sum(archive.written for archive in self.archives), len(said))

    async def test_read_after_seen(self) -> None:
        """
        The moment a listener on one node hears a message said on another,
        the history read on its node has it, and every message before it,
        and none after (heard live after the history): the read waits for
        the archive, and reads up to the listener's place in the log.
        """
        (a, _), (b, history) = await self.node("a"), await self.node("b")
        speaker, heard = Person(), []
        user = await a.login("speaker", speaker)
        await a.join(user, "lobby")

        class Listener(Person):
            def receive(self, event: Any) -> None:
                super().receive(event)
                if isinstance(event, Message):
                    heard.append(history.recent("lobby", 50))

        listener = await b.login("listener", Listener())
        await b.join(listener, "lobby")
        for n in range(20):
            a.say(user, "lobby", f"line {n}")
            await deferLater(reactor, 0.001, lambda: None)
        await until(lambda: len(heard) == 20)
        for n, reading in enumerate(heard):
            # What it had heard, none missing, and nothing it hears after.
            texts = [entry.text for entry in await reading]
            self.assertEqual(texts, [f"line {k}" for k in range(n + 1)])

    async def test_paced_gathered(self) -> None:
        """
        Messages a few milliseconds apart are written a batch at a time,
        not one transaction each: after a share smaller than a batch, the
        archive lets the next gather for a moment.
        """
        chat, _ = await self.node("a")
        (archive,) = self.archives
        writes: list[int] = []
        keep = archive.keep

        def counted(messages: Any, places: Any) -> Any:
            writes.append(len(messages))
            return keep(messages, places)

        archive.keep = counted
        user = await chat.login("speaker", Person())
        await chat.join(user, "lobby")
        for n in range(40):
            chat.say(user, "lobby", f"line {n}")
            await deferLater(reactor, 0.005, lambda: None)
        await until(lambda: sum(writes) == 40)
        # 40 messages over 0.2 s or more: one write, then one at most every 50 ms.
        self.assertLessEqual(len(writes), 8, writes)
        self.assertEqual(len(self.stored()), 40)

    async def test_read_not_kept_waiting(self) -> None:
        """
        A read of history cuts the archive's pause short: what was said
        just before is there at once, however long entries may gather.
        """
        (a, _), (b, history) = await self.node("a", linger=30), await self.node("b", linger=30)
        user = await a.login("speaker", Person())
        await a.join(user, "lobby")
        listener = Person()
        await b.join(await b.login("listener", listener), "lobby")
        for n in range(1, 6):
            a.say(user, "lobby", f"line {n - 1}")
            await until(partial(lambda count: len(listener.said()) == count, n))
            started = reactor.seconds()
            texts = [entry.text for entry in await history.recent("lobby", 50)]
            self.assertEqual(texts, [f"line {k}" for k in range(n)])
            self.assertLess(reactor.seconds() - started, 2)

    async def test_archiver_lost(self) -> None:
        """
        Nodes handed entries by the archive and lost before acknowledging
        them (one lost before writing, one after its write was committed):
        a node takes them over once they have waited long enough, and each
        message is kept once.
        """
        chat = ClusterChat("a", permanent_rooms=("lobby",))
        journal = Log(reactor, self.broker.address, "a", chat.apply, chat.fenced, chat.gap)
        await chat.start(journal, reactor)
        self.addCleanup(chat.stop)
        user = await chat.login("speaker", Person())
        await chat.join(user, "lobby")
        listener = Person()
        await chat.join(await chat.login("listener", listener), "lobby")
        said = [chat.say(user, "lobby", f"line {n}") for n in range(40)]
        msgids = sorted(m.meta.msgid for m in said if m is not None and m.meta is not None)
        await until(lambda: len(listener.said()) == 40)
        connection = await redis.connect(reactor, self.broker.address)
        self.addCleanup(connection.disconnect)
        await connection.execute_command("XGROUP", "CREATE", "chat:log", GROUP, "0")
        writer = PostgresPool(url_of(self.conninfo), reactor)
        self.addCleanup(writer.close)
        history = History(writer, reactor)
        for ghost, count in (("ghost1", 25), ("ghost2", 1000)):
            reply = await connection.execute_command(
                "XREADGROUP", "GROUP", GROUP, ghost, "COUNT", count, "STREAMS", "chat:log", ">"
            )
            if ghost == "ghost1":
                entries = [entry_of(raw) for raw in reply[0][1]]
                handed = [(m, place(e.id)) for e in entries if (m := _message(e)) is not None]
                self.assertGreater(len(handed), 10)
                await history.keep_now([m for m, _ in handed], [p for _, p in handed])
        self.assertEqual(len(self.stored()), len(handed))
        pending = await connection.execute_command("XPENDING", "chat:log", GROUP)
        self.assertGreater(int(pending[0]), 40)
        survivor = Archive(
            reactor,
            self.broker.address,
            "a",
            history.keep_now,
            chat,
            claim_after=0.5,
        )
        await survivor.start()
        self.addCleanup(survivor.stop)
        await until(lambda: len(self.stored()) == 40, timeout=15)

        async def acknowledged() -> int:
            pending = await connection.execute_command("XPENDING", "chat:log", GROUP)
            return int(pending[0])

        for _ in range(100):
            if await acknowledged() == 0:
                break
            await deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(await acknowledged(), 0)
        self.assertEqual(self.stored(), [(msgid, 1) for msgid in msgids])
        self.assertEqual(survivor.written, 40)

    async def test_database_restarts(self) -> None:
        """
        The database goes away in the middle of a batch (its transaction
        cut off while it waits for a lock), and refuses connections for a
        while: nothing said meanwhile is lost, and each is kept once.
        """
        (a, _), _ = await self.node("a"), await self.node("b")
        user = await a.login("speaker", Person())
        await a.join(user, "lobby")
        msgids = []
        # A batch caught mid-way: its INSERT waits for a lock, then its
        # connection is cut.
        locked, release = threading.Event(), threading.Event()

        def hold() -> None:
            with psycopg.connect(self.conninfo) as holder:
                holder.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(20)

        holding = threading.Thread(target=hold)
        holding.start()
        self.addCleanup(holding.join)
        self.addCleanup(release.set)
        locked.wait(10)
        for n in range(30):
            message = a.say(user, "lobby", f"before {n}")
            assert message is not None and message.meta is not None
            msgids.append(message.meta.msgid)
        await until(lambda: self.waiting_for_lock() > 0)
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS false")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
                (self.name,),
            )
        release.set()
        for n in range(30):
            message = a.say(user, "lobby", f"while down {n}")
            assert message is not None and message.meta is not None
            msgids.append(message.meta.msgid)
        await deferLater(reactor, 1.0, lambda: None)
        with psycopg.connect(SERVER, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true")
        await until(lambda: len(self.stored()) == 60, timeout=20)
        self.assertEqual(sorted(self.stored()), sorted((msgid, 1) for msgid in msgids))

    def texts(self) -> list[str]:
        """
        The messages' texts in the database, in history's order.
        """
        with psycopg.connect(self.conninfo) as connection:
            rows = connection.execute("SELECT text FROM messages ORDER BY id").fetchall()
        return [str(text) for (text,) in rows]

    async def test_unheard_not_kept(self) -> None:
        """
        A message its sender's node made, but that reached nobody (its
        sender had left the room by the time the log applied it): no node
        shows it, and the history does not keep it.
        """
        (a, _), (b, _) = await self.node("a"), await self.node("b")
        speaker = await a.login("speaker", Person())
        await a.join(speaker, "lobby")
        await a.join(speaker, "den")
        listener = Person()
        await b.join(await b.login("listener", listener), "den")
        await until(lambda: any("speaker" in str(e) for e in listener.events))
        a.say(speaker, "den", "heard")
        a.part(speaker, "den")
        # Made before the part was applied, applied after it.
        a.say(speaker, "den", "unheard")
        a.say(speaker, "lobby", "after")
        await until(lambda: "after" in self.texts())
        await deferLater(reactor, 0.3, lambda: None)
        self.assertEqual(listener.said(), [("speaker", "heard")])
        self.assertEqual(self.texts(), ["heard", "after"])

    async def test_kept_for_an_absent_user_placed(self) -> None:
        """
        A private message kept for an absent user (not in the log) is
        written at once, after what was said before it, in history's order.
        """
        a, history = await self.node("a")
        user = await a.login("speaker", Person())
        await a.join(user, "lobby")
        a.say(user, "lobby", "before")
        await until(lambda: self.texts() == ["before"])
        history.record(
            PrivateMessage(
                "speaker", "absent", "kept", meta=Meta("", None), recipient_account="absent"
            )
        )
        await until(lambda: len(self.texts()) == 2)
        a.say(user, "lobby", "later")
        await until(lambda: len(self.texts()) == 3)
        self.assertEqual(self.texts(), ["before", "kept", "later"])

    async def test_read_while_redis_is_away(self) -> None:
        """
        With Redis away, a read of history waits no longer than the
        archive's wait (2 s), then shows what is written.
        """
        a, history = await self.node("a")
        user = await a.login("speaker", Person())
        await a.join(user, "lobby")
        a.say(user, "lobby", "kept")
        await until(lambda: self.texts() == ["kept"])
        self.broker.kill()
        started = reactor.seconds()
        read = await history.recent("lobby", 5)
        self.assertLess(reactor.seconds() - started, 3.0)
        self.assertEqual([entry.text for entry in read], ["kept"])
        self.broker.start()

    async def test_trimmed_before_handed_out(self) -> None:
        """
        The database away while more entries come than the log keeps: those
        trimmed before the archive was handed them are lost to the history,
        and said to be (counted, logged), never silently; what the log still
        holds is written once it is back.
        """
        a, _ = await self.node("a", claim_after=0.5, maxlen=200)
        archive = self.archives[0]
        failing = [True]
        keep = archive.keep

        def flaky(events: Any, places: Any) -> Any:
            if failing[0]:
                return fail(RuntimeError("the database is away"))
            return keep(events, places)

        archive.keep = flaky
        user = await a.login("speaker", Person())
        await a.join(user, "lobby")
        for n in range(1500):
            a.say(user, "lobby", f"line {n}")
            if n % 20 == 0:
                # The node's own reading keeps up; the archive's is stuck.
                await deferLater(reactor, 0.005, lambda: None)
        # All in the log (the node has applied the last), none written.
        await until(lambda: a.journal is not None and a.journal.waiting == 0)
        await deferLater(reactor, 0.5, lambda: None)
        self.assertEqual(self.texts(), [])
        failing[0] = False
        await until(lambda: archive.lost > 0, 10)
        await until(lambda: "line 1499" in self.texts(), 10)
        texts = self.texts()
        self.assertLess(len(texts), 1500)
        # What was written is the end of what was said, in order, once.
        first = int(texts[0].split()[1])
        self.assertEqual(texts, [f"line {n}" for n in range(first, 1500)])

    def waiting_for_lock(self) -> int:
        with psycopg.connect(SERVER, autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND wait_event_type = 'Lock'",
                (self.name,),
            ).fetchone()
        assert row is not None
        return int(row[0])


class GatherTests(SynchronousTestCase):
    """
    The archive's pause between reads (L{LINGER}), on a clock the test
    moves, with Redis and the database stood in for.
    """

    def setUp(self) -> None:
        self.clock = Clock()

        class Replica:
            position = "5-0"

            def dropped(self, entry_id: str) -> bool:
                return False

        self.archive = Archive(self.clock, redis.Address("localhost", 1, 0), "a", None, Replica())  # type: ignore[arg-type]
        self.fetches: list[float] = []
        self.writing: Deferred[None] = Deferred()
        self.asked: list[Deferred[None]] = []

        async def fetch(after: str, block: bool) -> list[Any]:
            self.fetches.append(self.clock.seconds())
            if after == "0":
                return []  # nothing left from an earlier life
            if len(self.fetches) == 2:
                return [["1-0", []]]  # a share of one entry
            return await Deferred()  # a blocking read: nothing comes

        async def archive(raw: list[Any]) -> bool:
            await self.writing
            return True

        async def caught_up(position: str) -> None:
            asked: Deferred[None] = Deferred()
            self.asked.append(asked)
            await asked

        self.archive._fetch = fetch  # type: ignore[method-assign]
        self.archive._archive = archive  # type: ignore[method-assign]
        self.archive._caught_up = caught_up  # type: ignore[method-assign]
        self.archive._running = True
        Deferred.fromCoroutine(self.archive._read())

    def test_pauses(self) -> None:
        """
        After a share smaller than a batch, the next read waits LINGER.
        """
        self.writing.callback(None)
        self.assertEqual(self.fetches, [0.0, 0.0])
        self.clock.advance(LINGER * 0.9)
        self.assertEqual(len(self.fetches), 2)
        self.clock.advance(LINGER * 0.2)
        self.assertEqual(len(self.fetches), 3)

    def test_read_cuts_it_short(self) -> None:
        """
        A read of history during the pause ends it at once.
        """
        self.writing.callback(None)
        self.archive.caught_up()
        self.assertEqual(len(self.fetches), 3)

    def test_read_while_writing(self) -> None:
        """
        A read of history that comes while a share is being written: no
        pause after that share while the read waits (it is counted, and
        no longer once answered).
        """
        reading = self.archive.caught_up()
        self.writing.callback(None)
        self.assertEqual(len(self.fetches), 3)
        self.asked[0].callback(None)
        self.assertEqual(self.successResultOf(reading), place("5-0"))
        self.assertEqual(self.archive._readers, 0)
