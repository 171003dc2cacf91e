"""
One thread, one SQLite connection: every transaction asked of it, in order.

What C{adbapi.ConnectionPool} with one connection gave, with two things it
offers only through its private methods: before each transaction, and before
the connection is closed, an L{ShmGuard} asks whether SQLite may touch its
mapped C{-shm} file (see L{chat.store.guard}); and a batch of messages
(L{submit}) comes back to the reactor only if it failed, instead of waking it
for every commit. (Measured in one process, a round trip through either costs
about 160 µs of CPU on the test machine, more than the transaction of two
messages it carries: the thread hand-offs themselves.)
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.store import database
from chat.store.dialect import Dialect
from chat.store.guard import ShmGuard

_T = TypeVar("_T")

# (interaction, its arguments, where its outcome goes: a Deferred, or a
# callable told only of a failure)
_Job = tuple[Callable[..., Any], tuple[Any, ...], "Deferred[Any] | Callable[[Failure], None]"]


class DatabaseThread:
    """
    The database thread of one SQLite file (the archive's
    L{chat.store.history.Pool}), opened and prepared by its first job; a
    connection whose preparation failed (a newer schema, a damaged file) is
    closed, never used, and the next job tries again.
    """

    log = Logger()

    sql: Dialect = database
    """
    The queries it runs: SQLite's.
    """

    def __init__(
        self,
        path: str,
        reactor: IReactorFromThreads,
        prepare: Callable[[sqlite3.Connection], None] = database.prepare,
    ) -> None:
        self.path = path
        self._reactor = reactor
        self._prepare = prepare
        self._guard = None if path == ":memory:" else ShmGuard(path)
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"database {path}", daemon=True)
        self._thread.start()

    def runInteraction(self, interaction: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        Run C{interaction(cursor, *args)} in one transaction; fire with its
        result once committed, or fail (rolled back).
        """
        answer: Deferred[_T] = Deferred()
        self._jobs.put((interaction, args, answer))
        return answer

    def submit(
        self, interaction: Callable[..., object], *args: Any, failed: Callable[[Failure], None]
    ) -> None:
        """
        As L{runInteraction}, but nothing comes back unless it fails: then
        C{failed} is called, in the reactor thread, with the failure.
        """
        self._jobs.put((interaction, args, failed))

    def close(self) -> None:
        """
        Run what was asked already, then close the connection and end the
        thread (waiting for it: the stores are closed at shutdown).
        """
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._thread.join()

    # In the database thread.

    def _work(self) -> None:
        db: sqlite3.Connection | None = None
        while (job := self._jobs.get()) is not None:
            interaction, args, answer = job
            try:
                if db is None:
                    db = self._connect()
                result = self._transaction(db, interaction, args)
            except Exception:
                failure = Failure()
                if isinstance(answer, Deferred):
                    self._reactor.callFromThread(answer.errback, failure)
                else:
                    self._reactor.callFromThread(answer, failure)
                continue
            if isinstance(answer, Deferred):
                self._reactor.callFromThread(answer.callback, result)
        if db is not None:
            why = self._problem()
            if why is None:
                db.close()
            else:
                # Closing checkpoints the log into the database through the
                # mapping: SIGBUS too. The process is about to end; let go.
                self.log.warn(
                    "Not closing the database ({why}): its log is replayed at the next start",
                    why=why,
                )
        if self._guard is not None:
            self._guard.close()

    def _connect(self) -> sqlite3.Connection:
        """
        A prepared connection, or the reason there is none: a connection
        whose preparation failed is closed rather than used unprepared (an
        account was once written into a database of a newer schema so).
        """
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            self._prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def _problem(self) -> str | None:
        """
        Why SQLite must not touch the database now (see L{ShmGuard}), or L{None}.
        """
        return self._guard.problem() if self._guard is not None else None

    def _transaction(
        self, db: sqlite3.Connection, interaction: Callable[..., _T], args: tuple[Any, ...]
    ) -> _T:
        why = self._problem()
        if why is not None:
            raise sqlite3.OperationalError(f"attempt to write a readonly database ({why})")
        cursor = db.cursor()
        try:
            result = interaction(cursor, *args)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        finally:
            cursor.close()
        return result
