"""
What a session's user says and where it goes: messages, actions, private
messages, rooms joined and left, and what it says of itself.

Saying something is the hot path: one call to the chat, which hands the
event to every member; the session then records it (it owns the write), so
that a clustered chat, which delivers on every node, keeps it once.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.defer import Deferred

from chat.core.errors import AlreadyInRoom, NoSuchRoom, NoSuchUser, TooManyRooms
from chat.core.events import (
    Action,
    Ctcp,
    Entry,
    Keeping,
    Lines,
    Message,
    Meta,
    PrivateMessage,
    StatusMessage,
    TagMessage,
    Tags,
)
from chat.core.interfaces import RoomView, UserView
from chat.core.limits import MAX_KEPT, ROOMS_PER_USER, SERVICE_NAMES, TokenBucket
from chat.core.model import key_of
from chat.core.modes import Mode
from chat.core.replies import (
    Away,
    Kept,
    NotKept,
    NotRedacted,
    RedactRefusal,
    Refused,
    TooManyRoomChanges,
    Topic,
)
from chat.core.session.base import Joins, SessionBase
from chat.core.text import clean, clean_pieces, joined


class Talk(SessionBase):
    """
    Messages and rooms.
    """

    __slots__ = ()

    def say(
        self,
        room: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        lines: Lines = (),
    ) -> Message | None:
        """
        Say C{text} in C{room}; with C{lines}, a message of several lines
        (IRCv3 multiline), its text their join.
        """
        user = self._logged_in()
        if self.service.settings.log_messages:
            # As the room sees it: no terminal escapes in the operator's log.
            # A message of several lines is one line in the log, "\n" between them.
            shown = joined(clean_pieces(lines)).replace("\n", "\\n") if lines else clean(text)
            self.log.info("<{nickname}> {text}", nickname=user.nickname, text=shown, room=room)
        said = self.chat.say(user, room, text, notice, tags, lines)
        self._record(said)
        return said

    def act(self, room: str, text: str) -> Action | None:
        user = self._logged_in()
        if self.service.settings.log_messages:
            self.log.info("* {nickname} {text}", nickname=user.nickname, text=clean(text))
        done = self.chat.act(user, room, text)
        self._record(done)
        return done

    def whisper(
        self,
        recipient: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
    ) -> None:
        """
        Send C{text} to C{recipient} only; keep it for them if they are
        registered and away.
        """
        user = self._logged_in()
        if self.service.settings.log_messages:
            self.log.info(
                "*{nickname}* -> {recipient}: {text}",
                nickname=user.nickname,
                recipient=recipient,
                text=clean(text),
            )
        try:
            sent = self.chat.whisper(user, recipient, text, notice, tags)
        except NoSuchUser:
            accounts = self.service.accounts
            if accounts is None or notice or recipient.lower() in SERVICE_NAMES:
                # Nothing is kept for a service's name, even one an older
                # server let somebody register.
                raise
            text = clean(text)
            # Kept, it is part of the conversation too, of the account it
            # waits for (no id: it is not delivered now).
            waiting = PrivateMessage(
                user.nickname,
                recipient,
                text,
                meta=Meta("", user.account),
                recipient_account=recipient,
            )

            def kept(outcome: Keeping) -> None:
                if outcome is Keeping.NOT_REGISTERED:
                    raise NoSuchUser(recipient)
                if outcome is not Keeping.KEPT:
                    raise Refused(NotKept(recipient, outcome, MAX_KEPT))
                self.peer.tell(Kept(recipient, text))
                self._record(waiting)

            self._await(accounts.keep(user.nickname, recipient, text), kept)
            return
        self._record(sent)

    def _record(self, said: Message | Action | PrivateMessage | None) -> None:
        """
        Keep what this user said (if anything was, and history is kept):
        the session records it, once, not the chat, which delivers it on
        every node of a cluster.
        """
        history = self.service.history
        if said is not None and history is not None:
            history.record(said)

    def to_many(self, targets: int) -> None:
        """
        One line is sent to C{targets} rooms or users (IRC's C{PRIVMSG
        #a,#b}): it costs the flood allowance as many lines, as sending it
        to each would (the line itself paid for one); the lines after it
        wait their turn if need be.
        """
        if self._line_meter is not None and targets > 1:
            self._line_meter.charge(targets - 1)

    def say_to(
        self,
        room: str,
        to: Mode,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        action: bool = False,
    ) -> StatusMessage | None:
        """
        Say C{text} to C{room}'s operators (C{to} L{Mode.OPERATOR}), or to
        its voiced members and operators (L{Mode.VOICE}). It is not kept:
        the room's history is what all its members heard.
        """
        user = self._logged_in()
        if self.service.settings.log_messages:
            self.log.info(
                "<{nickname}:{to}> {text}",
                nickname=user.nickname,
                to=to.value,
                text=clean(text),
                room=room,
            )
        return self.chat.say_to(user, room, to, text, notice, tags, action)

    def ctcp(self, room: str, text: str, notice: bool = False, tags: Tags = ()) -> Ctcp | None:
        """
        Send a CTCP request to C{room} (it is not kept: it is no message).
        """
        return self.chat.ctcp(self._logged_in(), room, text, notice, tags)

    def tag(self, target: str, tags: Tags, room: bool) -> TagMessage:
        """
        Send tags alone (IRC's TAGMSG) to room C{target} or to the user C{target}.
        """
        return self.chat.tag(self._logged_in(), target, tags, room)

    # Rooms.

    def join(self, room: str, leaving: str | None = None, key: str | None = None) -> None:
        """
        Go into C{room} (created if need be), C{leaving} another room if
        given; C{key} is the room's key if it has one. Joins over their
        allowance wait their turn, in order (the first to wait brings a
        notice), and so does what the user sends after them: an IRC
        client's autojoin of 20 channels is slowed, not refused. A join
        that could not be made when its turn came (of a room the user is
        in, or one past L{ROOMS_PER_USER}) is refused at once, without
        using the allowance: so at most that many wait, however many rooms
        one IRC JOIN names.
        """
        user = self._logged_in()
        joins = self._joins
        self._may_enter(user, room, leaving is None, joins)
        if joins is not None:
            joins.add(room, leaving, key)
            return
        meter = self._room_changes()
        if meter is not None and not meter.take():
            joins = self._joins = Joins()
            joins.add(room, leaving, key)
            self.peer.tell(TooManyRoomChanges())
            self._join_later(joins, meter)
            return
        self._go_into(user, room, leaving, key)

    def _may_enter(self, user: UserView, room: str, entering: bool, joins: Joins | None) -> None:
        """
        Refuse at once a join of a room C{user} is in, or one that is
        C{entering} another room past L{ROOMS_PER_USER}, counting the joins
        that wait their turn: the chat would refuse it when its turn came
        (one IRC JOIN of 95 channels took a token each and held the input
        behind it for three minutes). Operators of the server are not bound.
        """
        rooms = user.rooms
        wanted = room.lower()
        for found in rooms:
            if found.name.lower() == wanted:
                raise AlreadyInRoom(found.name)
        if not entering or user.operator:
            return
        waiting = joins.entering if joins is not None else 0
        if len(rooms) + waiting >= ROOMS_PER_USER:
            raise TooManyRooms(room, ROOMS_PER_USER)

    def _go_into(self, user: UserView, room: str, leaving: str | None, key: str | None) -> None:
        if leaving is None:
            claim = self.chat.join(user, room, key)
        else:
            claim = self.chat.move(user, leaving, room, key)

        def entered(found: RoomView) -> None:
            self._entered(found.name)
            self.log.info("{nickname} joined {room}", nickname=user.nickname, room=found.name)

        self._await(claim, entered)

    def _join_later(self, joins: Joins, meter: TokenBucket) -> None:
        """
        Make the joins that wait when the allowance has room again, input
        held meanwhile (one timer at a time, however many wait).
        """
        turn: Deferred[None] = Deferred()
        # At least a millisecond: a token a rounding error away is not there yet.
        wait = max(meter.wait(), 0.001)
        joins.timer = self.service.clock.callLater(wait, turn.callback, None)
        self._await(turn, lambda _: self._join_turn(joins, meter))

    def _join_turn(self, joins: Joins, meter: TokenBucket) -> None:
        joins.timer = None
        user = self.user
        if self._joins is not joins or user is None or self._closing:
            self._joins = None
            return
        while joins.waiting and meter.take():
            room, leaving, key = joins.next()
            try:
                self._go_into(user, room, leaving, key)
            except Exception as e:
                # One room refused: the others are still joined.
                self.report(e)
        if self._joins is not joins:
            return  # closed meanwhile
        if joins.waiting:
            self._join_later(joins, meter)
        else:
            self._joins = None

    def redact(self, room: str, msgid: str, reason: str | None = None) -> None:
        """
        Delete the message C{msgid} of C{room}, where the user is: its own
        (by its account, or by its nickname since it took it), or anyone's
        for the server's operators, and for the room's since it was made. Its members are told
        (L{Redacted}), and it is gone from the history and from searches;
        or the user is told why not (L{NotRedacted}).
        """
        user = self._logged_in()
        found = next((r for r in user.rooms if key_of(r.name) == key_of(room)), None)
        if found is None:
            self.peer.tell(NotRedacted(room, msgid, RedactRefusal.NOT_IN_ROOM))
            return
        history = self.service.history
        if history is None:
            self.peer.tell(NotRedacted(found.name, msgid, RedactRefusal.UNKNOWN))
            return
        if reason is not None:
            reason = clean(reason).strip() or None

        def decide(stored: tuple[Entry, str | None] | None) -> None:
            entry, account = stored if stored is not None else (None, None)
            if entry is None or entry.room is None or key_of(entry.room) != key_of(found.name):
                self.peer.tell(NotRedacted(found.name, msgid, RedactRefusal.UNKNOWN))
                return
            if account is not None:
                own = self.account is not None and key_of(account) == key_of(self.account)
            else:
                own = key_of(entry.sender) == key_of(user.nickname) and entry.time >= self._named_at
            # A room's operators may delete what was said since the room was
            # made: whoever makes a room again once it emptied does not get
            # the power to wipe what was said in it before.
            here = self.chat.room(found.name)
            moderator = user in here.operators and entry.time >= here.created
            if not (own or self.operator or moderator):
                self.peer.tell(NotRedacted(found.name, msgid, RedactRefusal.FORBIDDEN))
                return
            self.chat.redact(user, found.name, msgid, reason)
            history.forget(msgid).addErrback(
                lambda failure: self.log.failure("Deleting message {msgid}", failure, msgid=msgid)
            )
            self.log.info(
                "{nickname} deleted message {msgid} in {room}",
                nickname=user.nickname,
                msgid=msgid,
                room=found.name,
            )

        self._await(history.find(msgid), decide)

    def part(self, room: str, reason: str | None = None) -> str:
        """
        Leave C{room}, staying online (and in any other rooms).

        @return: the room's name as it is spelt.
        """
        user = self._logged_in()
        return self.chat.part(user, room, reason=reason)

    def keyed(self, room: str) -> bool:
        """
        Whether C{room} exists and takes a key to join.
        """
        try:
            return self.chat.room(room).key is not None
        except NoSuchRoom:
            return False

    def removed(self, room: str) -> None:
        """
        C{room}'s operator put this user out of it: a user of a door that
        keeps everyone in a room goes back to the first one, and what it
        sends meanwhile waits until it is there (a join sent at once, made
        first, would have put it in two rooms).
        """
        user = self.user
        if user is None or user.rooms or self.home is None or not user.online:
            return
        self._await(self.chat.join(user, self.home), lambda found: self._entered(found.name))

    def topic(self, room: str, text: str | None) -> None:
        """
        Set the topic of C{room} to C{text}, or (L{None}) show it.
        """
        user = self._logged_in()
        if text is None:
            found = self._seen_room(room)
            self.peer.tell(Topic(found.name, found.topic, found.topic_by, found.topic_at))
        else:
            self._seen_room(room)
            self.chat.set_topic(user, room, text)

    # What the user says of itself.

    def describe(self, username: str, realname: str) -> None:
        """
        Keep what the user says of itself (IRC's USER), for WHO and WHOIS.
        """
        self.chat.describe(self._logged_in(), username, realname)

    def set_realname(self, realname: str) -> str | None:
        """
        Say another real name (IRC's SETNAME): those who see you are told.
        """
        return self.chat.rename_real(self._logged_in(), realname)

    def set_bot(self, bot: bool) -> None:
        """
        Say that this user is a program (or not): its messages show it.
        """
        self.chat.set_bot(self._logged_in(), bot)

    def set_invisible(self, invisible: bool) -> None:
        """
        Be found by searches with wildcards only by those who share a room with you, or by all.
        """
        self.chat.set_invisible(self._logged_in(), invisible)

    def set_away(self, text: str | None) -> None:
        """
        Be away with C{text} (those who message you are told), or back with none.
        """
        user = self._logged_in()
        self.peer.tell(Away(self.chat.set_away(user, text)))

    def watch(self, nicknames: Sequence[str]) -> list[tuple[str, UserView | None]]:
        """
        Be told when these nicknames come and go (IRC's MONITOR).
        """
        return self.chat.watch(self._logged_in(), nicknames)

    def unwatch(self, nicknames: Sequence[str] | None) -> None:
        self.chat.unwatch(self._logged_in(), nicknames)

    def watched(self) -> list[tuple[str, UserView | None]]:
        return self.chat.watched(self._logged_in())
