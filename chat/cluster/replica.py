"""
One node's replica of the chat: the in-memory chat
(L{chat.core.domain.MemoryChat}) kept by applying the cluster's log
(L{chat.cluster.log}) in its order, with each entry's time, as every node
does (see L{chat.cluster.chat}, the calls of the chat interface over it).

Here: joining the cluster and being given the chat's state by a node in it
(L{chat.core.state}); applying entries, and buffering them until that
state is here; claims answered once this node applies its own entry; being
fenced (its users told, its replica forgotten, joining again); and the
queries, which the replica answers at once.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster import jsontext, scripts
from chat.cluster.log import Entry, Fenced, Log, entry_order
from chat.core import state
from chat.core.domain import MemoryChat
from chat.core.errors import StoreUnavailable
from chat.core.events import Departure, RoomFilter, RoomInfo, Was, Why
from chat.core.interfaces import Participant, RoomStore, RoomView, UserView
from chat.core.model import ELSEWHERE

NODE_LOST = Departure(Why.NODE_LOST)
"""
How the users of a node that was lost left.
"""

DROPS_KEPT = 100_000
"""
How many dropped messages a replica remembers (a few MB at most): the
archive asks about entries at most the log's length old.
"""


class Replica:
    """
    One node's replica of the chat, kept by applying the cluster's log: the
    machinery under L{chat.cluster.chat.ClusterChat} (joining, being given
    the chat's state, applying entries, claims, being fenced), and the
    queries, which the replica answers.

    @param node: this node's name, unique in the cluster.
    """

    log = Logger()

    def __init__(
        self,
        node: str,
        permanent_rooms: tuple[str, ...] = (),
        crowd: int = 0,
        clock: Callable[[], float] = time.time,
        store: RoomStore | None = None,
    ) -> None:
        self.node = node
        self._clock = clock
        # The time of the entry being applied (None: none is).
        self._at: float | None = None
        # The id of the last entry applied: what this node's users may have
        # been told of (history is read up to there).
        self.position = "0-0"
        # Whether messages are being refused (the log's queue full).
        self._refusing = False
        # The messages of the log nobody was given (their sender left, was
        # silenced...): every node decides alike, and the archive keeps
        # none of them. The last DROPS_KEPT, by entry id.
        self._drops: OrderedDict[str, None] = OrderedDict()
        self.replica = MemoryChat(permanent_rooms, crowd, self._time, None, store)
        self.journal: Log | None = None
        self._reactor: Any = None
        self._stopping = False
        self._rejoining: Any = None
        # Fired when the chat's state arrives (see start()).
        self._arrived: Deferred[None] | None = None
        # Users by their id in the cluster, the node (and its token) each is on.
        self._users: dict[str, Any] = {}
        self._ids: dict[Any, str] = {}
        self._homes: dict[str, tuple[str, str]] = {}
        self._made = 0
        # This node's claims waiting for their entry: (the answer, the participant).
        self._claims: dict[int, tuple[Deferred[Any], Participant | None]] = {}
        # Lines of this node's users not acknowledged when it lost the
        # cluster, by user id: they are told how many as they are let go.
        self._unsent: Counter[str] = Counter()
        # How each kind of entry is applied (the chat's own kinds added by it).
        self._appliers: dict[str, Callable[[Entry, Any, bool], None]] = {
            "lost": self._apply_lost,
            "down": self._apply_lost,
            "up": self._apply_up,
        }
        # Until this node has the chat's state: not ready, and what the log
        # brings waits (see L{start}).
        self._ready = True
        self._waiting: list[Entry] = []
        # Whether this node has joined the cluster, and what was asked of
        # the log before it had.
        self._joined = False
        self._early: list[tuple[str, str, Deferred[None]]] = []
        # Whether a join is under way (L{start}).
        self._starting = False

    def _time(self) -> float:
        return self._at if self._at is not None else self._clock()

    # Joining the cluster.

    async def start(self, journal: Log, reactor: Any, wait: float = 5.0) -> None:
        """
        Join the cluster through C{journal} (whose C{deliver} is L{apply}):
        alone, at once; otherwise once one of the nodes in it has given
        this one the chat's state (asked again, under a new token, if none
        has within C{wait} seconds).
        """
        self.journal = journal
        self._reactor = reactor
        self._ready = False
        self._starting = True
        try:
            await self._join(journal, reactor, wait)
        finally:
            self._starting = False

    async def _join(self, journal: Log, reactor: Any, wait: float) -> None:
        up = await (journal.rejoin() if journal.started else journal.start())
        self._joined = True
        # What came before this node's new place in the log is in the state it is given.
        self._waiting = [e for e in self._waiting if entry_order(e.id) > entry_order(up.id)]
        early, self._early = self._early, []
        for kind, data, later in early:
            journal.append(kind, data).chainDeferred(later)
        while True:
            others = jsontext.loads(up.data or "[]") or []
            if not others:
                self._adopted(None)
                return
            self._arrived = Deferred()
            self._arrived.addTimeout(wait, reactor)
            try:
                await self._arrived
            except (TimeoutError, defer.TimeoutError, defer.CancelledError):
                pass
            finally:
                self._arrived = None
            if self._ready or self._stopping:
                return
            self.log.warn("No node gave {node} the chat's state; asking again", node=self.node)
            up = await journal.rejoin()
            self._waiting = [e for e in self._waiting if entry_order(e.id) > entry_order(up.id)]

    def _adopted(self, entry: Entry | None) -> None:
        """
        The chat's state is here (C{entry}, or none: this node is alone):
        take it, then apply what came since, and from now on as it comes.
        """
        if entry is not None:
            given = jsontext.loads(entry.data)[0]
            if len(self.replica):
                self.replica.close()  # what it held before is the state's to say
            made = state.load(self.replica, given["state"], lambda _: ELSEWHERE)
            self._users.update(made)
            self._ids.update({user: user_id for user_id, user in made.items()})
            self._homes.update({user_id: (h[0], h[1]) for user_id, h in given["homes"].items()})
            if self.journal is not None:
                self.journal.ready().addErrback(self._lost)
        self._ready = True
        waiting, self._waiting = self._waiting, []
        self.apply(waiting)
        if self._arrived is not None and not self._arrived.called:
            self._arrived.callback(None)

    def _apply_up(self, entry: Entry, data: Any, mine: bool) -> None:
        # The first of the nodes a newcomer found gives it the state, as
        # the replica holds it with this entry applied (each node applies
        # the newcomer's entries after it, from its own reading).
        if mine or not data or min(data) != self.node:
            return
        given = {
            "for": [entry.node, entry.token],
            "state": state.dump(self.replica, self._ids),
            "homes": {user_id: list(home) for user_id, home in self._homes.items()},
        }
        self._append("state", given).addErrback(self._lost)

    # The log's side.

    def apply(self, entries: list[Entry]) -> None:
        """
        Apply the log's entries, in order (the log's C{deliver}).
        """
        journal = self.journal
        for entry in entries:
            if not self._ready:
                if entry.kind == "state" and self._for_me(entry):
                    self._adopted(entry)
                else:
                    self._waiting.append(entry)
                continue
            self.position = entry.id
            applier = self._appliers.get(entry.kind)
            if applier is None:
                continue
            self._at = int(entry.id.partition("-")[0]) / 1000
            # (The token is read again for each: an entry may fence this node.)
            mine = journal is not None and entry.node == self.node and entry.token == journal.token
            try:
                data = jsontext.loads(entry.data) if entry.data else None
                if entry.kind == "state" and isinstance(data, list):
                    data = data[0]
                applier(entry, data, mine)
            except Exception:
                self.log.failure(
                    "Applying the log's entry {id} ({kind})", id=entry.id, kind=entry.kind
                )
            finally:
                self._at = None

    def _dropped(self, entry_id: str) -> None:
        drops = self._drops
        drops[entry_id] = None
        if len(drops) > DROPS_KEPT:
            drops.popitem(last=False)

    def dropped(self, entry_id: str) -> bool:
        """
        Whether the message in the log's entry C{entry_id}, applied here,
        was given to nobody (one of the last L{DROPS_KEPT}).
        """
        return entry_id in self._drops

    def _for_me(self, entry: Entry) -> bool:
        journal = self.journal
        given = jsontext.loads(entry.data)[0]
        return journal is not None and given["for"] == [self.node, journal.token]

    def fenced(self, why: str) -> None:
        """
        This node is out of the cluster (the log's C{fenced}): its users
        are told and let go (the others have seen them leave, or will),
        what it knew is forgotten, and it joins again under a new token,
        to be given the chat's state anew.
        """
        self._joined = False
        # Until it has the chat's state again, what the log brings waits.
        self._ready = False
        unsent, self._unsent = self._unsent, Counter()
        for user_id, home in list(self._homes.items()):
            if home[0] == self.node:
                user = self._users.get(user_id)
                if user is not None and user.online:
                    user.participant.disconnect(Departure(Why.NODE_LOST, unsent=unsent[user_id]))
        if unsent:
            self.log.warn(
                "{count} lines of this node's users were not acknowledged: "
                "their users are told, and they are never sent again",
                count=sum(unsent.values()),
            )
        for waiting, _ in self._claims.values():
            waiting.errback(Failure(StoreUnavailable(why, writing=False)))
        self._claims.clear()
        # Nor is what waited to be appended once joined (the logouts of the
        # users just let go, claims of a join that did not end) appended
        # under the new fence: a login claim nobody waits for any more
        # would hold its nickname for a user that is not there.
        early, self._early = self._early, []
        for _, _, later in early:
            later.errback(Fenced(why))
        self.replica.close()
        self._users.clear()
        self._ids.clear()
        self._homes.clear()
        self._rejoin_later(1.0)

    def _rejoin_later(self, delay: float) -> None:
        """
        Join the cluster again in C{delay} seconds, and keep trying (the
        broker may be away, or loading) until it works or the server stops.
        """
        if self.journal is None or self._reactor is None or self._stopping:
            return
        if self._rejoining is not None and self._rejoining.active():
            return  # once is enough (fenced, then a gap found: one rejoining)
        journal, reactor = self.journal, self._reactor

        def failed(failure: Failure) -> None:
            self.log.warn(
                "Joining the cluster again failed ({why}); trying again",
                why=failure.getErrorMessage(),
            )
            self._rejoin_later(min(delay * 2, 5.0))

        def rejoin() -> None:
            if self._starting:
                # Joining already: that join asks again if no state comes.
                return
            Deferred.fromCoroutine(self.start(journal, reactor)).addErrback(failed)

        self._rejoining = self._reactor.callLater(delay, rejoin)

    async def stop(self) -> None:
        """
        Leave the cluster (the server is stopping): not to join again.
        """
        self._stopping = True
        if self._rejoining is not None and self._rejoining.active():
            self._rejoining.cancel()
        if self._arrived is not None and not self._arrived.called:
            self._arrived.cancel()
        if self.journal is not None:
            await self.journal.stop()

    def gap(self, why: str) -> None:
        """
        Entries were missed (the log's C{gap}): the replica can no longer be
        trusted, and its users are told and let go, as when fenced.
        """
        if not self._joined:
            # Out of the cluster already (fenced, and about to join again):
            # the entries of the log it left behind are not its any more.
            self.log.info("Entries missed while out of the cluster: {why}", why=why)
            return
        self.log.error("The cluster's log has a gap ({why})", why=why)
        self.fenced(why)

    def _apply_lost(self, entry: Entry, data: str | None, mine: bool) -> None:
        if mine and entry.kind == "lost" and self.journal is not None:
            # Reaped while it could not renew (stopped, cut off), or another
            # process joined under this node's name: out of the cluster, as
            # the others see it. Its users are told so.
            replaced = data == "replaced"
            self.journal.fence(
                scripts.REPLACED if replaced else "this node was reaped: its lease ran out"
            )
            return
        home = (entry.node, entry.token)
        for user_id in [u for u, h in self._homes.items() if h == home]:
            self._forget(user_id, NODE_LOST)

    # Appending, and claims answered from the log.

    def _check_room_to_send(self) -> None:
        """
        Refuse a message at once while as many wait for the broker as may:
        its sender is told it was not sent (rather than have it dropped).
        """
        journal = self.journal
        if journal is not None and journal.full:
            if not self._refusing:
                # Once while they are refused, not once a message.
                self._refusing = True
                self.log.warn(
                    "Refusing messages: {count} wait for the cluster's broker already",
                    count=journal.waiting,
                )
            raise StoreUnavailable("the cluster's broker is behind; try again", logged=True)
        if self._refusing:
            self._refusing = False
            self.log.info("Messages are taken again: the cluster's broker caught up")

    def _append(self, kind: str, *data: Any) -> Deferred[None]:
        if self.journal is None:
            return fail(RuntimeError("not in a cluster yet"))
        if not self._joined:
            # Asked before the node has joined (a login as it starts):
            # appended, in order, once it has.
            later: Deferred[None] = Deferred()
            self._early.append((kind, jsontext.dumps(data), later))
            return later
        return self.journal.append(kind, jsontext.dumps(data), bounded=kind == "said")

    def _claim(self, kind: str, participant: Participant | None, *data: Any) -> Deferred[Any]:
        self._made += 1
        claim = self._made
        answer: Deferred[Any] = Deferred()
        self._claims[claim] = (answer, participant)

        def unsent(failure: Failure) -> None:
            waiting = self._claims.pop(claim, None)
            if waiting is None:
                return
            if not failure.check(StoreUnavailable):
                # Fenced, or the broker behind: the claim was not made, and
                # its user is told so (not of an internal error).
                failure = Failure(StoreUnavailable(failure.getErrorMessage(), writing=False))
            waiting[0].errback(failure)

        self._append(kind, claim, *data).addErrback(unsent)
        return answer

    def _settle(self, data: list[Any], mine: bool, outcome: Deferred[Any]) -> Participant | None:
        """
        Hand C{outcome}, the replica's decision on a claim, to whoever on
        this node waits for it.
        """
        if not mine:
            outcome.addErrback(lambda _: None)
            return None
        waiting = self._claims.pop(data[0], None)
        if waiting is None:
            outcome.addErrback(lambda _: None)
            return None
        outcome.chainDeferred(waiting[0])
        return waiting[1]

    def _lost(self, failure: Failure) -> None:
        if failure.check(Fenced):
            # Out of the cluster: said once, not once an entry.
            return
        self.log.warn("Not appended to the cluster's log: {why}", why=failure.getErrorMessage())

    def _unsaid(self, failure: Failure, user_id: str) -> None:
        """
        A line of user C{user_id}'s was not acknowledged: counted, told to
        it if this node has lost the cluster (L{fenced}), else logged.
        """
        if failure.check(Fenced):
            self._unsent[user_id] += 1
        else:
            self._lost(failure)

    # Users by their ids in the cluster.

    def _user(self, user_id: str) -> Any:
        return self._users[user_id]

    def _id(self, user: UserView) -> str:
        return self._ids[user]

    def _forget(self, user_id: str, departure: Departure) -> None:
        user = self._users.pop(user_id, None)
        self._homes.pop(user_id, None)
        if user is not None:
            self._ids.pop(user, None)
            self.replica.logout(user, departure)

    def _local(self, user: UserView) -> bool:
        """
        Whether C{user} is this node's own (its connection is here).
        """
        home = self._homes.get(self._ids.get(user, ""))
        return (
            home is not None
            and self.journal is not None
            and home == (self.node, self.journal.token)
        )

    # What is this node's own: those it watches are its users.

    def watch(self, user: UserView, nicknames: Sequence[str]) -> list[tuple[str, UserView | None]]:
        return self.replica.watch(user, nicknames)

    def unwatch(self, user: UserView, nicknames: Sequence[str] | None) -> None:
        self.replica.unwatch(user, nicknames)

    # Queries: the replica's.

    def __len__(self) -> int:
        return len(self.replica)

    @property
    def peak(self) -> int:
        return self.replica.peak

    def online(self) -> list[str]:
        return self.replica.online()

    def is_online(self, nickname: str) -> bool:
        return self.replica.is_online(nickname)

    def find(self, nickname: str) -> UserView:
        return self.replica.find(nickname)

    def lookup(self, nickname: str) -> UserView | None:
        return self.replica.lookup(nickname)

    def everyone(self) -> list[UserView]:
        return self.replica.everyone()

    def room(self, name: str) -> RoomView:
        return self.replica.room(name)

    def members(self, name: str) -> list[str]:
        return self.replica.members(name)

    def rooms(
        self, start: int = 0, count: int | None = None, viewer: UserView | None = None
    ) -> list[RoomInfo]:
        return self.replica.rooms(start, count, viewer)

    def describe_rooms(
        self, names: Sequence[str], viewer: UserView | None = None
    ) -> list[RoomInfo]:
        return self.replica.describe_rooms(names, viewer)

    def find_rooms(
        self, wanted: RoomFilter, count: int, viewer: UserView | None = None
    ) -> tuple[list[RoomInfo], int]:
        return self.replica.find_rooms(wanted, count, viewer)

    def room_count(self, viewer: UserView | None = None) -> int:
        return self.replica.room_count(viewer)

    def rooms_in_use(self) -> int:
        return self.replica.rooms_in_use()

    def whowas(self, nickname: str, count: int | None = None) -> list[Was]:
        return self.replica.whowas(nickname, count)

    def watched(self, user: UserView) -> list[tuple[str, UserView | None]]:
        return self.replica.watched(user)

    def invitations(self, user: UserView) -> list[str]:
        return self.replica.invitations(user)

    def check_valid(self, nickname: str) -> None:
        self.replica.check_valid(nickname)

    def check_rename(self, user: UserView, nickname: str) -> None:
        self.replica.check_rename(user, nickname)
