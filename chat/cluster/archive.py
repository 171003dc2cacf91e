"""
A cluster's history, written once: by whichever node reads each entry of
the log in the archive's consumer group.

Every node reads the whole log (L{chat.cluster.log}) to deliver it; the
archive is a second reading, shared out: a Redis consumer group hands each
entry to one node of those reading in it, and keeps it as pending until
that node acknowledges it, which it does once the messages among the
entries it was handed are committed to the database. So:

 - a message refused on its way to the log (a node fenced, a broker away) is
   in no one's history, as it reached no one;
 - a node killed between its write and its acknowledgement leaves its
   entries pending: another node claims them once they have waited
   L{Archive.claim_after} seconds and writes them again, and each message's
   id, kept once by the database, makes that write add nothing;
 - a write that fails (the database restarting) leaves them pending, and
   they are written again, by this node or by another;
 - a read of history first waits (L{Archive.caught_up}, at most
   L{Archive.wait}) until everything this node has delivered is written,
   so that what a user has seen on any node is in the history it asks for.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster import codec, jsontext, redis, scripts
from chat.cluster.log import Entry, entry_of, entry_order
from chat.cluster.redis import Address
from chat.core.events import Action, Message, PrivateMessage

Archived = Message | Action | PrivateMessage

GROUP = "archive"
"""
The consumer group's name.
"""

STOP_WAIT = 5.0
"""
Seconds a stopping node waits to write what it was handed last (the
archive's share it read): longer, and Redis is taken to be away.
"""

LINGER = 0.05
"""
Seconds the archive lets entries gather after writing a share smaller than
a whole batch, before it reads again: at a few messages a second, each
would otherwise cost a read, a transaction and an acknowledgement of its
own (most of a cluster's CPU when paced). A read of history cuts it short
(L{Archive.caught_up}), so what a user asks for is never later for it.
"""

APPLIED_WAIT = 5.0
"""
Seconds the archive waits for this node's replica to apply what it was
handed (then it keeps them all: a replica that has not applied them, as
after joining again, cannot say which were dropped).
"""

_KEPT_KINDS = ("m", "a", "p")
"""
The messages of the log kept in history (as on one server: messages,
notices, actions and private messages).
"""


class Applied(Protocol):
    """
    What the archive needs of this node's replica (L{chat.cluster.replica}).
    """

    @property
    def position(self) -> str:
        """
        The id of the last entry of the log it applied.
        """

    def dropped(self, entry_id: str) -> bool:
        """
        Whether the message of that entry, applied, was given to nobody.
        """


class Archive:
    """
    This node's share of the archive.

    @ivar keep: writes messages as one transaction, each at its place in
        the log's order (L{place}); fires once committed.
    @ivar replica: this node's, which applies the same log: a message it
        gave to nobody is not kept (every node decides alike).
    """

    log = Logger()

    def __init__(
        self,
        reactor: Any,
        address: Address,
        node: str,
        keep: Callable[[Sequence[Archived], Sequence[int]], Deferred[None]],
        replica: Applied,
        prefix: str = "chat:",
        claim_after: float = 5.0,
        retry: float = 1.0,
        batch: int = 1000,
        wait: float = 2.0,
        linger: float = LINGER,
    ) -> None:
        """
        @param claim_after: seconds an entry handed to a node waits unwritten
            before another may claim it (the node is taken as lost).
        @param retry: seconds between attempts while writes fail.
        @param batch: entries read, and written, at once.
        @param wait: seconds a read of history waits for the archive.
        @param linger: seconds entries gather after a share smaller than
            C{batch} (L{LINGER}).
        """
        self.reactor = reactor
        self.address = address
        self.node = node
        self.keep = keep
        self.replica = replica
        self.claim_after = claim_after
        self.retry = retry
        self.batch = batch
        self.wait = wait
        self.linger = linger
        # The pause between two reads while entries gather (see LINGER),
        # and how many reads of history wait for the archive (none pauses
        # while one does).
        self._lingering: Deferred[None] | None = None
        self._readers = 0
        self._stream = prefix + "log"
        self._commands: Any = None
        self._reads: Any = None
        self._running = False
        self._loop: Deferred[None] | None = None
        self._claiming: LoopingCall | None = None
        self._failing_since: float | None = None
        # Entries trimmed before anyone was handed them, as last told.
        self._unhanded = 0
        # Messages written, and entries given up (trimmed before written).
        self.written = 0
        self.lost = 0

    async def start(self) -> None:
        """
        Connect, and start reading: first what this node was handed and did
        not acknowledge in an earlier life, then what comes.
        """
        self._commands = await redis.connect(self.reactor, self.address)
        self._reads = await redis.connect(self.reactor, self.address, blocking=True)
        await self._check_version()
        self._running = True
        self._loop = Deferred.fromCoroutine(self._read())
        self._loop.addErrback(self._broken)
        self._claiming = LoopingCall(self._claim)
        self._claiming.clock = self.reactor
        self._claiming.start(self.claim_after / 2, now=False).addErrback(self._broken)

    async def _check_version(self) -> None:
        """
        Say so if Redis is older than 7, whose consumer groups the archive
        needs (C{XAUTOCLAIM} as it answers there, C{entries-read}).
        """
        info = str(await self._commands.execute_command("INFO", "server"))
        found = re.search(r"redis_version:(\d+)", info)
        if found is not None and int(found.group(1)) < 7:
            self.log.error(
                "Redis {version} is too old for the cluster's history (7 or later is needed): "
                "entries a lost node had been handed are not taken over",
                version=found.group(1),
            )

    async def stop(self) -> None:
        """
        Stop reading once what was read is written (a blocking read ends
        within a second), then close the connections.
        """
        self._running = False
        self._hurry()
        if self._claiming is not None and self._claiming.running:
            self._claiming.stop()
        if self._loop is not None:
            # Not for ever: with Redis away, a read waits for it (its
            # connection holds commands until it is back), and the server
            # would not stop.
            with contextlib.suppress(defer.TimeoutError, defer.CancelledError):
                # Cut short, it says so (_broken).
                await self._loop.addTimeout(STOP_WAIT, self.reactor)
        for connection in (self._commands, self._reads):
            if connection is not None:
                await connection.disconnect()

    async def _group(self) -> None:
        """
        Make the group if there is none (the first node; a broker that came
        back empty). From the log's start: what it holds and was written
        already is recognised by its ids.
        """
        try:
            await self._commands.execute_command(
                "XGROUP", "CREATE", self._stream, GROUP, "0", "MKSTREAM"
            )
        except redis.Refused as e:
            if not str(e).startswith("BUSYGROUP"):
                raise

    async def _read(self) -> None:
        # "0": what this node was handed and has not acknowledged; ">": new entries.
        after = "0"
        while True:
            if not self._running and after == ">":
                # Stopping: what is there now, without waiting for more.
                try:
                    reply = await self._fetch(after, block=False)
                except Exception as e:
                    # Redis away, or back empty: what this node was handed
                    # and did not write is another's after the lease.
                    self.log.info("Stopping without the archive's last share: {why}", why=str(e))
                    return
                if reply:
                    await self._archive(reply)
                return
            try:
                reply = await self._fetch(after, block=after == ">")
            except Exception as e:
                if not self._running:
                    return
                self.log.debug("Reading the archive's share: {why}", why=str(e))
                if "NOGROUP" in str(e):
                    await self._ensure_group()
                await deferLater(self.reactor, 0.05, lambda: None)
                continue
            if after != ">":
                if not reply:
                    after = ">"
                    continue
                after = str(reply[-1][0])
            if reply and not await self._archive(reply):
                # Not written: it stays this node's, and is tried again from
                # the start of what it holds (or by another node, if this
                # one is stopping).
                if not self._running:
                    return
                after = "0"
                await deferLater(self.reactor, self.retry, lambda: None)
            elif (
                reply
                and after == ">"
                and len(reply) < self.batch
                and self._running
                and not self._readers
            ):
                await self._gather()

    async def _gather(self) -> None:
        """
        Let the next entries gather for L{linger} seconds (or until a read
        of history or the server's stop cuts it short).
        """
        self._lingering = deferLater(self.reactor, self.linger, lambda: None)
        try:
            await self._lingering
        except defer.CancelledError:
            pass
        finally:
            self._lingering = None

    def _hurry(self) -> None:
        if self._lingering is not None:
            self._lingering.cancel()

    async def _ensure_group(self) -> None:
        try:
            await self._group()
        except Exception as e:
            self.log.debug("Making the archive's group: {why}", why=str(e))

    async def _fetch(self, after: str, block: bool) -> list[Any]:
        if self._commands is not None and after == "0":
            await self._group()
        wait = ["BLOCK", 1000] if block else []
        reply = await self._reads.execute_command(
            "XREADGROUP", "GROUP", GROUP, self.node, "COUNT", self.batch, *wait,
            "STREAMS", self._stream, after,
        )  # fmt: skip
        return list(reply[0][1]) if reply else []

    async def _archive(self, raw: list[Any]) -> bool:
        """
        Write the messages among C{raw} (entries as Redis gives them), then
        acknowledge them all; whether they were written.
        """
        ids = [str(item[0]) for item in raw]
        gone = [entry_id for entry_id, item in zip(ids, raw, strict=True) if item[1] is None]
        if gone:
            self._gone(gone)
        # Whether each was given to anyone is this node's replica's to say,
        # once it has applied them.
        await self._applied(ids[-1])
        kept, places = [], []
        for item in raw:
            if item[1] is None:
                continue
            try:
                entry = entry_of(item)
                message = _message(entry)
            except Exception:
                # Not this version's to read (another's, in an upgrade): left
                # out, said once, and the rest go on.
                self.log.failure("An entry of the log the archive cannot read: {id}", id=item[0])
                continue
            if message is not None and not self.replica.dropped(entry.id):
                kept.append(message)
                places.append(place(entry.id))
        if kept:
            try:
                await self.keep(kept, places)
            except Exception as e:
                if self._failing_since is None:
                    # Once per outage, not once per attempt.
                    self._failing_since = self.reactor.seconds()
                    self.log.error(
                        "Could not write {count} messages to the history ({why}); "
                        "they wait in the log, tried again every {retry} s",
                        count=len(kept),
                        why=str(e),
                        retry=self.retry,
                    )
                return False
            self.written += len(kept)
            if self._failing_since is not None:
                self.log.info(
                    "Writing the history works again (it failed for {seconds:.0f} s)",
                    seconds=self.reactor.seconds() - self._failing_since,
                )
                self._failing_since = None
        try:
            await self._commands.execute_command("XACK", self._stream, GROUP, *ids)
        except Exception as e:
            # Written: written again later, by ids, adds nothing.
            self.log.debug("Acknowledging archived entries: {why}", why=str(e))
        return True

    async def _applied(self, last: str) -> None:
        """
        Wait (a few seconds at most) until this node's replica has applied
        the entry C{last}: both read the same log, each at its own pace.
        """
        pause, waited = 0.002, 0.0
        while (
            entry_order(self.replica.position) < entry_order(last)
            and waited < APPLIED_WAIT
            and self._running  # stopping: the replica may apply nothing more
        ):
            await deferLater(self.reactor, pause, lambda: None)
            waited += pause
            pause = min(pause * 2, 0.05)

    def _gone(self, ids: list[str]) -> None:
        self.lost += len(ids)
        self.log.error(
            "{count} entries of the log were trimmed before they could be written to "
            "the history (the archive fell more than the log's length behind)",
            count=len(ids),
        )

    def _claim(self) -> Deferred[None]:
        return Deferred.fromCoroutine(self._claim_lost())

    async def _check_unhanded(self) -> None:
        """
        Say (once for each new loss) if entries were trimmed from the log
        before the group handed them out: the archive fell more than the
        log's length behind (the database away that long). They are lost to
        the history; never silently.
        """
        try:
            count = int(
                await scripts.run(self._commands, scripts.UNHANDED, [self._stream], [GROUP])
            )
        except Exception as e:
            self.log.debug("Checking the archive's place in the log: {why}", why=str(e))
            return
        if count > self._unhanded:
            self.lost += count - self._unhanded
            self.log.error(
                "{count} entries of the log were trimmed before the archive could write them "
                "to the history (it fell more than the log's length behind)",
                count=count - self._unhanded,
            )
        self._unhanded = max(self._unhanded, count)

    async def _claim_lost(self) -> None:
        """
        Take over the entries handed to a node that has not written them for
        C{claim_after} seconds (lost, or its writes fail), and write them.
        """
        await self._check_unhanded()
        start = "0-0"
        for _ in range(100):
            try:
                start, raw, deleted = await self._commands.execute_command(
                    "XAUTOCLAIM", self._stream, GROUP, self.node,
                    int(self.claim_after * 1000), start, "COUNT", self.batch,
                )  # fmt: skip
            except Exception as e:
                self.log.debug("Claiming unwritten entries: {why}", why=str(e))
                return
            if deleted:
                self._gone([str(i) for i in deleted])
            if raw:
                self.log.info(
                    "Node {node} took over {count} entries of the archive left unwritten",
                    node=self.node,
                    count=len(raw),
                )
                if not await self._archive(list(raw)):
                    return  # they are this node's now: its reads try again
            if str(start) == "0-0" or not self._running:
                return

    def caught_up(self) -> Deferred[int | None]:
        """
        Fires once every entry this node has delivered is written (or after
        L{wait} seconds: the read goes on with what is written, Redis away
        or not), with the L{place} of the last: history is read up to
        there. Never fails.
        """
        if not self._running:
            return succeed(None)
        self._hurry()
        self._readers += 1
        position = self.replica.position
        waiting = Deferred.fromCoroutine(self._caught_up(position))
        # A command sent while Redis is away waits for it: not the reader.
        waiting.addTimeout(self.wait + 0.1, self.reactor)

        def done(_: object) -> int:
            self._readers -= 1
            return place(position)

        return waiting.addBoth(done)

    def place_now(self) -> int:
        """
        A place for a message kept outside the log (for an absent user):
        after what the log holds of this millisecond, by this node's clock;
        its low bits are random, so that two nodes' never meet.
        """
        ms = int(self.reactor.seconds() * 1000)
        return ms << 20 | 1 << 19 | secrets.randbits(19)

    async def _caught_up(self, position: str) -> None:
        pause = 0.002
        waited = 0.0
        while self._running:
            try:
                done = await scripts.run(
                    self._commands, scripts.ARCHIVED, [self._stream], [GROUP, position]
                )
            except Exception:
                return
            if int(done) or waited >= self.wait:
                if not int(done):
                    self.log.warn(
                        "History read {waited:.1f} s before the archive caught up with it",
                        waited=waited,
                    )
                return
            await deferLater(self.reactor, pause, lambda: None)
            waited += pause
            pause = min(pause * 2, 0.1)

    def _broken(self, failure: Failure) -> None:
        if failure.check(defer.CancelledError) and not self._running:
            self.log.warn(
                "Stopped without writing the archive's last share: no answer from Redis "
                "within {seconds} s (another node writes it)",
                seconds=STOP_WAIT,
            )
            return
        self.log.failure("The cluster's archive", failure)


def place(entry_id: str) -> int:
    """
    The place in history's order of the message in the log's entry
    C{entry_id}: the log's order, as one number (its milliseconds, then
    its count within one, which Redis keeps far below 2**20). Nodes write
    their shares in parallel; history is read in this order, as they were
    heard.
    """
    ms, count = entry_order(entry_id)
    return ms << 20 | count


def _message(entry: Entry) -> Archived | None:
    """
    The message C{entry} carries, if it is one kept in history.
    """
    if entry.kind != "said":
        return None
    said = jsontext.loads(entry.data)[1]
    if said[0] not in _KEPT_KINDS:
        return None
    made = codec.said_of(said)
    if not isinstance(made, Message | Action | PrivateMessage):
        raise ValueError(f"not a message kept in history: {said[0]!r}")
    return made
