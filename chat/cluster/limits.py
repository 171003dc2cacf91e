"""
The limits the nodes of a cluster enforce together, in Redis: allowances of
wrong passwords and of registrations, and connections per address.

Each node still applies its own limits first (those of a single server, in
memory, answered at once); these are asked after them, in one script each
(L{chat.cluster.scripts}), so that 40 guesses spread over three nodes get
no more tries than 40 on one, and --max-per-ip counts an address's
connections to every node. Buckets run on Redis's clock, not the nodes'.

What cannot be asked (Redis away, the node fenced) is decided as a careful
server would: a password check or a registration is refused for now (the
user is told the server cannot do it now); a connection is let in, this
node's own --max-per-ip still holding it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster import scripts
from chat.cluster.log import Log
from chat.core.errors import StoreUnavailable
from chat.core.limits import Quieted, Rate

ASK_TIMEOUT = 2.0
"""
Seconds an answer from Redis is waited for before what asked is told it is
unavailable (a login does not hang while Redis is away; a token taken by an
answer that came too late only makes the limit stricter).
"""


class SharedLimits:
    """
    The core's L{chat.core.interfaces.SharedLimits}, across the nodes of a
    cluster, on the connection of this node's log (so that a connection is
    counted under the fencing token it holds).
    """

    log = Logger()

    def __init__(self, journal: Log, reactor: Any) -> None:
        self.journal = journal
        self.reactor = reactor
        self._prefix = journal.settings.prefix
        self._failures = Quieted(60, reactor)

    def take(self, wanted: Sequence[tuple[str, Rate]]) -> Deferred[int | None]:
        keys = [f"{self._prefix}allow:{name}" for name, _ in wanted]
        rates = [number for _, limit in wanted for number in (limit.rate, limit.burst)]

        def decided(used_up: Any) -> int | None:
            first = int(used_up)
            return None if first == 0 else first - 1

        return self._ask(scripts.TAKE, keys, rates).addCallback(decided)

    def give_back(self, name: str, limit: Rate) -> None:
        given = self._ask(scripts.GIVE, [f"{self._prefix}allow:{name}"], [limit.rate, limit.burst])
        given.addErrback(self._failed, "give back an allowance")

    def connect(self, group: str, limit: int) -> Deferred[object | None]:
        token = self.journal.token
        if token is None:
            return fail(StoreUnavailable("this node is not in the cluster", writing=False))
        counting = self._ask(
            scripts.CONNECT,
            [self._prefix + "nodes", self.journal.counts],
            [self.journal.node, token, group, limit, self._prefix + "conns:"],
        )
        return counting.addCallback(lambda counted: (token, group) if int(counted) else None)

    def disconnect(self, counted: object) -> None:
        assert isinstance(counted, tuple)
        token, group = counted
        done = self._ask(
            scripts.DISCONNECT,
            [self._prefix + "nodes", self.journal.counts],
            [self.journal.node, token, group],
        )
        done.addErrback(self._failed, "count a connection that closed")

    def _ask(self, script: scripts.Script, keys: list[str], args: list[Any]) -> Deferred[Any]:
        asking = self.journal.run(script, keys, args)
        asking.addTimeout(ASK_TIMEOUT, self.reactor)
        return asking.addErrback(_unavailable)

    def _failed(self, failure: Failure, what: str) -> None:
        # In the background: said once a minute, not once a connection.
        if self._failures.due(what) is not None:
            self.log.warn(
                "Could not {what} in the cluster: {why}", what=what, why=failure.getErrorMessage()
            )


def _unavailable(failure: Failure) -> Failure:
    if failure.check(StoreUnavailable):
        return failure
    return Failure(
        StoreUnavailable(f"the cluster's broker: {failure.getErrorMessage()}", writing=False)
    )
