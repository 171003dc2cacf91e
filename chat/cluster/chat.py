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

Every call of the interface is across nodes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred

from chat.cluster import codec
from chat.cluster.log import Entry
from chat.cluster.replica import Replica
from chat.core.errors import (
    AlreadyKept,
    AlreadyThere,
    ChatError,
    NoSuchRoom,
    NotFounder,
    NotInRoom,
    NotInThatRoom,
    NotRoomOperator,
    RoomNotKept,
)
from chat.core.events import (
    QUIT,
    Action,
    Ban,
    BanKind,
    Ctcp,
    Departure,
    KeptRoom,
    Lines,
    Message,
    PrivateMessage,
    Redacted,
    StatusMessage,
    TagMessage,
    Tags,
    Why,
)
from chat.core.interfaces import BanList, Participant, RoomStore, RoomView, UserView
from chat.core.limits import MAX_TOPIC_LENGTH
from chat.core.masks import address
from chat.core.model import ELSEWHERE
from chat.core.modes import Mode, ModeChange
from chat.core.registry import own
from chat.core.text import away_message, real_name

_Made = TypeVar("_Made", bound=codec.Said | None)
"""
A message of one kind, or none (what a replica's C{compose} methods give).
"""

CALLS = {
    "unkeep": "unkeep",
    "announce": "announce",
    "describe": "describe",
    "realname": "rename_real",
    "account": "set_account",
    "operator": "set_operator",
    "bot": "set_bot",
    "invisible": "set_invisible",
}
"""
The log's kinds of entry applied by the replica's method of that name, the
user it names first, and the rest of its data as they are.
"""


class HeldBans(BanList, Protocol):
    """
    A node's bans (L{chat.store.bans.Bans}), which also hold, in memory
    only, those set and lifted on other nodes (written there).
    """

    def hold(self, ban: Ban) -> None: ...

    def release(self, kind: BanKind, target: str) -> None: ...


