"""
Bans: nicknames and addresses an operator has shut out, for a while or for good.

They live in the database and, for the checks made on every connection and
login, in memory, kept in step on each change. C{twistd chat} loads them
before anything listens (L{chat.store.opening}): a banned address retrying
every 2 ms got in, and stayed, while they were still being read after the
ports had opened. Otherwise they are loaded when the service starts.
"""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.core.events import Ban, BanKind
from chat.store import database
from chat.store.history import Pool


class Bans(Service):
    """
    The bans in force (the core's L{chat.core.interfaces.BanList}).
    """

    log = Logger()

    def __init__(self, pool: Pool, clock: IReactorTime) -> None:
        self.pool = pool
        self.clock = clock
        self._bans: dict[tuple[BanKind, str], Ban] = {}
        self._loaded = False

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        if not self._loaded:
            self.pool.runInteraction(self.pool.sql.bans).addCallbacks(self.load, self._failed)

    def load(self, rows: list[database.BanRow]) -> None:
        """
        Hold the bans stored in the database (C{rows}), once, before any is
        changed.
        """
        self._loaded = True
        for kind, target, until, reason, by, created in rows:
            ban = Ban(BanKind(kind), target, until, reason, by, created)
            self._bans[(ban.kind, ban.target.lower())] = ban
        self.log.info("{count} bans in force", count=len(self._bans))

    def _failed(self, failure: Failure) -> None:
        self.log.failure("Could not read the bans", failure)

    def find(self, kind: BanKind, target: str) -> Ban | None:
        """
        The ban on C{target} (a nickname or an address) if one is in force.
        """
        ban = self._bans.get((kind, target.lower()))
        if ban is not None and ban.until is not None and ban.until <= self.clock.seconds():
            self.remove(kind, target)
            return None
        return ban

    def add(
        self, kind: BanKind, target: str, duration: float | None, reason: str | None, by: str
    ) -> Ban:
        now = self.clock.seconds()
        ban = Ban(kind, target, None if duration is None else now + duration, reason, by, now)
        self._bans[(kind, target.lower())] = ban
        self.pool.runInteraction(
            self.pool.sql.save_ban, (kind, target, ban.until, reason, by, now)
        ).addErrback(self._failed)
        return ban

    def hold(self, ban: Ban) -> None:
        """
        Hold C{ban}, set elsewhere and written there (by another node of a
        cluster): in memory only.
        """
        self._bans[(ban.kind, ban.target.lower())] = ban

    def release(self, kind: BanKind, target: str) -> None:
        """
        Let go of the ban on C{target}, lifted elsewhere: in memory only.
        """
        self._bans.pop((kind, target.lower()), None)

    def remove(self, kind: BanKind, target: str) -> bool:
        """
        Lift a ban; L{False} if there was none.
        """
        if self._bans.pop((kind, target.lower()), None) is None:
            return False
        self.pool.runInteraction(self.pool.sql.delete_ban, kind, target).addErrback(self._failed)
        return True

    def all(self) -> list[Ban]:
        """
        Every ban in force, oldest first.
        """
        now = self.clock.seconds()
        return sorted(
            (ban for ban in self._bans.values() if ban.until is None or ban.until > now),
            key=lambda ban: ban.created,
        )
