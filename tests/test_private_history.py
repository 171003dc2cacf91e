"""
Private conversations have history, kept for accounts: C{/history NICK} on
the line, C{HISTORY NICK} on IRC, and nobody but the two who had the
conversation ever reads it, whoever holds their nicknames later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.events import EntryKind
from chat.core.service import Settings
from chat.store import database
from chat.store.accounts import Accounts
from chat.store.history import History
from tests.helpers import Client, IRCUser, SyncPool, new_service

T0 = 1_795_000_000.0
"""
2026-11-18 11:06:40 UTC.
"""

NEEDS_ACCOUNT = (
    "!!! Conversations are kept for registered nicknames: /register PASSWORD to keep yours."
)


class PrivateHistoryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pool = SyncPool(self.mktemp())
        accounts = Accounts(self.pool, self.clock, maybeDeferred, cost=2**4)
        self.service = new_service(
            self.clock, Settings(), history=History(self.pool, self.clock), accounts=accounts
        )

    def registered(self, nickname: str) -> Client:
        """
        A line user logged in to the account C{nickname} (password C{secret-NICK}).
        """
        client = Client(self.service, nickname)
        client.send(f"/register secret-{nickname}")
        client.lines()
        return client

    def test_your_conversation_with_nick(self) -> None:
        """
        /history NICK shows the user's conversation with NICK, what it sent
        as its confirmation read and what it received as it came, oldest
        first; /history NICK N the last N; nothing of anybody else's, and
        nothing said before it logged in to its account.
        """
        alice = Client(self.service, "alice")
        bob = self.registered("bob")
        carol = self.registered("carol")
        alice.send("/msg bob before registering")
        alice.send("/register secret-alice")
        alice.send("/msg bob lunch?")
        bob.send("/msg alice yes, at noon")
        carol.send("/msg alice hello", "/msg bob hi bob")
        self.clock.advance(60)
        alice.lines()
        alice.send("/history bob", "/history bob 1", "/history dave")
        self.assertEqual(
            alice.lines(),
            [
                "*** Last 2 messages with bob:",
                "[2026-11-18 11:06] -> *bob* lunch?",
                "[2026-11-18 11:06] *bob* yes, at noon",
                "*** End of history.",
                "*** Last 1 message with bob:",
                "[2026-11-18 11:06] *bob* yes, at noon",
                "*** End of history.",
                "*** No messages with dave yet.",
            ],
        )
        bob.lines()
        bob.send("/history ALICE")
        self.assertEqual(
            bob.lines(),
            [
                "*** Last 3 messages with ALICE:",
                "[2026-11-18 11:06] *alice* before registering",
                "[2026-11-18 11:06] *alice* lunch?",
                "[2026-11-18 11:06] -> *alice* yes, at noon",
                "*** End of history.",
            ],
        )

    def test_only_for_accounts(self) -> None:
        """
        A user logged in to no account is told to register to keep its
        conversations; one that is sees none of others'.
        """
        alice = self.registered("alice")
        bob = self.registered("bob")
        alice.send("/msg bob psst")
        guest = Client(self.service, "guest")
        guest.send("/history alice", "/history bob 5")
        self.assertEqual(guest.lines(), [NEEDS_ACCOUNT, NEEDS_ACCOUNT])
        carol = self.registered("carol")
        carol.send("/history alice", "/history bob")
        self.assertEqual(
            carol.lines(), ["*** No messages with alice yet.", "*** No messages with bob yet."]
        )
        bob.lines()

    def test_nickname_taken_after_its_owner_left(self) -> None:
        """
        mallory, taking bob's nickname after bob (who had no account) left,
        reads none of bob's conversation with alice: not under the nickname
        alone, nor once she registers it; alice still reads hers.
        """
        alice = self.registered("alice")
        bob = Client(self.service, "bob")
        alice.send("/msg bob the door code is 4711")
        bob.send("/msg alice thanks", "/quit")
        mallory = Client(self.service, "bob")
        mallory.send("/history alice")
        self.assertEqual(mallory.lines(), [NEEDS_ACCOUNT])
        mallory.send("/register secret-mallory", "/history alice")
        self.assertEqual(mallory.lines()[-1], "*** No messages with alice yet.")
        alice.lines()
        alice.send("/history bob")
        self.assertEqual(
            alice.lines(),
            [
                "*** Last 2 messages with bob:",
                "[2026-11-18 11:06] -> *bob* the door code is 4711",
                "[2026-11-18 11:06] *bob* thanks",
                "*** End of history.",
            ],
        )

    def test_account_given_up_then_registered_by_another(self) -> None:
        """
        bob, registered, gives his nickname up; mallory registers it: she
        reads none of what bob's account sent or received, not even what
        bob sent just before giving it up, written to the database after.
        """
        alice = self.registered("alice")
        bob = self.registered("bob")
        alice.send("/msg bob the door code is 4711")
        self.clock.advance(1)
        # Said and given up in one burst: the message waits for its batch.
        bob.paste("/msg alice see you at the door", "/unregister secret-bob", "/quit")
        self.clock.advance(1)
        mallory = Client(self.service, "bob")
        mallory.send("/register secret-mallory", "/history alice")
        self.assertEqual(mallory.lines()[-1], "*** No messages with alice yet.")
        self.assertEqual(
            self.pool.db.execute(
                "SELECT count(*) FROM messages WHERE sender_account = 'bob'"
            ).fetchone(),
            (1,),
        )

    def test_account_given_up_is_nobodys_history(self) -> None:
        """
        What an account sent and received is nobody's history once it is
        given up, even for whoever registers the name in the same second.
        """
        alice = self.registered("alice")
        bob = self.registered("bob")
        alice.send("/msg bob the door code is 4711")
        bob.send("/msg alice thanks", "/history alice")
        self.assertEqual(bob.lines()[-4], "*** Last 2 messages with alice:")
        bob.send("/unregister secret-bob", "/quit")
        mallory = Client(self.service, "bob")
        mallory.send("/register secret-mallory", "/history alice")
        self.assertEqual(mallory.lines()[-1], "*** No messages with alice yet.")

    def test_kept_message_is_part_of_the_conversation(self) -> None:
        """
        A message kept for a registered user who is away is part of both
        histories: its sender's at once, its recipient's.
        """
        self.registered("bob").send("/quit")
        alice = self.registered("alice")
        alice.send("/msg bob are you there?", "/history bob")
        self.assertEqual(
            alice.lines()[-3:],
            [
                "*** Last 1 message with bob:",
                "[2026-11-18 11:06] -> *bob* are you there?",
                "*** End of history.",
            ],
        )
        bob = Client(self.service)
        bob.send("bob", "secret-bob")
        bob.lines()
        bob.send("/history alice")
        self.assertEqual(bob.lines()[1], "[2026-11-18 11:06] *alice* are you there?")

    def test_history_on_irc(self) -> None:
        """
        HISTORY NICK replays the user's conversation as the messages they
        were, its own from itself to NICK, in a chathistory batch for
        clients that take batches; HISTORY #channel the channel's, for its
        members only; a bad count is refused.
        """
        alice = self.registered("alice")
        bob = IRCUser(self.service, "bob", caps="batch server-time")
        bob.send("PRIVMSG NickServ :REGISTER secret-bob", "JOIN #lobby")
        alice.send("/msg bob hi bob", "public words")
        bob.send("PRIVMSG alice :hi alice")
        self.clock.advance(1)
        bob.lines()
        # (b1 went to the lobby's history on joining.)
        bob.send("HISTORY alice", "HISTORY #lobby 1", "HISTORY alice 0", "HISTORY alice x")
        self.assertEqual(
            bob.lines(),
            [
                ":chat BATCH +b2 chathistory alice",
                "@time=2026-11-18T11:06:40.000Z;batch=b2 :alice!alice@chat PRIVMSG bob :hi bob",
                "@time=2026-11-18T11:06:40.000Z;batch=b2 :bob!bob@chat PRIVMSG alice :hi alice",
                ":chat BATCH -b2",
                ":chat BATCH +b3 chathistory #lobby",
                "@time=2026-11-18T11:06:40.000Z;batch=b3 :alice!alice@chat PRIVMSG #lobby "
                ":public words",
                ":chat BATCH -b3",
                ":chat 461 bob HISTORY :Not enough parameters",
                ":chat 461 bob HISTORY :Not enough parameters",
            ],
        )
        outsider = IRCUser(self.service, "outsider")
        outsider.send("HISTORY #lobby", "HISTORY alice")
        self.assertEqual(
            outsider.messages(),
            [
                ("chat", "442", "outsider", "#lobby", "You're not on that channel"),
                (
                    "chat",
                    "NOTICE",
                    "outsider",
                    "Conversations are kept for registered nicknames: register yours "
                    "(/msg NickServ REGISTER PASSWORD) to keep them.",
                ),
            ],
        )

    def test_history_verb_after_registration(self) -> None:
        """
        HISTORY is one of the IRC door's verbs, for registered clients:
        451 before registration, after it 461 without a target and 442 for
        a channel the client is not on, never 421; ISUPPORT's TARGMAX (the
        verbs that take several targets) leaves it out.
        """
        early = IRCUser(self.service)
        early.send("HISTORY #lobby", "HISTORY alice 5")
        self.assertEqual(early.codes(), ["451", "451"])
        early.send("NICK early", "USER u 0 * :Early")
        welcome = early.messages()
        (targmax,) = [t for m in welcome if m[1] == "005" for t in m[3:-1] if "TARGMAX=" in t]
        self.assertEqual(
            targmax, "TARGMAX=KICK:4,NAMES:4,NOTICE:4,PRIVMSG:4,TAGMSG:4,WHOIS:1,WHOWAS:1"
        )
        early.send("HISTORY", "HISTORY #lobby 1")
        self.assertEqual(
            early.messages(),
            [
                ("chat", "461", "early", "HISTORY", "Not enough parameters"),
                ("chat", "442", "early", "#lobby", "You're not on that channel"),
            ],
        )


class MigrationTests(SynchronousTestCase):
    def test_from_version_7(self) -> None:
        """
        A version 7 database gains the accounts of private messages; the
        private messages stored before, whose accounts nobody knows, are in
        nobody's history.
        """
        path = self.mktemp()
        old = database.connect(path, target=7)
        database.create_account(old.cursor(), "alice", "hash", T0)
        database.create_account(old.cursor(), "bob", "hash", T0)
        database.write(old.cursor(), [(T0 + 1, database.PRIVATE, None, "alice", "bob", "old")])
        old.commit()
        old.close()
        db = database.connect(path)
        self.assertEqual(database.version(db), database.LATEST)
        self.assertEqual(database.conversation(db.cursor(), "bob", "alice", 10), [])
        database.write(
            db.cursor(),
            [(T0 + 2, database.PRIVATE, None, "alice", "bob", "new", None, None, "alice", "bob")],
        )
        [entry] = database.conversation(db.cursor(), "bob", "alice", 10)
        self.assertEqual(
            (entry.kind, entry.text, entry.outgoing), (EntryKind.PRIVATE, "new", False)
        )
        [entry] = database.conversation(db.cursor(), "alice", "bob", 10)
        self.assertTrue(entry.outgoing)


class ConversationCostTests(SynchronousTestCase):
    """
    Reading a conversation costs what it reads, and never delays the
    history shown on entering a room.
    """

    def steps(self, others: int) -> int:
        """
        How many hundred SQLite instructions reading alice's last 10
        messages with bob takes, with C{others} older private messages of
        hers to other people.
        """
        db = database.connect(self.mktemp())
        self.addCleanup(db.close)
        cursor = db.cursor()
        database.create_account(cursor, "alice", "hash", T0)
        database.create_account(cursor, "bob", "hash", T0)
        database.write(
            cursor,
            [
                (
                    T0 + n,
                    database.PRIVATE,
                    None,
                    "alice",
                    f"peer{n % 100}",
                    "hi",
                    None,
                    None,
                    "alice",
                    None,
                )
                for n in range(others)
            ],
        )
        database.write(
            cursor,
            [
                (T0 + others + n, database.PRIVATE, None, a, b, "yo", None, None, a, b)
                for n in range(40)
                for a, b in [("alice", "bob") if n % 2 else ("bob", "alice")]
            ],
        )
        db.commit()
        ticks: list[None] = []
        db.set_progress_handler(lambda: ticks.append(None), 100)
        found = database.conversation(db.cursor(), "alice", "bob", 10)
        db.set_progress_handler(None, 0)
        self.assertEqual([entry.text for entry in found], ["yo"] * 10)
        return len(ticks)

    def test_cost_bounded_by_what_is_read(self) -> None:
        """
        Alice's last 10 messages with bob cost no more with 20 000 older
        private messages of hers to others than with none.
        """
        self.assertLessEqual(self.steps(20_000), 2 * self.steps(0))

    def test_query_plan(self) -> None:
        """
        Each half of a conversation's read walks its partial index, in the
        order of its LIMIT: no scan of the table, no sort of what it found.
        """
        db = database.connect(self.mktemp())
        self.addCleanup(db.close)
        statements: list[tuple[str, Sequence[object]]] = []

        class Recording:
            def execute(self, sql: str, parameters: Sequence[object] = ()) -> object:
                statements.append((sql, parameters))
                return cursor.execute(sql, parameters)

            def fetchall(self) -> list[object]:
                return cursor.fetchall()

        cursor = db.cursor()
        database.conversation(Recording(), "alice", "bob", 10)  # type: ignore[arg-type]
        [(sql, parameters)] = statements
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, parameters)]
        self.assertIn(
            "SEARCH messages USING INDEX private_by_sender_account (sender_account=?)", plan
        )
        self.assertIn(
            "SEARCH messages USING INDEX private_by_recipient_account (recipient_account=?)", plan
        )
        self.assertFalse([step for step in plan if step.startswith("SCAN messages")], plan)
        self.assertFalse([step for step in plan if "TEMP B-TREE" in step], plan)

    def test_history_on_entering_does_not_wait(self) -> None:
        """
        While a conversation is read (/history NICK), slowly, a newcomer is
        shown the lobby's history at once; the conversation comes when read.
        """
        clock = Clock()
        clock.advance(T0)
        path = self.mktemp()
        writer, reader, searcher = SyncPool(path), BusyLane(path), BusyLane(path)
        for pool in (writer, reader, searcher):
            self.addCleanup(pool.close)
        history = History(writer, clock, reader=reader, searcher=searcher)
        accounts = Accounts(writer, clock, maybeDeferred, cost=2**4)
        service = new_service(clock, Settings(), history=history, accounts=accounts)
        alice = Client(service, "alice")
        Client(service, "carol")
        alice.send("/register secret-alice", "/msg carol lunch?", "chess tonight")
        clock.advance(1)
        alice.lines()
        alice.send("/history carol")
        self.assertEqual(alice.lines(), [])
        newcomer = Client(service)
        newcomer.send("dave")
        self.assertEqual(
            newcomer.lines()[-3:],
            [
                "*** Recent messages in lobby:",
                "[2026-11-18 11:06] <alice> chess tonight",
                "*** End of history.",
            ],
        )
        reader.release()
        searcher.release()
        self.assertEqual(
            alice.lines(),
            [
                "*** Last 1 message with carol:",
                "[2026-11-18 11:06] -> *carol* lunch?",
                "*** End of history.",
                "*** dave has joined",
            ],
        )


class BusyLane(SyncPool):
    """
    A database thread that a conversation's read keeps busy: what it reads
    from then on waits for L{release}, as it would behind a slow read.
    """

    def runInteraction(
        self, interaction: Callable[..., Any], *args: Any, **kw: Any
    ) -> Deferred[Any]:
        if interaction is database.conversation:
            self.hold = True
        return super().runInteraction(interaction, *args, **kw)
