"""
Message history on SQLite, without ever touching the database on the reactor thread.

Every write runs in a single database thread (L{chat.store.thread}: SQLite
allows one writer, and a single thread also keeps writes in the order they
were asked for); history is read on a second one, and searched on a third,
so that the history shown on entering a room never waits behind searches
(64 connections searching over and over made a newcomer wait 4.2 s for the
lobby's history, its live lines held meanwhile) nor behind reads of private
conversations, which are made on the search lane too. Messages are written in batches:
L{History.record} only appends to a list, and the list is committed as one
transaction every C{interval} seconds or every C{batch} messages, whichever
comes first. A crash (kill -9) therefore loses the messages of the last
C{interval} (10 ms by default) plus the batches the database thread has not
written yet (under a burst of thousands, about a tenth of a second's worth);
a clean shutdown loses nothing. The full-text index is brought up to date
with at most one of those commits a second, and before every search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.core.events import Action, Entry, Message, PrivateMessage, said_at
from chat.core.limits import HISTORY_RETRY, INDEX_EVERY, MAX_UNWRITTEN, SEARCH_BUDGET
from chat.core.pages import Conversation, Page
from chat.store import database, reading
from chat.store.database import PrivateRow, Row
from chat.store.dialect import Dialect
from chat.store.thread import DatabaseThread

_T = TypeVar("_T")


class Pool(Protocol):
    """
    What the stores need of their database thread (L{chat.store.thread.DatabaseThread}).
    """

    def runInteraction(self, interaction: Callable[..., _T], *args: Any) -> Deferred[_T]: ...

    def submit(
        self, interaction: Callable[..., object], *args: Any, failed: Callable[[Failure], None]
    ) -> None: ...

    def close(self) -> None: ...

    @property
    def sql(self) -> Dialect:
        """
        The queries of its database (SQLite's or PostgreSQL's).
        """


def open_pool(path: str, reactor: Any) -> DatabaseThread:
    """
    The database thread of the SQLite database at C{path} (C{":memory:"}
    for one that lives as long as the server). The connection is prepared
    (WAL, schema migrations) in that thread by its first transaction.
    """
    return DatabaseThread(path, reactor)


class History(Service):
    """
    The domain's archive (L{chat.core.interfaces.Archive}), and the history it serves
    back (L{chat.core.interfaces.HistoryReader}).
    """

    log = Logger()

    def __init__(
        self,
        pool: Pool,
        clock: IReactorTime,
        interval: float = 0.01,
        batch: int = 500,
        reader: Pool | None = None,
        search_budget: float = SEARCH_BUDGET,
        searcher: Pool | None = None,
        placing: Callable[[], int] | None = None,
        waits_for: Callable[[], Deferred[int | None]] | None = None,
    ) -> None:
        """
        @param reader: a second connection for reads (WAL lets it read while
            the first writes), so that writes never wait behind a slow
            search; by default reads share the one connection.
        @param search_budget: seconds a search may take before it is stopped.
        @param searcher: a connection of their own for searches and reads
            of private conversations, so that the reads of a room's recent
            messages (its history on entering it, C{/history}) never wait
            behind them; by default they share the reader's.
        @param placing: for a cluster's node, where each message kept
            outside its log (for an absent user) goes in history's order
            (L{keep_now}); it is written at once. The messages the chat
            made (those with an id) are then not kept by L{record}: the
            cluster's archive keeps each once, as the log has it, and what
            the log refused is not kept.
        @param waits_for: what each read waits for first (a cluster's
            archive catching up with what this node has delivered), so that
            history shows every message its reader may have seen; it gives
            the place (L{keep_now}) of the last of them, or C{None}.
        """
        self.pool = pool
        self.sql = pool.sql
        self.reader = reader if reader is not None else pool
        self.searcher = searcher if searcher is not None else self.reader
        self.search_budget = search_budget
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self.placing = placing
        self.waits_for = waits_for
        self.fts = False
        self._pending: list[Row | PrivateRow] = []
        self._timer: IDelayedCall | None = None
        # While writes fail (a full disk, a read-only file): since when, and
        # how many rows had to be given up (past MAX_UNWRITTEN).
        self._failing_since: float | None = None
        self._given_up = 0
        # How many rows at the front of _pending came back from failed batches.
        self._returned = 0
        self._indexed_at = float("-inf")

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        # Connecting prepares the schema; learn on the way whether it can search words.
        self.pool.runInteraction(self.sql.searchable).addCallbacks(self._ready, self._broken)

    def _ready(self, fts: bool) -> None:
        self.fts = fts
        self.log.info("History database ready (full-text search: {fts})", fts=fts)

    def _broken(self, failure: Failure) -> None:
        self.log.failure("The history database cannot be opened", failure)

    def stopService(self) -> Deferred[None]:
        """
        Write everything still pending, then close the database.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.flush()
        done = self._written_so_far()

        def close(_: object) -> None:
            self.pool.close()
            if self.reader is not self.pool:
                self.reader.close()
            if self.searcher is not self.pool and self.searcher is not self.reader:
                self.searcher.close()

        return done.addBoth(close)

    # The domain's side.

    def record(self, event: Message | Action | PrivateMessage) -> None:
        """
        Queue C{event} for the next batch. Cheap: this is on every message's path.
        """
        if self.placing is not None:
            self._place(event)
            return
        row = self._row(event)
        self._pending.append(row)
        if self._failing_since is not None:
            # The retry timer is set; keep at most MAX_UNWRITTEN waiting.
            if len(self._pending) > MAX_UNWRITTEN:
                del self._pending[0]
                self._given_up += 1
        elif len(self._pending) >= self.batch:
            self.flush()
        elif self._timer is None:
            self._timer = self.clock.callLater(self.interval, self.flush)

    def _place(self, event: Message | Action | PrivateMessage) -> None:
        """
        A cluster's node: a message kept outside the log is written now, at
        its place; the chat's own (with an id) are the archive's to keep.
        """
        meta = event.meta
        if self.placing is None or (meta is not None and meta.msgid):
            return
        self.keep_now([event], [self.placing()]).addErrback(
            lambda failure: self.log.error(
                "Could not store a kept message in the history: {why}",
                why=failure.getErrorMessage(),
            )
        )

    def _row(self, event: Message | Action | PrivateMessage) -> Row | PrivateRow:
        meta = event.meta
        if meta is None:
            now, msgid, account = said_at(self.clock.seconds()), None, None
        else:
            # Kept at the time its readers were shown (none for a message
            # kept for an absent user, which nobody was shown yet).
            now = meta.time or said_at(self.clock.seconds())
            msgid, account = meta.msgid or None, meta.account
        match event:
            case Message(room, sender, text):
                return (now, database.PUBLIC, room, sender, None, text, msgid, account)
            case Action(room, sender, text):
                return (now, database.ACTION, room, sender, None, text, msgid, account)
            case PrivateMessage(sender, recipient, text, _, _, to):
                return (
                    now,
                    database.PRIVATE,
                    None,
                    sender,
                    recipient,
                    text,
                    msgid,
                    None,
                    account,
                    to,
                )

    def keep_now(
        self, events: Sequence[Message | Action | PrivateMessage], places: Sequence[int]
    ) -> Deferred[None]:
        """
        Write C{events} as one transaction, at once, each at its place in
        the order history is read in (C{places}, one each, increasing as they
        were said): fires once they are committed, or fails. A message kept
        already is not kept again, so that a batch written twice (its writer
        lost before it could say so) is kept once.
        """
        rows = [self._row(e) for e in events]
        return self.pool.runInteraction(self.sql.write_placed, rows, places)

    def flush(self) -> None:
        """
        Start writing what is pending, as one transaction.
        """
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        self._returned = 0
        now = self.clock.seconds()
        indexing = self.fts and now - self._indexed_at >= INDEX_EVERY
        if indexing:
            self._indexed_at = now
        if self._failing_since is None:
            # The usual case: nothing comes back unless it fails.
            self.pool.submit(
                self.sql.write,
                rows,
                indexing,
                failed=lambda failure: self._not_written(failure, rows),
            )
        else:
            # Retrying: learn when it works again.
            self.pool.runInteraction(self.sql.write, rows, indexing).addCallbacks(
                self._written, self._not_written, errbackArgs=(rows,)
            )

    def _written(self, _: object) -> None:
        if self._failing_since is not None:
            self.log.info(
                "Storing messages works again (it failed for {seconds:.0f} s; "
                "{lost} messages could not be kept)",
                seconds=self.clock.seconds() - self._failing_since,
                lost=self._given_up,
            )
            self._failing_since = None
            self._given_up = 0

    def _not_written(self, failure: Failure, rows: list[Row | PrivateRow]) -> None:
        """
        A batch could not be written (a full disk, a read-only file): keep it
        in front of what came since (behind the batches that failed before
        it), and try again every L{HISTORY_RETRY} seconds. Logged once per outage,
        not once per batch.
        """
        at = self._returned
        self._pending[at:at] = rows
        self._returned += len(rows)
        excess = len(self._pending) - MAX_UNWRITTEN
        if excess > 0:
            del self._pending[:excess]
            self._given_up += excess
            self._returned = max(0, self._returned - excess)
        if self._failing_since is None:
            self._failing_since = self.clock.seconds()
            self.log.error(
                "Could not store {count} messages ({why}); keeping them and retrying "
                "every {retry} s",
                count=len(rows),
                why=failure.getErrorMessage(),
                retry=HISTORY_RETRY,
            )
        if self._timer is None or not self._timer.active():
            self._timer = self.clock.callLater(HISTORY_RETRY, self.flush)

    # The doors' side. Each read first flushes, and runs once that write
    # is done: history includes every message recorded before it was asked
    # for. Writes never wait for reads.

    def _written_so_far(self, indexed: bool = False) -> Deferred[None]:
        """
        Fires once every batch handed to the database thread so far is
        committed (or has failed): a job behind them in its queue; with
        C{indexed}, one that also brings the full-text index up to date.
        """
        return self.pool.runInteraction(self.sql.index if indexed and self.fts else _nothing)

    def _read(
        self, lane: Pool, interaction: Callable[..., _T], *args: Any, indexed: bool = False
    ) -> Deferred[_T]:
        if self.waits_for is not None:
            # It never fails: a read that waited too long reads what there is.
            return self.waits_for().addBoth(
                lambda _: self._read_now(lane, interaction, *args, indexed=indexed)
            )
        return self._read_now(lane, interaction, *args, indexed=indexed)

    def _read_now(
        self, lane: Pool, interaction: Callable[..., _T], *args: Any, indexed: bool = False
    ) -> Deferred[_T]:
        self.flush()
        if lane is self.pool:
            # One thread: it runs the read after the write (and the index).
            if indexed and self.fts:
                self.pool.runInteraction(self.sql.index).addErrback(self._not_indexed)
            return self.pool.runInteraction(interaction, *args)
        written = self._written_so_far(indexed)
        return written.addBoth(lambda _: lane.runInteraction(interaction, *args))

    def _not_indexed(self, failure: Failure) -> None:
        # The search that follows fails the same way and is reported to its user.
        self.log.warn("Could not update the search index: {why}", why=failure.getErrorMessage())

    def recent(self, room: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} messages and actions of C{room}, oldest first.

        In a cluster, those its reader may have seen: up to the place of the
        last this node delivered, and none after, though nodes may have
        written some (they write in parallel). What comes after is live, and
        shown after the history (L{chat.core.session}): once.
        """
        if self.waits_for is None:
            return self._read_now(self.reader, self.sql.recent, room, count)

        def read(upto: int | Failure | None) -> Deferred[list[Entry]]:
            bound = upto if isinstance(upto, int) else None
            return self._read_now(self.reader, self.sql.recent, room, count, bound)

        return self.waits_for().addBoth(read)

    def conversation(self, account: str, nickname: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} private messages between C{account} and
        C{nickname}, of those C{account} sent or received while logged in
        to it, oldest first.

        Read on the search lane: finding that an account never wrote to
        C{nickname} walks all of its private messages (57 ms for 200 000,
        a few connections asking over and over), and the history shown on
        entering a room must not wait behind that.
        """
        return self._read(self.searcher, self.sql.conversation, account, nickname, count)

    def page(self, room: str, page: Page) -> Deferred[list[Entry]]:
        """
        The messages and actions of C{room} that C{page} asks for, oldest first.
        """
        return self._read(self.reader, reading.room_page, self.sql, room, page)

    def private_page(self, account: str, peer: str, page: Page) -> Deferred[list[Entry]]:
        """
        The private messages between C{account} and C{peer} that C{page}
        asks for, oldest first (on the search lane, as L{conversation}).
        """
        return self._read(self.searcher, reading.private_page, self.sql, account, peer, page)

    def conversations(
        self, account: str | None, rooms: Sequence[str], after: float, before: float, count: int
    ) -> Deferred[list[Conversation]]:
        """
        The rooms of C{rooms} and the private conversations of C{account}
        whose newest message is between C{after} and C{before}, the least
        recent first (on the search lane: it reads every private message of
        the account).
        """
        return self._read(
            self.searcher,
            reading.conversations,
            self.sql,
            account,
            list(rooms),
            after,
            before,
            count,
        )

    def search(self, room: str, text: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} messages of C{room} that contain C{text}, oldest
        first; fails with L{chat.core.errors.TooSlow} past the time budget.
        """
        return self._read(
            self.searcher,
            self.sql.search,
            room,
            text,
            count,
            self.fts,
            self.search_budget,
            indexed=True,
        )

    def find(self, msgid: str) -> Deferred[tuple[Entry, str | None] | None]:
        """
        The message whose id is C{msgid}, and its sender's account, if it is kept.
        """
        return self._read(self.pool, self.sql.stored_message, msgid)

    def forget(self, msgid: str) -> Deferred[None]:
        """
        Delete the message whose id is C{msgid} from the history and the
        search (after what is pending is written: it may be among them).
        """
        if self.waits_for is not None:
            # Not before the archive has it: it would be kept after.
            return self.waits_for().addBoth(lambda _: self._forget_now(msgid))
        return self._forget_now(msgid)

    def _forget_now(self, msgid: str) -> Deferred[None]:
        self.flush()
        return self.pool.runInteraction(self.sql.forget_message, msgid)


def _nothing(cursor: object) -> None:
    """
    A transaction that does nothing: in the database thread's queue, it
    marks when what came before it is done.
    """
