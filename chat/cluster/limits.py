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

import itertools
from collections.abc import Sequence
from typing import Any

from twisted.internet import defer
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
        # Each connection counted has an id of its own (this node's).
        self._ids = itertools.count(1)

    def take(self, wanted: Sequence[tuple[str, Rate]]) -> Deferred[int | None]:
        keys = [f"{self._prefix}allow:{name}" for name, _ in wanted]
        rates = [number for _, limit in wanted for number in _numbers(limit)]

        def decided(used_up: Any) -> int | None:
            first = int(used_up)
            return None if first == 0 else first - 1

        return self._ask(scripts.TAKE, keys, rates).addCallback(decided)

    def give_back(self, name: str, limit: Rate) -> None:
        # In the background, not given up on: it waits for Redis as long as
        # the node's connection to it does.
        key = f"{self._prefix}allow:{name}"
        given = self.journal.run(scripts.GIVE, [key], list(_numbers(limit)))
        given.addErrback(self._failed, "give back an allowance")

    def connect(self, group: str, limit: int) -> Deferred[object | None]:
        token = self.journal.token
        if token is None:
            return fail(StoreUnavailable("this node is not in the cluster", writing=False))
        counted = (token, group, str(next(self._ids)))
        counting = self._ask(
            scripts.CONNECT,
            [self._prefix + "nodes", self.journal.counts, self.journal.counted],
            [self.journal.node, token, group, limit, self._prefix + "conns:", counted[2]],
        )

        def unknown(failure: Failure) -> Failure:
            # Redis may still count it, its answer too late: it is counted
            # no more once that is done (the connection is let in uncounted).
            self.disconnect(counted)
            return failure

        return counting.addCallbacks(lambda done: counted if int(done) else None, unknown)

    def disconnect(self, counted: object) -> None:
        assert isinstance(counted, tuple)
        token, group, connection = counted
        # Not given up on (as give_back), and done once however often it
        # is sent: a connection that closed is never left counted.
        done = self.journal.run(
            scripts.DISCONNECT,
            [self._prefix + "nodes", self.journal.counts, self.journal.counted],
            [self.journal.node, token, group, connection],
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


def _numbers(limit: Rate) -> tuple[str, str]:
    """
    A limit's rate and burst as Redis is sent them: in full (txredisapi
    would send 1/60 as 0.016667, and a tiny rate as 0).
    """
    return repr(limit.rate), str(limit.burst)


def _unavailable(failure: Failure) -> Failure:
    if failure.check(StoreUnavailable):
        return failure
    if failure.check(defer.TimeoutError, defer.CancelledError):
        why = f"no answer within {ASK_TIMEOUT:g} s"
    else:
        why = failure.getErrorMessage()
    return Failure(StoreUnavailable(f"the cluster's broker: {why}", writing=False))
