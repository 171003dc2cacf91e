"""
The in-memory chat: who is online, which rooms exist, and who hears what, in
one process.

Nothing here knows about bytes, sockets or line endings. A session logs a
L{Participant} in, calls the chat on its behalf, and the participant receives
L{chat.core.events} through L{Participant.receive}. It implements
L{chat.core.interfaces.Chat}: what it hands out are read-only views of its
L{chat.core.model} users and rooms, and its claims answer with Deferreds that
have fired already (a clustered chat would answer them after a round trip).

A user may be in any number of rooms here; the line door keeps each of its
users in exactly one, but another door need not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from twisted.internet.defer import Deferred, fail, succeed

from chat.core.errors import (
    AlreadyThere,
    ChatError,
    NotInRoom,
    NotInThatRoom,
    TooManyRooms,
)
from chat.core.events import (
    QUIT,
    AwayChanged,
    Departure,
    Entered,
    Invited,
    Joined,
    Kicked,
    Left,
    ModesChanged,
    Parted,
    RealnameChanged,
    Renamed,
    TopicChanged,
    Welcome,
)
from chat.core.interfaces import Participant, RoomView, UserView
from chat.core.limits import (
    INVITATION_LIFETIME,
    MAX_TOPIC_LENGTH,
    ROOM_SERVICE,
    ROOMS_PER_USER,
)
from chat.core.masks import address
from chat.core.messages import Messages
from chat.core.model import NO_ROOMS, Room, User, admit, apply, key_of, recognised
from chat.core.modes import Mode, ModeChange
from chat.core.registry import own
from chat.core.text import away_message, clean, real_name, word

_T = TypeVar("_T")


def _claimed(claim: Callable[[], _T]) -> Deferred[_T]:
    """
    C{claim}'s outcome as a Deferred that has fired already.
    """
    try:
        return succeed(claim())
    except Exception:
        return fail()


class MemoryChat(Messages):
    """
    Every logged-in user and every room of one process, and the rules for
    routing messages.

    Nicknames and room names are unique without regard to case. Public events
    go to the members of a room; private ones to their recipient, whatever room
    it is in.

    Crowds are kept cheap: with N users in one room, announcing every join
    and leave to everyone, and listing everyone to each newcomer, would cost
    N * N. So only rooms of fewer than C{crowd} users hear of each arrival
    and departure, and only while fewer than C{crowd} are there (or online)
    is a newcomer given their names rather than their number.

    @param permanent_rooms: rooms that exist even while empty (and are kept:
        see L{chat.core.kept}).
    @param crowd: the size from which a room is a crowd; 0 for never.
    @param node: what makes this process's message ids its own (see
        L{chat.core.messages.Messages}).
    @param store: where the changes of kept rooms are reported.
    """

    # Claims: decided here and now, so their Deferreds have fired already.

    def login(
        self,
        nickname: str,
        participant: Participant,
        account: str | None = None,
        operator: bool = False,
        host: str | None = None,
    ) -> Deferred[UserView]:
        return _claimed(lambda: self._login(nickname, participant, account, operator, host))

    def _login(
        self,
        nickname: str,
        participant: Participant,
        account: str | None,
        operator: bool,
        host: str | None,
    ) -> UserView:
        self._check_available(nickname)
        user = User(nickname, participant)
        user.active = user.signon = self._clock()
        user.account = account
        user.operator = operator
        user.host = address(host)
        self._users[key_of(nickname)] = user
        self.peak = max(self.peak, len(self._users))
        self._presence.tell(nickname, True)
        if self._crowded(len(self._users)):
            participant.receive(Welcome(nickname, (), total=len(self._users)))
        else:
            participant.receive(Welcome(nickname, tuple(self._named_to_newcomers())))
        return user

    def rename(self, user: UserView, nickname: str) -> Deferred[None]:
        return _claimed(lambda: self._rename(own(user), nickname))

    def _rename(self, user: User, nickname: str) -> None:
        self.check_rename(user, nickname)
        self._presence.remember(user)
        old = user.nickname
        del self._users[key_of(old)]
        user.nickname = nickname
        self._users[key_of(nickname)] = user
        if key_of(old) != key_of(nickname):  # a change of case is no coming or going
            self._presence.tell(old, False)
            self._presence.tell(nickname, True, user.username)
        event = Renamed(old, nickname)
        told = {user}
        user.participant.receive(event)
        for room in user.rooms:
            for member in room.members:
                if member not in told:
                    told.add(member)
                    member.participant.receive(event)

    def join(self, user: UserView, name: str, key: str | None = None) -> Deferred[RoomView]:
        return _claimed(lambda: self._join(own(user), name, key))

    def _join(self, user: User, name: str, key: str | None) -> Room:
        self._check_online(user)
        room = self._joinable(user, name)
        if len(user.rooms) >= ROOMS_PER_USER and not user.operator:
            raise TooManyRooms(room.name if room is not None else name, ROOMS_PER_USER)
        # One of a kept room's operators, by account, gets its +o back.
        opped = False
        if room is None:
            room = self._rooms[key_of(name)] = Room(name, created=self._clock())
            room.operators.add(user)
        else:
            admit(room, user, key, self._clock())
            opped = recognised(room, user) and user not in room.operators
            if opped:
                room.operators.add(user)
        if user.invitations:
            # Used (or not needed): gone either way.
            user.invitations.pop(room, None)
        self._announce(
            room, Joined(room.name, user.nickname, user.account, user.realname, user.away)
        )
        self._add(user, room)
        ops = frozenset(u.nickname for u in room.operators)
        voiced = frozenset(u.nickname for u in room.voiced)
        if self._crowded(len(room)):
            members: tuple[str, ...] = ()
            total: int | None = len(room)
        else:
            members = tuple(sorted((member.nickname for member in room.members), key=key_of))
            total = None
        user.participant.receive(
            Entered(
                room.name,
                user.nickname,
                room.topic,
                members,
                total,
                ops,
                voiced,
                room.topic_by,
                room.topic_at,
                Mode.SECRET in room.flags,
            )
        )
        if opped:
            self._opped(room, user, exclude=user)
        return room

    def _opped(self, room: Room, user: User, exclude: User | None) -> None:
        """
        Tell C{room} that C{user}, one of its operators by account, has its
        C{+o} (from the room service, as ChanServ gives it on IRC).
        """
        event = ModesChanged(
            room.name, ROOM_SERVICE, (ModeChange(Mode.OPERATOR, True, user.nickname),)
        )
        self._broadcast(room, event, exclude)

    def keep(self, user: UserView, name: str) -> Deferred[RoomView]:
        return _claimed(lambda: self._keep(own(user), name))

    def move(
        self, user: UserView, source: str, destination: str, key: str | None = None
    ) -> Deferred[RoomView]:
        return _claimed(lambda: self._move(own(user), source, destination, key))

    def _move(self, user: User, source: str, destination: str, key: str | None) -> Room:
        self._check_online(user)
        old = self._member_room(user, source)
        new = self._joinable(user, destination)
        if new is not None:
            admit(new, user, key, self._clock())
        self.part(user, old.name, destination=new.name if new else destination)
        return self._join(user, destination, key)

    # Comings and goings.

    def logout(self, user: UserView, departure: Departure = QUIT) -> None:
        """
        Take C{user} off line and tell the members of its rooms how, each
        member once (an IRC client shows one QUIT, whatever channels it
        shared): calling it again for the same user does nothing.
        """
        user = own(user)
        if not user.online:
            return
        user.online = False
        user.invitations = None
        del self._users[key_of(user.nickname)]
        self._presence.remember(user)
        self._presence.unwatch(user, None)
        self._presence.tell(user.nickname, False)
        if departure.text is not None:
            departure = replace(departure, text=clean(departure.text) or None)
        rooms = list(user.rooms)
        if len(rooms) == 1:
            # The line door's case: one room, each member told once anyway.
            self._remove(user, rooms[0])
            self._announce(rooms[0], Left(rooms[0].name, user.nickname, departure))
            return
        # Several rooms: each member is told once, in the first room it shared.
        told: set[User] = set()
        for room in rooms:
            self._remove(user, room)
            if self._crowded(len(room)):
                continue
            event = Left(room.name, user.nickname, departure)
            for member in room.members:
                if member not in told:
                    told.add(member)
                    member.participant.receive(event)

    def disconnect(self, user: UserView, departure: Departure) -> None:
        own(user).participant.disconnect(departure)

    def close(self) -> None:
        """
        For a server that is going away and has said so to each user already:
        announcing each departure to everyone still there would cost
        N * N events that nobody gets to read.
        """
        for user in self._users.values():
            user.online = False
            user.rooms = NO_ROOMS
        self._users.clear()
        for name, room in list(self._rooms.items()):
            room.clear()
            if room.kept:
                self._empty.add(room)
            else:
                del self._rooms[name]

    def part(
        self, user: UserView, name: str, destination: str | None = None, reason: str | None = None
    ) -> str:
        """
        C{destination} names the room it is going to, if any, C{reason}
        why it goes (IRC's PART message).
        """
        user = own(user)
        self._check_online(user)
        room = self._member_room(user, name)
        reason = clean(reason or "").strip() or None
        self._remove(user, room)
        self._announce(room, Parted(room.name, user.nickname, destination, reason))
        return room.name

    # Rooms.

    def set_topic(self, user: UserView, name: str, topic: str) -> None:
        """
        Set (or, with empty text, clear) the topic of a room C{user} is in, and tell its members.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        if Mode.TOPIC_LOCKED in room.flags:
            self._check_room_operator(user, room)
        cleaned = clean(topic).strip()[:MAX_TOPIC_LENGTH] or None
        room.topic = cleaned
        room.topic_by = user.nickname if cleaned else None
        room.topic_at = self._clock() if cleaned else None
        self._broadcast(room, TopicChanged(room.name, user.nickname, cleaned), exclude=None)
        self._save(room)

    def change_modes(
        self, user: UserView, name: str, changes: Sequence[ModeChange]
    ) -> tuple[list[ModeChange], list[ChatError]]:
        """
        Tell the room's members what changed (nothing that was so already),
        in one event. A change refused (a member mode for somebody outside
        or nobody, a mask past the list's limit) is left out; the others
        are made.

        @raise NotRoomOperator: unless C{user} may.
        """
        self._check_online(user)
        room = self.room(name)
        self._check_room_operator(user, room)
        made: list[ModeChange] = []
        refused: dict[ChatError, None] = {}
        now = self._clock()
        for change in changes:
            try:
                done = apply(room, change, own(user), now, self.find)
            except ChatError as e:
                refused[e] = None
                continue
            if done is not None:
                made.append(done)
        self._note_secret(room)
        if made:
            event = ModesChanged(room.name, user.nickname, tuple(made))
            self._broadcast(room, event, exclude=None)
            if room.kept:
                for change in made:
                    target = change.argument
                    if change.mode is Mode.OPERATOR and target is not None:
                        self._note_operator(room, self.find(target), change.on)
                self._save(room)
        return made, list(refused)

    def kick(self, user: UserView, name: str, nickname: str, reason: str | None) -> UserView:
        """
        The room, C{nickname} included, is told first.
        """
        self._check_online(user)
        room = self.room(name)
        self._check_room_operator(user, room)
        target = self.find(nickname)
        if target not in room:
            raise NotInThatRoom(target.nickname, room.name)
        reason = clean(reason or "").strip() or None
        self._broadcast(room, Kicked(room.name, user.nickname, target.nickname, reason), None)
        self._remove(target, room)
        target.participant.removed(room.name)
        return target

    def invite(self, user: UserView, name: str, nickname: str) -> UserView:
        """
        Invite C{nickname} into room C{name}: it is told, and may join
        once even if the room is invite-only, keyed or full. Into an
        invite-only room, only its operators may invite. The invitation is
        the user's, not the nickname's: it goes with a rename, ends with the
        session, and lapses after L{INVITATION_LIFETIME} seconds.
        """
        self._check_online(user)
        target = self.find(nickname)
        room = self._rooms.get(key_of(name))
        if room is not None:
            if user not in room:
                raise NotInRoom(room.name)
            if Mode.INVITE_ONLY in room.flags:
                self._check_room_operator(user, room)
            if target in room:
                raise AlreadyThere(target.nickname, room.name)
            now = self._clock()
            invitations = target.invitations
            if invitations is None:
                invitations = target.invitations = {}
            else:
                for lapsed in [r for r, until in invitations.items() if until <= now]:
                    del invitations[lapsed]
            invitations[room] = now + INVITATION_LIFETIME
            name = room.name
        else:
            self._check_room_name(name)
        target.participant.receive(Invited(name, user.nickname, target.nickname))
        return target

    # What users say of themselves, and what their sessions decide of them.

    def set_away(self, user: UserView, text: str | None) -> str | None:
        """
        Mark C{user} away with C{text} (or, with none, back); those who
        message it privately are told. The away message as kept is returned.
        """
        user = own(user)
        self._check_online(user)
        user.away = away_message(text)
        self._tell_around(
            user,
            AwayChanged(user.nickname, user.away),
            AwayChanged(user.nickname, user.away, True),
        )
        return user.away

    def describe(self, user: UserView, username: str, realname: str) -> None:
        """
        A user name of at most 9 characters and a real name, cleaned of control characters.
        """
        user = own(user)
        self._check_online(user)
        user.username = word(username)[:9] or None
        user.realname = clean(realname).strip() or None

    def rename_real(self, user: UserView, realname: str) -> str | None:
        """
        Change what C{user} says its real name is (IRC's SETNAME); it, those
        who share a room with it and those who watch it are told.

        @return: the real name as kept (L{None} if it was empty once cleaned).
        """
        user = own(user)
        self._check_online(user)
        cleaned = real_name(realname, MAX_TOPIC_LENGTH)
        if cleaned is None:
            return None
        user.realname = cleaned
        event = RealnameChanged(user.nickname, cleaned)
        user.participant.receive(event)
        self._tell_around(user, event, RealnameChanged(user.nickname, cleaned, True))
        return cleaned

    def set_account(self, user: UserView, account: str | None) -> None:
        """
        In the kept rooms C{user} is in, an operator's new account is one of
        their operators' now, and one of their operators' accounts gets its
        C{+o} back.
        """
        user = own(user)
        user.account = account
        if account is None:
            return
        for room in user.rooms:
            if not room.kept:
                continue
            if user in room.operators:
                if self._note_operator(room, user, True):
                    self._save(room)
            elif recognised(room, user):
                room.operators.add(user)
                self._opped(room, user, exclude=None)

    def set_operator(self, user: UserView, operator: bool) -> None:
        own(user).operator = operator

    def set_bot(self, user: UserView, bot: bool) -> None:
        own(user).bot = bot

    def set_invisible(self, user: UserView, invisible: bool) -> None:
        own(user).invisible = invisible

    def watch(self, user: UserView, nicknames: Sequence[str]) -> list[tuple[str, UserView | None]]:
        """
        Have C{user} told when each of C{nicknames} comes on line and goes
        (and, for clients that show it, its away message and real name).
        """
        return list(self._presence.watch(own(user), nicknames, self._users))

    def unwatch(self, user: UserView, nicknames: Sequence[str] | None) -> None:
        self._presence.unwatch(own(user), nicknames)