class ClusterChat(Replica):
    """
    The chat of one node of a cluster (see the module's docstring): the
    calls of L{chat.core.interfaces.Chat} that change it, each appended to
    the log and applied by every node.
    """

    def __init__(
        self,
        node: str,
        permanent_rooms: tuple[str, ...] = (),
        crowd: int = 0,
        clock: Callable[[], float] = time.time,
        store: RoomStore | None = None,
    ) -> None:
        super().__init__(node, permanent_rooms, crowd, clock, store)
        # The bans this node holds in memory (set by the server).
        self.bans: HeldBans | None = None
        self._appliers.update(
            {
                "login": self._apply_login,
                "logout": self._apply_logout,
                "rename": self._apply_rename,
                "join": self._apply_join,
                "part": self._apply_part,
                "said": self._apply_said,
                "topic": self._apply_topic,
                "away": self._apply_away,
                "disconnect": self._apply_disconnect,
                "ban": self._apply_ban,
                "unban": self._apply_unban,
                "move": self._apply_move,
                "keep": self._apply_keep,
                "modes": self._apply_modes,
                "kick": self._apply_targeted,
                "invite": self._apply_targeted,
                "forget": self._apply_forget,
                **{kind: self._apply_call for kind in CALLS},
            }
        )

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
        return self._claim("move", None, self._id(user), source, destination, key)

    def _apply_move(self, entry: Entry, data: list[Any], mine: bool) -> None:
        _, user_id, source, destination, key = data
        self._settle(data, mine, self.replica.move(self._user(user_id), source, destination, key))

    def keep(self, user: UserView, name: str) -> Deferred[RoomView]:
        return self._claim("keep", None, self._id(user), name)

    def _apply_keep(self, entry: Entry, data: list[Any], mine: bool) -> None:
        _, user_id, name = data
        self._settle(data, mine, self.replica.keep(self._user(user_id), name))

    # Changes.

    def logout(self, user: UserView, departure: Departure = QUIT) -> None:
        user_id = self._ids.get(user)
        if user_id is not None and user.online:
            self._append("logout", user_id, codec.departure(departure)).addErrback(self._lost)

    def _apply_logout(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, departure = data
        self._forget(user_id, codec.departure_of(departure))

    def disconnect(self, user: UserView, departure: Departure) -> None:
        """
        Throw C{user} out (a ban, a ghost replaced): its own node closes its
        connection, which logs it out. On another node, every node is told
        through the log, and the user leaves there and then.
        """
        if self._local(user):
            self.replica.disconnect(user, departure)
            return
        user_id = self._ids.get(user)
        if user_id is not None:
            self._append("disconnect", user_id, codec.departure(departure)).addErrback(self._lost)

    def _apply_disconnect(self, entry: Entry, data: list[Any], mine: bool) -> None:
        # The user leaves the chat here, on every node, in the log's order
        # (not when its node's logout follows): a login just after this
        # entry finds its nickname free, as a ghost replaced from another
        # node must. Its own node then closes its connection.
        user_id, departure = data
        user = self._users.get(user_id)
        if user is None:
            return
        gone = codec.departure_of(departure)
        local = self._local(user)
        participant = user.participant
        self._forget(user_id, gone)
        if local:
            participant.disconnect(gone)

    # Bans: each node holds them in memory (they are checked at every
    # connection); one set or lifted on a node is told to the others.

    def banned(self, ban: Ban) -> None:
        """
        An operator of this node set C{ban} (written to the database here):
        every node holds it, and throws out its own users it shuts out.
        """
        self._append(
            "ban", ban.kind.value, ban.target, ban.until, ban.reason, ban.by, ban.created
        ).addErrback(self._lost)

    def unbanned(self, kind: BanKind, target: str) -> None:
        """
        An operator of this node lifted the ban on C{target}: every node lets it in again.
        """
        self._append("unban", kind.value, target).addErrback(self._lost)

    def _apply_ban(self, entry: Entry, data: list[Any], mine: bool) -> None:
        kind, target, until, reason, by, created = data
        ban = Ban(BanKind(kind), target, until, reason, by, created)
        if not mine and self.bans is not None:
            self.bans.hold(ban)
        departure = Departure(Why.BANNED, by, reason)
        for user in list(self.replica.everyone()):
            if not self._local(user) or mine:
                continue  # its own node throws it out (the operator's, at once)
            shut_out = (
                user.nickname.lower() == target.lower()
                if ban.kind is BanKind.NICK
                else own_host(user) == address(target)
            )
            if shut_out:
                self.replica.disconnect(user, departure)

    def _apply_unban(self, entry: Entry, data: list[Any], mine: bool) -> None:
        kind, target = data
        if not mine and self.bans is not None:
            self.bans.release(BanKind(kind), target)

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
        self._check_room_to_send()
        return self._sent(user, self.replica.compose(user, name, text, notice, tags, lines))

    def act(self, user: UserView, name: str, text: str) -> Action | None:
        self._check_room_to_send()
        return self._sent(user, self.replica.compose_action(user, name, text))

    def whisper(
        self, user: UserView, recipient: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> PrivateMessage | None:
        self._check_room_to_send()
        return self._sent(user, self.replica.compose_private(user, recipient, text, notice, tags))

    def _sent(self, user: UserView, event: _Made) -> _Made:
        """
        C{event}, made by the replica for C{user} (if anything was: text
        empty once cleaned is nothing), appended to the log: every node,
        this one too, hands it on as it applies it.
        """
        if event is not None:
            self._send(user, event)
        return event

    def _send(self, user: UserView, event: codec.Said) -> None:
        # A private message (or tags) goes to the user it was made for,
        # named by its id: by its nickname, it could reach whoever takes
        # that nickname before the entry is applied.
        recipient = getattr(event, "recipient", None)
        to = None
        if isinstance(recipient, str):
            found = self.replica.lookup(recipient)
            to = self._ids.get(found) if found is not None else None
        user_id = self._id(user)
        self._append("said", user_id, codec.said(event), to).addErrback(self._unsaid, user_id)

    def _apply_said(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, event, to = data
        user = self._users.get(user_id)
        if user is None:
            self._dropped(entry.id)
            return
        made = codec.said_of(event)
        if to is None and isinstance(getattr(made, "recipient", None), str):
            self._dropped(entry.id)
            return  # made for nobody known: nobody gets it
        recipient = self._users.get(to) if to is not None else None
        if to is not None and recipient is None:
            self._dropped(entry.id)
            return  # gone meanwhile
        if not mine:
            user.active = self._time()  # idle times are the same on every node
        if not self.replica.relay(user, made, recipient):
            self._dropped(entry.id)

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
        return away_message(text)

    def _apply_away(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, text = data
        self.replica.set_away(self._user(user_id), text)

    # Moderation: checked here as the replica stands (what the caller is
    # told at once), made as the log has it, on every node alike.

    def change_modes(
        self, user: UserView, name: str, changes: Sequence[ModeChange]
    ) -> tuple[list[ModeChange], list[ChatError]]:
        """
        The changes are made, and their refusals told to C{user}, once
        applied: its members, C{user} among them, are told what changed.
        """
        self._moderating(user, name)
        encoded = [[c.mode.value, c.on, c.argument] for c in changes]
        self._append("modes", self._id(user), name, encoded).addErrback(self._lost)
        return [], []

    def _apply_modes(self, entry: Entry, data: list[Any], mine: bool) -> None:
        user_id, name, encoded = data
        user = self._user(user_id)
        changes = [ModeChange(Mode(mode), on, argument) for mode, on, argument in encoded]
        try:
            _, refused = self.replica.change_modes(user, name, changes)
        except ChatError as e:
            refused = [e]
        tell = getattr(user.participant, "tell", None)
        if mine and tell is not None:
            for error in refused:
                tell(error)

    def kick(self, user: UserView, name: str, nickname: str, reason: str | None) -> UserView:
        room = self._moderating(user, name)
        target = self.replica.find(nickname)
        if target not in room:
            raise NotInThatRoom(target.nickname, room.name)
        # The target by its id: whoever has its nickname when the entry is
        # applied (it may have changed hands) is not the one meant.
        target_id = self._id(target)
        self._append("kick", self._id(user), name, target_id, reason).addErrback(self._lost)
        return target

    def invite(self, user: UserView, name: str, nickname: str) -> UserView:
        target = self.replica.find(nickname)
        try:
            room: RoomView | None = self.replica.room(name)
        except NoSuchRoom:
            room = None
        if room is not None:
            if user not in room:
                raise NotInRoom(room.name)
            if Mode.INVITE_ONLY in room.flags:
                self._moderating(user, name)
            if target in room:
                raise AlreadyThere(target.nickname, room.name)
        self._append("invite", self._id(user), name, self._id(target)).addErrback(self._lost)
        return target

    def unkeep(self, user: UserView, name: str) -> str:
        room = self.replica.room(name)
        if room.permanent:
            raise AlreadyKept(room.name, None)
        if room.founder is None:
            raise RoomNotKept(room.name)
        if not user.operator and (user.account or "").lower() != room.founder.lower():
            raise NotFounder(room.name, room.founder)
        self._append("unkeep", self._id(user), name).addErrback(self._lost)
        return room.name

    def _apply_targeted(self, entry: Entry, data: list[Any], mine: bool) -> None:
        """
        A kick or an invitation, on the user it was meant for (by its id),
        under the nickname it has now; nothing if it has gone.
        """
        user_id, name, target_id, *rest = data
        user, target = self._users.get(user_id), self._users.get(target_id)
        if user is not None and target is not None:
            with suppress(ChatError):
                getattr(self.replica, entry.kind)(user, name, target.nickname, *rest)

    def _moderating(self, user: UserView, name: str) -> RoomView:
        room = self.replica.room(name)
        if user not in room.operators and not user.operator:
            raise NotRoomOperator(room.name)
        return room

    def forget_account(self, account: str) -> None:
        self._append("forget", account).addErrback(self._lost)

    def restore(self, rooms: Sequence[KeptRoom]) -> None:
        # Before joining: alone, these are the chat's; otherwise the state
        # a node in the cluster gives this one replaces them.
        self.replica.restore(rooms)

    def announce(self, user: UserView, text: str) -> None:
        self._append("announce", self._id(user), text).addErrback(self._lost)

    # What users say of themselves, and what their sessions decide of them.

    def describe(self, user: UserView, username: str, realname: str) -> None:
        self._append("describe", self._id(user), username, realname).addErrback(self._lost)

    def rename_real(self, user: UserView, realname: str) -> str | None:
        cleaned = real_name(realname, MAX_TOPIC_LENGTH)
        if cleaned is not None:
            self._append("realname", self._id(user), realname).addErrback(self._lost)
        return cleaned

    def set_account(self, user: UserView, account: str | None) -> None:
        self._append("account", self._id(user), account).addErrback(self._lost)

    def set_operator(self, user: UserView, operator: bool) -> None:
        self._append("operator", self._id(user), operator).addErrback(self._lost)

    def set_bot(self, user: UserView, bot: bool) -> None:
        self._append("bot", self._id(user), bot).addErrback(self._lost)

    def set_invisible(self, user: UserView, invisible: bool) -> None:
        self._append("invisible", self._id(user), invisible).addErrback(self._lost)

    def _apply_call(self, entry: Entry, data: list[Any], mine: bool) -> None:
        """
        Apply a change made by a method of the replica of the same name
        (C{KINDS}), on the user the entry names first: refused meanwhile
        (the user gone, its rights taken), it is refused on every node.
        """
        user_id, *arguments = data
        user = self._users.get(user_id)
        if user is not None:
            with suppress(ChatError):
                getattr(self.replica, CALLS[entry.kind])(user, *arguments)

    def _apply_forget(self, entry: Entry, data: list[Any], mine: bool) -> None:
        self.replica.forget_account(data[0])

    def tag(self, user: UserView, target: str, tags: Tags, room: bool) -> TagMessage:
        self._check_room_to_send()
        return self._sent(user, self.replica.compose_tag(user, target, tags, room))

    def redact(self, user: UserView, name: str, msgid: str, reason: str | None) -> Redacted:
        self._check_room_to_send()
        return self._sent(user, self.replica.compose_redaction(user, name, msgid, reason))

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
        self._check_room_to_send()
        return self._sent(
            user, self.replica.compose_status(user, name, to, text, notice, tags, action)
        )

    def ctcp(
        self, user: UserView, name: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> Ctcp | None:
        self._check_room_to_send()
        return self._sent(user, self.replica.compose_ctcp(user, name, text, notice, tags))


def own_host(user: UserView) -> str:
    """
    The address C{user} connects from, as bans name it (never shown).
    """
    return own(user).host
