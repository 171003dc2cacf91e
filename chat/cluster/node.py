"""
This server as a node of a cluster: it joins when the server starts and
leaves when it stops (after its users have been told and logged out).
"""

from __future__ import annotations

import gc
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster.archive import Archive
from chat.cluster.chat import ClusterChat
from chat.cluster.log import Log

COLLECT_AFTER = 10_000
"""
Objects made (and not yet freed) after which Python looks for cycles, while
this process is a node (the default is 700).

A node handles the log a read at a time: up to a thousand entries, each a
dozen lists and tuples as Redis gives it and as it is decoded, all alive
until the read is delivered; its appends' pending messages live until Redis
has them. At 700, a collection ran every seventy entries or so, and moved
the rest of the read to older generations, whose collections then went
through everything: 15 % of a node's CPU in a big room, where a single
server's took 0.1 %. At 10 000, the same run made four collections a node
instead of six hundred (docs/performance.md, "Several nodes").
"""


class Node(Service):
    """
    Added before the chat's service, so that it stops after it.
    """

    log = Logger()
    _thresholds: tuple[int, int, int] | None = None

    def __init__(
        self, chat: ClusterChat, journal: Log, reactor: Any, archive: Archive | None = None
    ) -> None:
        """
        @param archive: this node's share of writing the history (none
            without history).
        """
        self.chat = chat
        self.journal = journal
        self.reactor = reactor
        self.archive = archive

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._thresholds = gc.get_threshold()
        gc.set_threshold(COLLECT_AFTER, *self._thresholds[1:])
        # Logins made meanwhile wait for it (in order).
        joining = Deferred.fromCoroutine(self.chat.start(self.journal, self.reactor))
        joining.addErrback(self._failed)
        if self.archive is not None:
            archiving = Deferred.fromCoroutine(self.archive.start())
            archiving.addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        self.log.failure("Joining the cluster", failure)

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        try:
            await self.chat.stop()
            if self.archive is not None:
                # After the chat: its last messages are in the log, and written.
                await self.archive.stop()
        finally:
            if self._thresholds is not None:
                gc.set_threshold(*self._thresholds)
                self._thresholds = None
