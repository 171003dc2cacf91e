"""
Messages: what the in-memory chat (L{chat.core.domain.MemoryChat}) does
with what users say, to a room or to one another. The hot path.

Each kind of message is made (checked, given its id and time) apart from
being handed on: on one process, one after the other at once; in a cluster
(L{chat.cluster.chat}), made on the sender's node, and handed on by every
node as it applies the cluster's log (L{Messages.relay}), so that every copy
is the same message, in one order everywhere.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from chat.core.errors import CannotSend, ChatError
from chat.core.events import (
    Action,
    Announcement,
    Ctcp,
    Lines,
    Message,
    Meta,
    Multiline,
    PrivateMessage,
    PrivateMessageSent,
    Redacted,
    StatusMessage,
    TagMessage,
    Tags,
)
from chat.core.interfaces import RoomStore, UserView
from chat.core.kept import KeptRooms
from chat.core.limits import MULTILINE_MAX_LINES
from chat.core.model import Room, User, key_of
from chat.core.modes import Mode
from chat.core.registry import own
from chat.core.text import clean, clean_pieces, joined


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
        if not number:
            return out


Made = Message | Action | PrivateMessage | Ctcp | StatusMessage | TagMessage | Redacted
"""
What the C{compose} methods make and L{Messages.relay} hands on.
"""


class Messages(KeptRooms):
    """
    The chat's messages (see the module's docstring).
    """

    def __init__(
        self,
        permanent_rooms: tuple[str, ...] = (),
        crowd: int = 0,
        clock: Callable[[], float] = time.time,
        node: str | None = None,
        store: RoomStore | None = None,
    ) -> None:
        super().__init__(permanent_rooms, crowd, clock, store)
        # Message ids: this process's own prefix, then a count. By default
        # its start and a random part, so that ids never meet those of
        # another process (another node, or this server before a restart).
        if node is None:
            node = _base36(int(clock() * 1000)) + _base36(secrets.randbits(40))
        self._node = node
        self._sent = 0

    # Messages: the hot path.

    def say(
        self,
        user: UserView,
        name: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        lines: Lines = (),
    ) -> Message | None:
        """
        Text that is empty once cleaned is dropped.

        @param tags: what the sender's client gives other clients with it.
        @param lines: a message of several lines, as they were sent (then
            C{text} is not used: the message's text is them joined).
        """
        composed = self._compose(user, name, text, notice, tags, lines)
        if composed is None:
            return None
        room, event = composed
        self._broadcast(room, event, exclude=user)
        return event

    def compose(
        self,
        user: UserView,
        name: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        lines: Lines = (),
    ) -> Message | None:
        """
        The message L{say} would send, checked and made (its id, its time)
        but not sent: a clustered chat sends it through its log, and every
        node hands it on (L{relay}).
        """
        composed = self._compose(user, name, text, notice, tags, lines)
        return None if composed is None else composed[1]

    def _compose(
        self, user: UserView, name: str, text: str, notice: bool, tags: Tags, lines: Lines
    ) -> tuple[Room, Message] | None:
        self._check_online(user)
        room = self._speaking_room(user, name)
        if lines:
            lines = clean_pieces(lines[:MULTILINE_MAX_LINES])
            text = joined(lines)
        else:
            text = clean(text)
        if not text.strip():
            return None
        return room, Message(
            room.name, user.nickname, text, notice, self._meta(own(user), tags, lines)
        )

    def act(self, user: UserView, name: str, text: str) -> Action | None:
        event = self.compose_action(user, name, text)
        if event is not None:
            self._broadcast(self._rooms[key_of(event.room)], event, exclude=user)
        return event

    def compose_action(self, user: UserView, name: str, text: str) -> Action | None:
        """
        The action L{act} would send, made but not sent (see L{compose}).
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        text = clean(text)
        if not text.strip():
            return None
        return Action(room.name, user.nickname, text, self._meta(own(user)))

    def relay(self, user: UserView, event: Made, to: UserView | None = None) -> bool:
        """
        Hand on a message made by one of the C{compose} methods (here or on
        another node) from C{user}, if it may still say it: in the meantime
        it may have left, been put out or silenced (then nobody gets it, on
        any node: each decides alike). L{True} if it was handed on.

        @param to: the user a private message or tags were made for, as it
            was then (a cluster hands it on later): only that user gets
            it, whatever nickname it has now, and whoever has its nickname
            now does not. Without it, the user online under the nickname.
        """
        if not user.online:
            return False
        match event:
            case PrivateMessage():
                target = self._recipient(event.recipient, to)
                if target is None:
                    return False
                target.participant.receive(event)
                # A notice is not answered, not even with an away message.
                away = None if event.notice else target.away
                own(user).participant.receive(
                    PrivateMessageSent(
                        user.nickname, target.nickname, event.text, away, event.notice, event.meta
                    )
                )
                return True
            case TagMessage(recipient=str(recipient)):
                found = self._recipient(recipient, to)
                if found is not None:
                    found.participant.receive(event)
                return found is not None
            case Redacted():
                place = self._rooms.get(key_of(event.room))
                if place is None or place not in user.rooms:
                    return False
                self._broadcast(place, event, exclude=None)
                return True
        try:
            room = self._speaking_room(user, event.room or "")
        except ChatError:
            return False
        if isinstance(event, Ctcp) and Mode.NO_CTCP in room.flags:
            return False
        if isinstance(event, StatusMessage):
            told = room.operators if event.to is Mode.OPERATOR else room.operators | room.voiced
            for member in told:
                if member is not user:
                    member.participant.receive(event)
            return True
        self._broadcast(room, event, exclude=user)
        return True

    def _recipient(self, nickname: str, to: UserView | None) -> User | None:
        if to is None:
            return self._users.get(key_of(nickname))
        return own(to) if to.online else None

    def redact(self, user: UserView, name: str, msgid: str, reason: str | None) -> Redacted:
        """
        Tell C{name}'s members (C{user} too) that C{user} deleted the
        message C{msgid} there; whether it may is the session's to decide.
        """
        event = self.compose_redaction(user, name, msgid, reason)
        self.relay(user, event)
        return event

    def compose_redaction(
        self, user: UserView, name: str, msgid: str, reason: str | None
    ) -> Redacted:
        """
        The deletion L{redact} would tell, made but not told (see L{compose}).
        """
        self._check_online(user)
        room = self._member_room(user, name)
        return Redacted(room.name, user.nickname, msgid, reason)

    def _meta(self, user: User, tags: Tags = (), lines: Lines = ()) -> Meta:
        """
        A new message's id and what it carries of its sender. The sender is
        no longer idle.
        """
        user.active = now = self._clock()
        self._sent += 1
        msgid = f"{self._node}-{_base36(self._sent)}"
        # chat.core.events.said_at, inline: this is every message's path.
        at = int(now * 1000) / 1000
        if lines:
            return Multiline(msgid, user.account, user.bot, tags, at, lines)
        return Meta(msgid, user.account, user.bot, tags, at)

    def tag(self, user: UserView, target: str, tags: Tags, room: bool) -> TagMessage:
        """
        Send tags and nothing else to room C{target} (C{room}) or to the user C{target}.
        """
        event = self.compose_tag(user, target, tags, room)
        self.relay(user, event)
        return event

    def compose_tag(self, user: UserView, target: str, tags: Tags, room: bool) -> TagMessage:
        """
        The tags L{tag} would send, made but not sent (see L{compose}).
        """
        self._check_online(user)
        meta = self._meta(own(user), tags)
        if room:
            found = self._speaking_room(user, target)
            return TagMessage(user.nickname, found.name, None, meta)
        recipient = self.find(target)
        return TagMessage(user.nickname, None, recipient.nickname, meta)

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
        """
        Text that is empty once cleaned is dropped. Who may say something to
        the room may say it to some of its members.
        """
        event = self.compose_status(user, name, to, text, notice, tags, action)
        if event is not None:
            self.relay(user, event)
        return event

    def compose_status(
        self,
        user: UserView,
        name: str,
        to: Mode,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        action: bool = False,
    ) -> StatusMessage | None:
        """
        The message L{say_to} would send, made but not sent (see L{compose}).
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        text = clean(text)
        if not text.strip():
            return None
        meta = self._meta(own(user), tags)
        return StatusMessage(room.name, user.nickname, text, to, notice, action, meta)

    def ctcp(
        self, user: UserView, name: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> Ctcp | None:
        """
        Text that is empty once cleaned is dropped.

        @raise CannotSend: if the room takes no CTCP (C{+C}).
        """
        event = self.compose_ctcp(user, name, text, notice, tags)
        if event is not None:
            self.relay(user, event)
        return event

    def compose_ctcp(
        self, user: UserView, name: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> Ctcp | None:
        """
        The request L{ctcp} would send, made but not sent (see L{compose}).
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        if Mode.NO_CTCP in room.flags:
            raise CannotSend(room.name, CannotSend.NO_CTCP)
        text = clean(text).strip()
        if not text:
            return None
        return Ctcp(room.name, user.nickname, text, notice, self._meta(own(user), tags))

    def whisper(
        self, user: UserView, recipient: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> PrivateMessage | None:
        """
        @raise NoSuchUser: if nobody called C{recipient} is online.
        """
        event = self.compose_private(user, recipient, text, notice, tags)
        if event is not None:
            self.relay(user, event)
        return event

    def compose_private(
        self, user: UserView, recipient: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> PrivateMessage | None:
        """
        The private message L{whisper} would send, made but not sent (see L{compose}).
        """
        sender = own(user)
        self._check_online(sender)
        target = self.find(recipient)
        text = clean(text)
        if not text.strip():
            return None
        meta = self._meta(sender, tags)
        return PrivateMessage(sender.nickname, target.nickname, text, notice, meta, target.account)

    def announce(self, user: UserView, text: str) -> None:
        """
        Tell everyone online, in every room, C{user} included. (Who may do
        this is for the session to decide.)
        """
        self._check_online(user)
        text = clean(text)
        if not text.strip():
            return
        event = Announcement(user.nickname, text)
        for member in list(self._users.values()):
            member.participant.receive(event)
