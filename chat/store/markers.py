"""
Read markers on SQLite: how far each account has read each conversation
(the core's L{chat.core.interfaces.ReadMarkerStore}), so that what was read
on one device is read on the next.

Writes go through the database thread without waiting for an answer (a
marker is the session's to remember meanwhile), and in order with the
reads: an account that logs in again at once reads what it marked.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.store.accounts import looked_up
from chat.store.history import Pool


class ReadMarkers:
    """
    Each account's read markers, by target (see L{chat.core.session.marks}).
    """

    log = Logger()

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def load(self, account: str) -> Deferred[dict[str, float]]:
        return looked_up(self.pool, self.pool.sql.read_markers, account)

    def mark(self, account: str, target: str, at: float, forget: str | None = None) -> None:
        self.pool.submit(self.pool.sql.mark_read, account, target, at, forget, failed=self._failed)

    def forget(self, account: str, target: str) -> None:
        self.pool.submit(self.pool.sql.forget_marker, account, target, failed=self._failed)

    def _failed(self, failure: Failure) -> None:
        self.log.failure("Keeping a read marker", failure)
