"""
The chat across nodes: each node keeps the in-memory chat
(L{chat.core.domain.MemoryChat}) as a replica of the whole chat, and changes
it only by applying the cluster's log (L{chat.cluster.log}), in the log's
order, as every other node does.

So the rules stay where they are. A nickname claimed on two nodes at once
goes to the claim that comes first in the log: every replica applies the
same claims in the same order and decides alike; the other claim fails, on
its own node, as it would have on one. A user of another node is a user of
the replica like any other, whose participant is nobody here (its own node
tells it what happens). Every replica applies an entry with the entry's
time, so that what a rule reads of the clock (a ban's end, a topic's time)
is the same everywhere.

Three kinds of call, as the L{chat.core.interfaces.Chat} interface has them:

 - queries answer from the replica, at once;
 - claims (login, rename, join) are appended, and answered once this node
   applies its own entry, with what the replica decided;
 - messages are made here (L{MemoryChat.compose}: checked, with their id
   and time) and returned at once, as on one node, and appended: every node,
   this one included, hands them on as it applies the entry
   (L{MemoryChat.relay}), in the log's one order. A sender silenced or put
   out meanwhile is silenced everywhere alike.

Not yet across nodes (they raise L{NotImplementedError}): kept rooms,
moderation (modes, kicks, invitations), the rest of what users change of
themselves, and a node joining a chat that has users already (it is to be
given the replica's state by one in it, as an entry of the log).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.cluster import codec
from chat.cluster.log import Entry, Log
from chat.core.domain import MemoryChat
from chat.core.errors import ChatError, NotInRoom
from chat.core.events import (
    QUIT,
    Action,
    Ctcp,
    Departure,
    Event,
    Lines,
    Message,
    PrivateMessage,
    Redacted,
    RoomFilter,
    RoomInfo,
    StatusMessage,
    TagMessage,
    Tags,
    Was,
    Why,
)
from chat.core.interfaces import Participant, RoomStore, RoomView, UserView
from chat.core.modes import Mode, ModeChange
from chat.core.text import clean

NODE_LOST = Departure(Why.NODE_LOST)
"""
How the users of a node that was lost left.
"""


class _Elsewhere:
    """
    The participant of a user on another node: its own node tells it what
    happens, so nothing is told here.
    """

    __slots__ = ()

    def receive(self, event: Event) -> None:
        pass

    def disconnect(self, departure: Departure) -> None:
        pass

    def removed(self, room: str) -> None:
        pass


ELSEWHERE = _Elsewhere()


class ClusterChat:
    """
    The chat of one node of a cluster (see the module's docstring).

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
        self.replica = MemoryChat(permanent_rooms, crowd, self._time, None, store)
        self.journal: Log | None = None
        # Users by their id in the cluster, the node (and its token) each is on.
        self._users: dict[str, Any] = {}
        self._ids: dict[Any, str] = {}
        self._homes: dict[str, tuple[str, str]] = {}
        self._made = 0
        # This node's claims waiting for their entry: (the answer, the participant).
        self._claims: dict[int, tuple[Deferred[Any], Participant | None]] = {}
        self._appliers: dict[str, Callable[[Entry, Any, bool], None]] = {
            "login": self._apply_login,
            "logout": self._apply_logout,
            "rename": self._apply_rename,
            "join": self._apply_join,
            "part": self._apply_part,
            "said": self._apply_said,
            "topic": self._apply_topic,
            "away": self._apply_away,
            "lost": self._apply_lost,
            "down": self._apply_lost,
        }

    def _time(self) -> float:
        return self._at if self._at is not None else self._clock()

    # The log's side.

    def apply(self, entries: list[Entry]) -> None:
        """
        Apply the log's entries, in order (the log's C{deliver}).
        """
        for entry in entries:
            applier = self._appliers.get(entry.kind)
            if applier is None:
                continue
            self._at = int(entry.id.split("-", 1)[0]) / 1000
            mine = self.journal is not None and (entry.node, entry.token) == (
                self.node,
                self.journal.token,
            )
            try:
                applier(entry, json.loads(entry.data) if entry.data else None, mine)
            except Exception:
                self.log.failure(
                    "Applying the log's entry {id} ({kind})", id=entry.id, kind=entry.kind
                )
            finally:
                self._at = None

    def fenced(self, why: str) -> None:
        """
        This node is out of the cluster: its users are told and let go (the log's C{fenced}).
        """
        for user_id, home in list(self._homes.items()):
            if home[0] == self.node:
                user = self._users.get(user_id)
                if user is not None and user.online:
                    user.participant.disconnect(NODE_LOST)

    def gap(self, why: str) -> None:
        """
        Entries were missed (the log's C{gap}): the replica can no longer be
        trusted, and its users are told and let go, as when fenced.
        """
        self.log.error("The cluster's log has a gap ({why})", why=why)
        self.fenced(why)

    def _append(self, kind: str, *data: Any) -> Deferred[None]:
        if self.journal is None:
            return fail(RuntimeError("not in a cluster yet"))
        return self.journal.append(kind, json.dumps(data))

    def _claim(self, kind: str, participant: Participant | None, *data: Any) -> Deferred[Any]:
        self._made += 1
        claim = self._made
        answer: Deferred[Any] = Deferred()
        self._claims[claim] = (answer, participant)

        def unsent(failure: Failure) -> None:
            waiting = self._claims.pop(claim, None)
            if waiting is not None:
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

    def _user(self, user_id: str) -> Any:
        return self._users[user_id]

    def _id(self, user: UserView) -> str:
        return self._ids[user]

    # Claims.

    def login(
        self,
        nickname: str,
        participant: Participant,
        account: str | None = None,
        operator: bool = False,
        host: str | None = None,
    ) -> Deferred[UserView]:
        self._made += 1
        user_id = f"{self.node}.{self._made}"
        return self._claim("login", participant, user_id, nickname, account, operator, host)

    def _apply_login(self, entry: Entry, data: list[Any], mine: bool) -> None:
        claim, user_id, nickname, account, operator, host = data
        participant: Participant = ELSEWHERE
        if mine and claim in self._claims:
            participant = self._claims[claim][1] or ELSEWHERE
        outcome = self.replica.login(nickname, participant, account, operator, host)

        def made(user: UserView) -> UserView:
            self._users[user_id] = user
            self._ids[user] = user_id
            self._homes[user_id] = (entry.node, entry.token)
            return user

        outcome.addCallback(made)
        self._settle(data, mine, outcome)

    def rename(self, user: UserView, nickname: str) -> Deferred[None]:
        self.replica.check_rename(user, nickname)
        return self._claim("rename", None, self._id(user), nickname)

    def _apply_rename(self, entry: Entry, data: list[Any], mine: bool) -> None:
        _, user_id, nickname = data
        self._settle(data, mine, self.replica.rename(self._user(user_id), nickname))

    def join(self, user: UserView, name: str, key: str | None = None) -> Deferred[RoomView]:
        return self._claim("join", None, self._id(user), name, key)

    def _apply_join(self, entry: Entry, data: list[Any], mine: bool) -> None:
        _, user_id, name, key = data
        self._settle(data, mine, self.replica.join(self._user(user_id), name, key))

    def move(
        self, user: UserView, source: str, destination: str, key: str | None = None
    ) -> Deferred[RoomView]:
        raise NotImplementedError("moving between rooms is not across nodes yet")

    def keep(self, user: UserView, name: str) -> Deferred[RoomView]:
        raise NotImplementedError("kept rooms are not across nodes yet")

    # Changes.

    def logout(self, user: UserView, departure: Departure = QUIT) -> None:
        user_id = self._ids.get(user)
        if user_id is not None and user.online:
            self._append("logout", user_id, codec.departure(departure)).addErrback(self._lost)

    def _apply_logout(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, departure = data
        self._forget(user_id, codec.departure_of(departure))

    def _forget(self, user_id: str, departure: Departure) -> None:
        user = self._users.pop(user_id, None)
        self._homes.pop(user_id, None)
        if user is not None:
            self._ids.pop(user, None)
            self.replica.logout(user, departure)

    def _apply_lost(self, entry: Entry, data: None, mine: bool) -> None:
        home = (entry.node, entry.token)
        for user_id in [u for u, h in self._homes.items() if h == home]:
            self._forget(user_id, NODE_LOST)

    def disconnect(self, user: UserView, departure: Departure) -> None:
        # On its own node, its connection closes, which logs it out.
        self.replica.disconnect(user, departure)

    def close(self) -> None:
        self.replica.close()

    def part(
        self, user: UserView, name: str, destination: str | None = None, reason: str | None = None
    ) -> str:
        # Checked here, as the replica stands now; made as the log has it.
        room = self.replica.room(name)
        if user not in room:
            raise NotInRoom(room.name)
        self._append("part", self._id(user), name, destination, reason).addErrback(self._lost)
        return room.name

    def _apply_part(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, name, destination, reason = data
        # Gone meanwhile, or never there: as on every node.
        with suppress(ChatError):
            self.replica.part(self._user(user_id), name, destination, reason)

    def say(
        self,
        user: UserView,
        name: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        lines: Lines = (),
    ) -> Message | None:
        event = self.replica.compose(user, name, text, notice, tags, lines)
        if event is not None:
            self._send(user, event)
        return event

    def act(self, user: UserView, name: str, text: str) -> Action | None:
        event = self.replica.compose_action(user, name, text)
        if event is not None:
            self._send(user, event)
        return event

    def whisper(
        self, user: UserView, recipient: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> PrivateMessage | None:
        event = self.replica.compose_private(user, recipient, text, notice, tags)
        if event is not None:
            self._send(user, event)
        return event

    def _send(self, user: UserView, event: codec.Said) -> None:
        self._append("said", self._id(user), codec.said(event)).addErrback(self._lost)

    def _apply_said(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, event = data
        user = self._users.get(user_id)
        if user is not None:
            self.replica.relay(user, codec.said_of(event))

    def set_topic(self, user: UserView, name: str, topic: str) -> None:
        room = self.replica.room(name)
        if user not in room:
            raise NotInRoom(room.name)
        self._append("topic", self._id(user), name, topic).addErrback(self._lost)

    def _apply_topic(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, name, topic = data
        with suppress(ChatError):
            self.replica.set_topic(self._user(user_id), name, topic)

    def set_away(self, user: UserView, text: str | None) -> str | None:
        self._append("away", self._id(user), text).addErrback(self._lost)
        return clean(text or "").strip() or None

    def _apply_away(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, text = data
        self.replica.set_away(self._user(user_id), text)

    def _lost(self, failure: Failure) -> None:
        self.log.warn("Not appended to the cluster's log: {why}", why=failure.getErrorMessage())

    # Not across nodes yet.

    def tag(self, user: UserView, target: str, tags: Tags, room: bool) -> TagMessage:
        raise NotImplementedError("tags are not across nodes yet")

    def redact(self, user: UserView, name: str, msgid: str, reason: str | None) -> Redacted:
        raise NotImplementedError("deleting messages is not across nodes yet")

    def say_to(
        self,
        user: UserView,
        name: str,
        to: Mode,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        action: bool = False,
    ) -> StatusMessage | None:
        raise NotImplementedError("messages to a room's operators are not across nodes yet")

    def ctcp(
        self, user: UserView, name: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> Ctcp | None:
        raise NotImplementedError("CTCP is not across nodes yet")

    def announce(self, user: UserView, text: str) -> None:
        raise NotImplementedError("announcements are not across nodes yet")

    def change_modes(
        self, user: UserView, name: str, changes: Sequence[ModeChange]
    ) -> tuple[list[ModeChange], list[ChatError]]:
        raise NotImplementedError("room modes are not across nodes yet")

    def kick(self, user: UserView, name: str, nickname: str, reason: str | None) -> UserView:
        raise NotImplementedError("kicks are not across nodes yet")

    def unkeep(self, user: UserView, name: str) -> str:
        raise NotImplementedError("kept rooms are not across nodes yet")

    def forget_account(self, account: str) -> None:
        raise NotImplementedError("kept rooms are not across nodes yet")

    def restore(self, rooms: Sequence[Any]) -> None:
        raise NotImplementedError("kept rooms are not across nodes yet")

    def invite(self, user: UserView, name: str, nickname: str) -> UserView:
        raise NotImplementedError("invitations are not across nodes yet")

    def describe(self, user: UserView, username: str, realname: str) -> None:
        raise NotImplementedError("what users say of themselves is not across nodes yet")

    def rename_real(self, user: UserView, realname: str) -> str | None:
        raise NotImplementedError("what users say of themselves is not across nodes yet")

    def set_account(self, user: UserView, account: str | None) -> None:
        raise NotImplementedError("accounts are not across nodes yet")

    def set_operator(self, user: UserView, operator: bool) -> None:
        raise NotImplementedError("operators are not across nodes yet")

    def set_bot(self, user: UserView, bot: bool) -> None:
        raise NotImplementedError("bot mode is not across nodes yet")

    def set_invisible(self, user: UserView, invisible: bool) -> None:
        raise NotImplementedError("invisibility is not across nodes yet")

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
