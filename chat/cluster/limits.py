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
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster import redis, scripts
from chat.cluster.log import Log
from chat.core.errors import StoreUnavailable
from chat.core.limits import Quieted, Rate

ASK_TIMEOUT = 2.0
"""
Seconds an answer from Redis is waited for before what asked is told it is
unavailable (a login does not hang while Redis is away; a token taken by an
answer that came too late only makes the limit stricter).
"""


RETRY = 0.2
"""
Seconds before a connection's forgetting is sent again, its link to Redis
lost before the answer.
"""

UNLIMITED = 2**31
"""
The limit a connection counted again is counted under: it is in already.
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
        # Each connection counted has an id of its own (this node's), and
        # those counted now their addresses.
        self._ids = itertools.count(1)
        self._live: dict[str, str] = {}
        journal.joined.append(self._recount)

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
        connection = str(next(self._ids))
        counting = self._ask(
            scripts.CONNECT,
            self._counts(),
            [self.journal.node, token, group, limit, self._prefix + "conns:", connection],
        )

        def done(counted: Any) -> str | None:
            if not int(counted):
                return None
            self._live[connection] = group
            return connection

        def unknown(failure: Failure) -> Failure:
            # Redis may still count it, its answer too late: it is counted
            # no more once that is done (the connection is let in uncounted).
            self._forget(connection, group)
            return failure

        return counting.addCallbacks(done, unknown)

    def disconnect(self, counted: object) -> None:
        assert isinstance(counted, str)
        group = self._live.pop(counted, None)
        if group is not None:
            self._forget(counted, group)

    def _counts(self) -> list[str]:
        return [self._prefix + "nodes", self.journal.counts, self.journal.counted]

    def _forget(self, connection: str, group: str) -> None:
        Deferred.fromCoroutine(self._forgetting(connection, group))

    async def _forgetting(self, connection: str, group: str) -> None:
        """
        Count C{connection} no more: sent again while the link to Redis is
        lost before the answer (done once however often it is sent), for
        as long as this node's life in the cluster lasts (its counts go
        with it).
        """
        while True:
            token = self.journal.token
            if token is None:
                return
            try:
                await self.journal.run(
                    scripts.DISCONNECT,
                    self._counts(),
                    [self.journal.node, token, group, connection],
                )
            except redis.ConnectionLost:
                await deferLater(self.reactor, RETRY, lambda: None)
            except Exception as e:
                self._failed(Failure(e), "count a connection that closed")
                return
            else:
                return

    def _recount(self) -> None:
        """
        This node joined again, its counts wiped with its previous life:
        its connections that stayed (those not logged in yet when it was
        put out of the cluster) are counted again, whatever the limit.
        """
        token = self.journal.token
        for connection, group in list(self._live.items()):
            counting = self.journal.run(
                scripts.CONNECT,
                self._counts(),
                [self.journal.node, token, group, UNLIMITED, self._prefix + "conns:", connection],
            )
            counting.addErrback(self._failed, "count again a connection that stayed")

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
