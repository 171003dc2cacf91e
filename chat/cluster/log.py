"""
One node's place in the cluster's log: the Redis stream that every node
appends to and reads back, in one order, the sender included.

A node joins with a fencing token and a lease (L{chat.cluster.scripts}).
Its appends go through a script that refuses them once the token is not
the node's any more, and carries a number, the node's own count, by which
an append sent again after a lost answer is recognised and not added twice.
The node renews its lease every third of it; if it cannot, it stops itself
(L{Log.fenced}) before the others may reap it: its lease by its own clock
ends a tenth before Redis's. Any node reaps the nodes whose leases ran out,
and the log says each is lost, once.

Appends are sent in order, a batch at a time (one script call for a burst),
and kept until Redis acknowledges them: a lost connection sends them again,
in the same order. While Redis cannot be reached, at most
C{Settings.max_pending} wait; more are refused (L{Unavailable}), and a node
whose lease runs out meanwhile fails them (L{Fenced}: they were never
acknowledged, and are never sent under another token).

Reading is a blocking C{XREAD} on a connection of its own. Each entry is
numbered by the script that added it: a number missing (entries trimmed
before this node read them, a broker that came back empty) is a gap, told
to the owner (L{Log.gap}) rather than skipped over in silence.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster import redis, scripts
from chat.cluster.redis import Address


class Fenced(Exception):
    """
    This node is out of the cluster (its lease ran out, it was reaped, or
    the broker lost its state): what it had not had acknowledged was not
    appended under its token, and is never sent under another.
    """


class Unavailable(Exception):
    """
    The broker cannot be reached, and as much as may wait for it already waits.
    """


@dataclass(frozen=True)
class Settings:
    """
    @param prefix: what every key of this cluster starts with.
    @param lease: seconds a node stays in the cluster without renewing.
    @param maxlen: about how many entries the log keeps (Redis trims the
        oldest, a block at a time).
    @param max_pending: appends that may wait for an unreachable broker.
    @param batch: appends sent at once.
    @param read_count: entries read at once.
    """

    prefix: str = "chat:"
    lease: float = 5.0
    maxlen: int = 100_000
    max_pending: int = 10_000
    batch: int = 500
    read_count: int = 1000


class Entry(NamedTuple):
    """
    One entry of the log: its stream id, its number, the node that
    appended it (and its token then), the node's count, its kind and its
    data (the kinds C{up}, C{down} and C{lost} are the log's own).

    A named tuple: every node makes one for every entry of the log, and a
    frozen dataclass costs three times as much to make.
    """

    id: str
    number: int
    node: str
    token: str
    seq: int
    kind: str
    data: str


@dataclass(slots=True)
class _Pending:
    seq: int
    kind: str
    data: str
    done: Deferred[None] = field(default_factory=Deferred)


class Log:
    """
    This node's side of the cluster's log.

    @ivar deliver: called with each batch of entries read, in the log's order.
    @ivar fenced: called once this node is out of the cluster, with why.
    @ivar gap: called when entries were missed, with why (the owner resyncs).
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        address: Address,
        node: str,
        deliver: Callable[[list[Entry]], None],
        fenced: Callable[[str], None],
        gap: Callable[[str], None],
        settings: Settings = Settings(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reactor = reactor
        self.address = address
        self.node = node
        self.deliver = deliver
        self.fenced = fenced
        self.gap = gap
        self.settings = settings
        self.clock = clock
        prefix = settings.prefix
        self._stream = prefix + "log"
        self._count = prefix + "count"
        self._incarnation_key = prefix + "incarnation"
        self._nodes = prefix + "nodes"
        self._ready = prefix + "ready"
        self._lease = f"{prefix}lease:{node}"
        self._seq_key = f"{prefix}seq:{node}"
        # This node's connections per address (chat.cluster.limits).
        self.counts = f"{prefix}conns:{node}"
        self.counted = f"{prefix}connids:{node}"
        self._commands: Any = None
        self._reads: Any = None
        self.token: str | None = None
        self.incarnation: str | None = None
        self._seq = 0
        self._queue: deque[_Pending] = deque()
        self._sending = False
        self._deadline = float("inf")
        self._renewing: LoopingCall | None = None
        # A call at the lease's deadline (_arm).
        self._watch: IDelayedCall | None = None
        self._reaping: LoopingCall | None = None
        self._reading = False
        self._last_id = "0-0"
        self._number = 0
        # Whether it has connected (it joins again with rejoin()).
        self.started = False
        # Called each time it has joined, under its new token.
        self.joined: list[Callable[[], None]] = []

    @property
    def _ms(self) -> int:
        return int(self.settings.lease * 1000)

    # Joining and leaving.

    async def start(self) -> Entry:
        """
        Connect, join the cluster and start reading the log from this
        node's own C{up} entry (returned: its data names the nodes already
        in the cluster, as JSON): what came before is not this node's to
        replay.
        """
        self._commands = await redis.connect(self.reactor, self.address)
        self._reads = await redis.connect(self.reactor, self.address, blocking=True)
        self.started = True
        return await self._join()

    async def _join(self) -> Entry:
        sent = self.clock()
        token, incarnation, entry_id, number, others = await self._run(
            scripts.JOIN,
            [
                self._stream, self._count, self._incarnation_key, self._prefix("fence"),
                self._nodes, self._lease, self._seq_key, self._ready, self.counts,
                self.counted,
            ],
            [self.settings.maxlen, self.node, self._ms, secrets.token_hex(8)],
        )  # fmt: skip
        self.token, self.incarnation = str(token), str(incarnation)
        self._seq = 0
        self._deadline = sent + self.settings.lease * 0.9
        self._last_id, self._number = str(entry_id), int(number)
        self._renewing = LoopingCall(self._renew)
        self._renewing.clock = self.reactor
        self._renewing.start(self.settings.lease / 3, now=False).addErrback(self._broken)
        self._reaping = LoopingCall(self._reap)
        self._reaping.clock = self.reactor
        self._reaping.start(self.settings.lease / 2, now=False).addErrback(self._broken)
        self._arm()
        if not self._reading:
            self._reading = True
            Deferred.fromCoroutine(self._read()).addErrback(self._broken)
        self.log.info(
            "Node {node} joined the cluster at {address} (fence {token})",
            node=self.node,
            address=str(self.address),
            token=self.token,
        )
        for joined in self.joined:
            joined()
        return Entry(self._last_id, self._number, self.node, self.token, 0, "up", str(others))

    async def rejoin(self) -> Entry:
        """
        Join again, under a new token, once fenced (its users gone).
        """
        self._stop_loops()
        return await self._join()

    async def stop(self) -> None:
        """
        Leave the cluster cleanly (once what is pending is acknowledged, if
        it can be), and close the connections.
        """
        self._stop_loops()
        self._reading = False
        if self.token is not None and self._deadline > self.clock():
            try:
                await self._settled()
                leaving = Deferred.fromCoroutine(
                    self._run(
                        scripts.LEAVE,
                        [
                            self._stream,
                            self._count,
                            self._nodes,
                            self._lease,
                            self._ready,
                            self.counts,
                            self.counted,
                        ],
                        [self.settings.maxlen, self.node, self.token],
                    )
                )
                # A broker that is away is not waited for: the lease ends it.
                await leaving.addTimeout(2, self.reactor)
            except Exception:
                self.log.failure("Leaving the cluster")
        for connection in (self._commands, self._reads):
            if connection is not None:
                await connection.disconnect()
        # What the connections had read is handed on in the next turn.
        await deferLater(self.reactor, 0.01, lambda: None)

    async def _settled(self) -> None:
        # What was appended has been acknowledged (or given up), or a second passed.
        for _ in range(20):
            if not self._queue:
                return
            await deferLater(self.reactor, 0.05, lambda: None)

    def _stop_loops(self) -> None:
        for loop in (self._renewing, self._reaping):
            if loop is not None and loop.running:
                loop.stop()
        self._renewing = self._reaping = None
        if self._watch is not None and self._watch.active():
            self._watch.cancel()
        self._watch = None

    def _arm(self) -> None:
        """
        Look at the lease again at its deadline (nine tenths of it after
        the last renewal that was answered), not only at the next renewal,
        which may come a third of a lease later: a node cut off from Redis
        puts its users out before the others may reap it, whatever the
        phase of its renewals.
        """
        if self._watch is not None and self._watch.active():
            self._watch.cancel()
        if self._renewing is None:
            # Stopped, or out of the cluster: no lease to watch (a renewal
            # answered after that finds none).
            self._watch = None
            return
        delay = max(0.0, self._deadline - self.clock()) + 0.001
        self._watch = self.reactor.callLater(delay, self._overdue)

    def _overdue(self) -> None:
        self._watch = None
        if self.token is not None:
            # As in _renew: decided once what came meanwhile is read.
            self.reactor.callLater(0, self._expired)

    def _prefix(self, name: str) -> str:
        return self.settings.prefix + name

    # The lease.

    def _renew(self) -> Deferred[None]:
        if self.clock() > self._deadline:
            # Timers run before the reactor reads what has come: after a
            # stall (a burst of thousands of lines handled at once), the
            # answer to the last renewal may be waiting, read. Decided once
            # it is (the next turn reads first).
            self.reactor.callLater(0, self._expired)
            return Deferred.fromCoroutine(_nothing())
        sent = self.clock()
        d = Deferred.fromCoroutine(
            self._run(
                scripts.RENEW,
                [self._incarnation_key, self._nodes, self._lease],
                [self.node, self.token, self._ms, self.incarnation],
            )
        )

        def renewed(_: object) -> None:
            if self.token is None:
                return
            self._deadline = max(self._deadline, sent + self.settings.lease * 0.9)
            self._arm()

        def refused(failure: Failure) -> None:
            if _final(failure):
                self._fence(_why(failure))
            elif self.clock() > self._deadline:
                self._fence("the broker could not be reached within its lease")

        # Not waited for: the next tick comes on time however long this one
        # takes (a link that hangs), and checks the deadline first.
        d.addCallbacks(renewed, refused)
        return Deferred.fromCoroutine(_nothing())

    def _expired(self) -> None:
        if self.token is None:
            return
        if self.clock() > self._deadline:
            self._fence("its lease ran out before it could renew it")
            return
        self._arm()  # woken early (clocks differ): look again at the deadline
        self._renew()

    def _reap(self) -> Deferred[None]:
        d = Deferred.fromCoroutine(
            self._run(
                scripts.REAP,
                [self._stream, self._count, self._nodes, self._ready],
                [
                    self.settings.maxlen,
                    self._prefix("lease:"),
                    self._prefix("conns:"),
                    self._prefix("connids:"),
                ],
            )
        )

        def reaped(nodes: list[str]) -> None:
            for node in nodes or ():
                self.log.warn("Node {node} was lost: its lease ran out", node=node)

        def failed(failure: Failure) -> None:
            # The broker is away; renewing notices what matters.
            pass

        return d.addCallbacks(reaped, failed)

    def ready(self) -> Deferred[None]:
        """
        Say that this node holds the chat's state now (it was given it):
        the nodes that join after it may be given it by this one.
        """
        if self.token is None:
            return fail(Fenced("this node is not in the cluster"))
        return Deferred.fromCoroutine(
            self._run(scripts.READY, [self._nodes, self._ready], [self.node, self.token])
        )

    def fence(self, why: str) -> None:
        """
        Leave the cluster in this node's own eyes, having learnt it is out
        (its own reaping read in the log): as when it finds it by itself.
        """
        self._fence(why)

    def _fence(self, why: str) -> None:
        """
        Leave the cluster in this node's own eyes: every append not
        acknowledged fails, and the owner is told (once).
        """
        if self.token is None:
            return
        self.log.error("Node {node} is out of the cluster: {why}", node=self.node, why=why)
        self.token = None
        self._deadline = float("-inf")
        self._stop_loops()
        pending, self._queue = self._queue, deque()
        for item in pending:
            item.done.errback(Fenced(why))
        self.fenced(why)

    # Appending.

    @property
    def waiting(self) -> int:
        """
        How many appends wait for Redis's acknowledgement.
        """
        return len(self._queue)

    @property
    def full(self) -> bool:
        """
        Whether as many appends wait as may (see L{append}).
        """
        return len(self._queue) >= self.settings.max_pending

    def append(self, kind: str, data: str, bounded: bool = True) -> Deferred[None]:
        """
        Append an entry: fires once Redis has it (every node, this one
        included, reads it back), or fails with L{Fenced} or L{Unavailable}.

        @param bounded: refused when L{full} (a message); a change of the
            chat's state (a logout) is never refused, or the others would
            keep a user who has gone.
        """
        if self.token is None:
            return fail(Fenced("this node is not in the cluster"))
        if bounded and len(self._queue) >= self.settings.max_pending:
            return fail(Unavailable(f"{len(self._queue)} messages wait for the broker already"))
        self._seq += 1
        item = _Pending(self._seq, kind, data)
        self._queue.append(item)
        if not self._sending:
            self._send()
        return item.done

    def _send(self) -> None:
        if self._sending or not self._queue or self.token is None:
            return
        batch = [self._queue[n] for n in range(min(self.settings.batch, len(self._queue)))]
        self._sending = True
        keys = [
            self._stream, self._count, self._incarnation_key, self._nodes, self._lease,
            self._seq_key,
        ]  # fmt: skip
        token = self.token
        entries = [part for item in batch for part in (item.seq, item.kind, item.data)]
        sent = Deferred.fromCoroutine(
            self._run(scripts.APPEND, keys, [*self._sender(token), *entries])
        )
        sent.addBoth(self._sent, batch)

    def _sender(self, token: str) -> list[Any]:
        return [self.settings.maxlen, self.node, token, self.incarnation]

    def _sent(self, result: object, batch: list[_Pending]) -> None:
        self._sending = False
        if not self._queue or self._queue[0] is not batch[0]:
            return  # fenced meanwhile: failed already
        if isinstance(result, Failure):
            if _final(result):
                self._fence(_why(result))
                return
            # Lost on the way: the batch goes again, in order, once the
            # connection is back (what was added already is recognised
            # by its numbers).
            self.reactor.callLater(0.05, self._send)
            return
        for item in batch:
            self._queue.popleft()
            item.done.callback(None)
        self._send()

    # Reading.

    async def _read(self) -> None:
        while self._reading:
            try:
                reply = await self._reads.execute_command(
                    "XREAD", "COUNT", self.settings.read_count, "BLOCK", 1000,
                    "STREAMS", self._stream, self._last_id,
                )  # fmt: skip
            except Exception as e:
                if not self._reading:
                    return
                self.log.debug("Reading the log: {why}", why=str(e))
                await deferLater(self.reactor, 0.05, lambda: None)
                continue
            if not reply:
                continue
            # A read sent before this node joined again may bring what
            # comes before its new place in the log: not its to apply.
            entries = list(map(entry_of, reply[0][1]))
            after = entry_order(self._last_id)
            if not entries or entry_order(entries[-1].id) <= after:
                continue
            if entry_order(entries[0].id) <= after:
                # (Ids only grow along one reply: only the first few can be old.)
                entries = [e for e in entries if entry_order(e.id) > after]
            self._last_id = entries[-1].id
            first = entries[0].number
            if first != self._number + 1:
                why = (
                    f"entries {self._number + 1} to {first - 1} of the log were missed"
                    if first > self._number + 1
                    else "the broker lost its state (its log starts again)"
                )
                self._number = entries[-1].number
                self.gap(why)
            self._number = entries[-1].number
            try:
                self.deliver(entries)
            except Exception:
                # A bug in applying must not stop this node reading the log.
                self.log.failure("Applying the cluster's log")

    async def _run(self, script: scripts.Script, keys: list[str], args: list[Any]) -> Any:
        return await scripts.run(self._commands, script, keys, args)

    def run(self, script: scripts.Script, keys: list[str], args: list[Any]) -> Deferred[Any]:
        """
        Run C{script} on this node's connection for commands (the one its
        appends go by): fails with L{Unavailable} before it has connected.
        """
        if self._commands is None:
            return fail(Unavailable("not connected to the broker yet"))
        return Deferred.fromCoroutine(self._run(script, keys, args))

    def _broken(self, failure: Failure) -> None:
        self.log.failure("The cluster's log", failure)


def entry_of(raw: list[Any]) -> Entry:
    """
    An entry as Redis gives it (its id, and its fields and values).
    """
    entry_id, values = raw
    if len(values) == 12 and values[0] == "g":
        # As the scripts write them, in this order (the fast way: every
        # node reads every entry).
        _, number, _, node, _, token, _, seq, _, kind, _, data = values
    else:
        fields = dict(zip(values[::2], values[1::2], strict=True))
        number, node, token = fields["g"], fields["n"], fields["t"]
        seq, kind, data = fields["s"], fields["k"], fields["d"]
    return Entry(str(entry_id), int(number), node, token, int(seq), kind, data)


def entry_order(entry_id: str) -> tuple[int, int]:
    """
    How stream ids compare: milliseconds, then the count within one.
    """
    ms, _, count = entry_id.partition("-")
    return int(ms), int(count or 0)


def _final(failure: Failure) -> bool:
    """
    Whether C{failure} says this node is out of the cluster (its script
    refused it), not that the broker is busy for a moment (C{LOADING} after
    a restart, C{BUSY}) or away: those are tried again.
    """
    return bool(failure.check(redis.Refused)) and failure.getErrorMessage().startswith(
        ("FENCED", "RESET")
    )


def _why(failure: Failure) -> str:
    text = failure.getErrorMessage()
    return text.split(" ", 1)[1] if " " in text else text


async def _nothing() -> None:
    return None
