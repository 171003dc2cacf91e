"""
This server as a node of a cluster: it joins when the server starts and
leaves when it stops (after its users have been told and logged out).
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster.archive import Archive
from chat.cluster.chat import ClusterChat
from chat.cluster.log import Log


class Node(Service):
    """
    Added before the chat's service, so that it stops after it.
    """

    log = Logger()

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
        await self.chat.stop()
        if self.archive is not None:
            # After the chat: its last messages are in the log, and written.
            await self.archive.stop()
