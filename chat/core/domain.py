"""
The chat itself: who is online, which rooms exist, and who hears what.

Nothing here knows about bytes, sockets or line endings. A front-end logs a
L{Participant} in, calls methods on the domain on its behalf, and receives
L{chat.core.events} through L{Participant.receive}.

A user may be in any number of rooms here; the line protocol keeps each of its
users in exactly one, but another front-end need not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from chat.core.errors import (
    AlreadyInRoom,
    AlreadyThere,
    CannotJoin,
    CannotSend,
    InvalidNickname,
    InvalidRoomName,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotInThatRoom,
    NotLoggedIn,
    NotRoomOperator,
)
from chat.core.events import (
    QUIT,
    Action,
    Announcement,
    Departure,
    Entered,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModesChanged,
    Parted,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    RoomInfo,
    TopicChanged,
    Welcome,
)
from chat.core.interfaces import Archive, Participant
from chat.core.modes import FLAGS, MEMBER_MODES, NEW_ROOM, Mode, ModeChange
from chat.core.text import (
    MAX_TOPIC_LENGTH,
    Problem,
    clean,
    nickname_problem,
    room_name_problem,
)


class User:
    """
    One logged-in user, as the domain sees it.
    """

    __slots__ = (
        "away",
        "nickname",
        "online",
        "operator",
        "participant",
        "realname",
        "rooms",
        "username",
    )

    def __init__(self, nickname: str, participant: Participant) -> None:
        self.nickname = nickname
        self.participant = participant
        self.online = True
        self.rooms: list[Room] = []
        # The user's away message while it is away.
        self.away: str | None = None
        # Whether it may moderate (its session decides), and what IRC users
        # say of themselves at registration (line users say nothing).
        self.operator = False
        self.username: str | None = None
        self.realname: str | None = None

    def __repr__(self) -> str:
        return f"<User {self.nickname!r}>"


class Room:
    """
    A named place; what is said in it reaches its members only.
    """

    __slots__ = (
        "_in",
        "_snapshot",
        "created",
        "flags",
        "invited",
        "key",
        "limit",
        "name",
        "operators",
        "permanent",
        "topic",
        "topic_at",
        "topic_by",
        "voiced",
    )

    def __init__(self, name: str, permanent: bool = False, created: float = 0.0) -> None:
        self.name = name
        self.topic: str | None = None
        self.topic_by: str | None = None
        self.topic_at: float | None = None
        self.permanent = permanent
        self.created = created
        # Its modes (chat.core.modes): the flags on (a permanent room's
        # topic is anybody's: it has no operators but the server's), the key and the limit
        # if set; its operators and voiced members (sets: most rooms have
        # one or two, and a message checks membership, not these); the
        # nicknames (keys) invited in and not yet come.
        self.flags: set[Mode] = {Mode.NO_OUTSIDE} if permanent else set(NEW_ROOM)
        self.key: str | None = None
        self.limit: int | None = None
        self.operators: set[User] = set()
        self.voiced: set[User] = set()
        self.invited: set[str] = set()
        # Members in the order they came; a dict, so that one leaving a room of
        # thousands (or thousands leaving at once) costs O(1) each.
        self._in: dict[User, None] = {}
        self._snapshot: tuple[User, ...] | None = ()

    def __repr__(self) -> str:
        return f"<Room {self.name!r}>"

    def __len__(self) -> int:
        return len(self._in)

    @property
    def members(self) -> tuple[User, ...]:
        """
        The members, as a snapshot that a broadcast can go through while
        members come and go. Taken again only after a change: copying on
        every message would cost more.
        """
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = tuple(self._in)
        return snapshot

    def add(self, user: User) -> None:
        self._in[user] = None
        self._snapshot = None

    def discard(self, user: User) -> None:
        self._in.pop(user, None)
        self._snapshot = None
        self.operators.discard(user)
        self.voiced.discard(user)

    def __contains__(self, user: object) -> bool:
        return user in self._in

    def modes(self) -> list[ModeChange]:
        """
        The modes set, as changes from none, flags in letter order, then
        the key and the limit.
        """
        changes = [ModeChange(m, True) for m in sorted(self.flags, key=lambda m: m.value)]
        if self.key is not None:
            changes.append(ModeChange(Mode.KEY, True, self.key))
        if self.limit is not None:
            changes.append(ModeChange(Mode.LIMIT, True, str(self.limit)))
        return changes

    def clear(self) -> None:
        self._in.clear()
        self._snapshot = ()


def _key(name: str) -> str:
    return name.lower()


class Chat:
    """
    Every logged-in user and every room, and the rules for routing messages.

    Nicknames and room names are unique without regard to case. Public events
    go to the members of a room; private ones to their recipient, whatever room
    it is in. Text is cleaned of control characters here, in the one place every
    front-end goes through.

    Crowds are kept cheap: with N users in one room, announcing every join
    and leave to everyone, and listing everyone to each newcomer, would cost
    N * N. So only rooms of fewer than C{crowd} users hear of each arrival
    and departure, and only while fewer than C{crowd} are there (or online)
    is a newcomer given their names rather than their number.

    @param permanent_rooms: rooms that exist even while empty (and keep their topic).
    @param archive: receives every message that is worth keeping.
    @param crowd: the size from which a room is a crowd; 0 for never.
    """

    def __init__(
        self,
        permanent_rooms: tuple[str, ...] = (),
        archive: Archive | None = None,
        crowd: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._users: dict[str, User] = {}
        self._rooms: dict[str, Room] = {}
        self._archive = archive
        self.crowd = crowd
        self._clock = clock
        self._permanent: list[Room] = []
        for name in permanent_rooms:
            self._check_room_name(name)
            room = self._rooms[_key(name)] = Room(name, permanent=True)
            self._permanent.append(room)

    def __len__(self) -> int:
        return len(self._users)

    # Users.

    def online(self) -> list[str]:
        """
        The nicknames of everyone online, in case-insensitive order.
        """
        return sorted((user.nickname for user in self._users.values()), key=_key)

    def is_online(self, nickname: str) -> bool:
        return _key(nickname) in self._users

    def room_count(self) -> int:
        return len(self._rooms)

    def rooms_in_use(self) -> int:
        """
        The rooms, less the permanent ones that are empty (the few that
        only exist to be there): what LUSERS counts as channels formed.
        """
        idle = sum(1 for room in self._permanent if not len(room))
        return len(self._rooms) - idle

    def everyone(self) -> list[User]:
        """
        Every user online.
        """
        return list(self._users.values())

    def find(self, nickname: str) -> User:
        """
        Return the online user called C{nickname} (in any case), or raise L{NoSuchUser}.
        """
        user = self._users.get(_key(nickname))
        if user is None:
            raise NoSuchUser(nickname)
        return user

    def check_valid(self, nickname: str) -> None:
        """
        Raise L{InvalidNickname} unless C{nickname} is one, taken or not.
        """
        self._check_valid(nickname)

    def login(self, nickname: str, participant: Participant) -> User:
        """
        Log C{participant} in as C{nickname} and tell it who is online. It is
        in no room until it joins one.
        """
        self._check_available(nickname)
        user = User(nickname, participant)
        self._users[_key(nickname)] = user
        if self._crowded(len(self._users)):
            participant.receive(Welcome(nickname, (), total=len(self._users)))
        else:
            participant.receive(Welcome(nickname, tuple(self.online())))
        return user

    def _crowded(self, count: int) -> bool:
        return 0 < self.crowd <= count

    def _announce(self, room: Room, event: Joined | Parted | Left) -> None:
        """
        Tell a room of an arrival or departure, unless it is a crowd.
        """
        if not self._crowded(len(room)):
            self._broadcast(room, event, exclude=None)

    def logout(self, user: User, departure: Departure = QUIT) -> None:
        """
        Take C{user} off line and tell the members of its rooms how, each
        member once (an IRC client shows one QUIT, whatever channels it
        shared): calling it again for the same user does nothing.
        """
        if not user.online:
            return
        user.online = False
        del self._users[_key(user.nickname)]
        if departure.text is not None:
            departure = replace(departure, text=clean(departure.text) or None)
        rooms = list(user.rooms)
        if len(rooms) == 1:
            # The line front-end's case: one room, each member told once anyway.
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

    def close(self) -> None:
        """
        Log everyone out without telling anyone.

        For a server that is going away and has said so to each user already:
        announcing each departure to everyone still there would cost
        N * N events that nobody gets to read.
        """
        for user in self._users.values():
            user.online = False
            user.rooms.clear()
        self._users.clear()
        for key, room in list(self._rooms.items()):
            room.clear()
            if not room.permanent:
                del self._rooms[key]

    def check_rename(self, user: User, nickname: str) -> None:
        """
        Raise what L{rename} would raise, without renaming.
        """
        self._check_online(user)
        if _key(nickname) != _key(user.nickname):
            self._check_available(nickname)
        elif nickname == user.nickname:
            raise InvalidNickname(nickname, Problem.ALREADY_YOURS)
        else:
            self._check_valid(nickname)

    def rename(self, user: User, nickname: str) -> None:
        """
        Give C{user} a new nickname and tell it and everyone sharing a room with it, once each.

        A change of case alone ("alice" to "Alice") is allowed.
        """
        self.check_rename(user, nickname)
        old = user.nickname
        del self._users[_key(old)]
        user.nickname = nickname
        self._users[_key(nickname)] = user
        event = Renamed(old, nickname)
        told = {user}
        user.participant.receive(event)
        for room in user.rooms:
            for member in room.members:
                if member not in told:
                    told.add(member)
                    member.participant.receive(event)

    # Rooms.

    def rooms(
        self, start: int = 0, count: int | None = None, viewer: User | None = None
    ) -> list[RoomInfo]:
        """
        The rooms, with their numbers of users and topics, in case-insensitive
        order: every one, or C{count} from the C{start}th. Only the keys are
        sorted (strings, in C), and only the rooms asked for are described.
        A secret room (C{+s}) is shown only to its members (as C{viewer}),
        and counts as the rooms before it in the pages.
        """
        keys = sorted(self._rooms)
        chosen = keys[start:] if count is None else keys[start : start + count]
        rooms = self._rooms
        return [
            RoomInfo(room.name, len(room), room.topic)
            for room in map(rooms.__getitem__, chosen)
            if Mode.SECRET not in room.flags or viewer in room
        ]

    def describe_rooms(self, names: Sequence[str], viewer: User | None = None) -> list[RoomInfo]:
        """
        The rooms of C{names} that exist (and that C{viewer} may see).
        """
        found = []
        for name in names:
            room = self._rooms.get(_key(name))
            if room is not None and (Mode.SECRET not in room.flags or viewer in room):
                found.append(RoomInfo(room.name, len(room), room.topic))
        return found

    def room(self, name: str) -> Room:
        """
        Return the room called C{name} (in any case), or raise L{NoSuchRoom}.
        """
        room = self._rooms.get(_key(name))
        if room is None:
            raise NoSuchRoom(name)
        return room

    def members(self, name: str) -> list[str]:
        """
        The nicknames of the users in room C{name}, in case-insensitive order.
        """
        return sorted((user.nickname for user in self.room(name).members), key=_key)

    def join(self, user: User, name: str, key: str | None = None) -> Room:
        """
        Put C{user} in room C{name}, creating the room if there is none (its
        creator is its first operator). The user is told the room's topic
        and members; the members that it came.

        @param key: the room's key, if it has one (C{+k}).
        @raise CannotJoin: if the room is full, invite-only or keyed, and
            the user is not invited (an invitation opens all three).
        """
        self._check_online(user)
        room = self._joinable(user, name)
        if room is None:
            room = self._rooms[_key(name)] = Room(name, created=self._clock())
            room.operators.add(user)
        else:
            self._check_admitted(user, room, key)
        room.invited.discard(_key(user.nickname))
        self._announce(room, Joined(room.name, user.nickname))
        room.add(user)
        user.rooms.append(room)
        ops = frozenset(u.nickname for u in room.operators)
        voiced = frozenset(u.nickname for u in room.voiced)
        if self._crowded(len(room)):
            members: tuple[str, ...] = ()
            total: int | None = len(room)
        else:
            members = tuple(sorted((member.nickname for member in room.members), key=_key))
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
            )
        )
        return room

    def _check_admitted(self, user: User, room: Room, key: str | None) -> None:
        if user.operator or _key(user.nickname) in room.invited:
            return
        if Mode.INVITE_ONLY in room.flags:
            raise CannotJoin(room.name, CannotJoin.INVITE_ONLY)
        if room.key is not None and key != room.key:
            raise CannotJoin(room.name, CannotJoin.BAD_KEY)
        if room.limit is not None and len(room) >= room.limit:
            raise CannotJoin(room.name, CannotJoin.FULL)

    def part(self, user: User, name: str, destination: str | None = None) -> None:
        """
        Take C{user} out of room C{name} and tell the members left there;
        C{destination} names the room it is going to, if any.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        self._remove(user, room)
        self._announce(room, Parted(room.name, user.nickname, destination))

    def move(self, user: User, source: str, destination: str, key: str | None = None) -> Room:
        """
        Take C{user} from room C{source} to room C{destination} (created if
        need be), telling both rooms where it went. Nothing happens if the
        destination cannot be joined.
        """
        self._check_online(user)
        old = self._member_room(user, source)
        new = self._joinable(user, destination)
        if new is not None:
            self._check_admitted(user, new, key)
        self.part(user, old.name, destination=new.name if new else destination)
        return self.join(user, destination, key)

    def set_topic(self, user: User, name: str, topic: str) -> None:
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

    def change_modes(
        self, user: User, name: str, changes: Sequence[ModeChange]
    ) -> list[ModeChange]:
        """
        Apply C{changes} to room C{name} as C{user}, one of its operators, and
        tell its members what changed (nothing that was so already).

        @return: the changes made.
        @raise NotRoomOperator: unless C{user} may.
        @raise NotInThatRoom: for a member mode given to somebody outside.
        """
        self._check_online(user)
        room = self.room(name)
        self._check_room_operator(user, room)
        made: list[ModeChange] = []
        for change in changes:
            if self._apply(room, change):
                made.append(change)
        if made:
            event = ModesChanged(room.name, user.nickname, tuple(made))
            self._broadcast(room, event, exclude=None)
        return made

    def _apply(self, room: Room, change: ModeChange) -> bool:
        mode, on, argument = change.mode, change.on, change.argument
        if mode in FLAGS:
            if (mode in room.flags) == on:
                return False
            (room.flags.add if on else room.flags.discard)(mode)
            return True
        if mode is Mode.KEY:
            if on and argument:
                room.key = clean(argument).replace(" ", "")[:23] or None
                return room.key is not None
            changed = room.key is not None
            room.key = None
            return changed
        if mode is Mode.LIMIT:
            if on:
                try:
                    limit = int(argument or "")
                except ValueError:
                    return False
                if limit <= 0 or limit == room.limit:
                    return False
                room.limit = limit
                return True
            changed = room.limit is not None
            room.limit = None
            return changed
        if mode in MEMBER_MODES and argument is not None:
            target = self.find(argument)
            if target not in room:
                raise NotInThatRoom(target.nickname, room.name)
            holders = room.operators if mode is Mode.OPERATOR else room.voiced
            if (target in holders) == on:
                return False
            (holders.add if on else holders.discard)(target)
            return True
        return False

    def kick(self, user: User, name: str, nickname: str, reason: str | None) -> User:
        """
        Put C{nickname} out of room C{name}, as C{user}, one of its
        operators; the room, C{nickname} included, is told first.

        @return: the user put out.
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

    def invite(self, user: User, name: str, nickname: str) -> User:
        """
        Invite C{nickname} into room C{name}: it is told, and may join even
        if the room is invite-only, keyed or full. Into an invite-only
        room, only its operators may invite.

        @return: the user invited.
        """
        self._check_online(user)
        target = self.find(nickname)
        room = self._rooms.get(_key(name))
        if room is not None:
            if user not in room:
                raise NotInRoom(room.name)
            if Mode.INVITE_ONLY in room.flags:
                self._check_room_operator(user, room)
            if target in room:
                raise AlreadyThere(target.nickname, room.name)
            room.invited.add(_key(target.nickname))
            name = room.name
        else:
            self._check_room_name(name)
        target.participant.receive(Invited(name, user.nickname, target.nickname))
        return target

    # Messages.

    def say(self, user: User, name: str, text: str, notice: bool = False) -> None:
        """
        Send C{text} to the other members of room C{name}. Text that is empty
        once cleaned is dropped.
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        text = clean(text)
        if text.strip():
            self._public(room, user, Message(room.name, user.nickname, text, notice))

    def act(self, user: User, name: str, text: str) -> None:
        """
        Show the other members of room C{name} that C{user} does C{text}.
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        text = clean(text)
        if text.strip():
            self._public(room, user, Action(room.name, user.nickname, text))

    def whisper(self, user: User, recipient: str, text: str, notice: bool = False) -> None:
        """
        Send C{text} to C{recipient} only, in whatever room, and confirm it to C{user}.

        @raise NoSuchUser: if nobody called C{recipient} is online.
        """
        self._check_online(user)
        target = self.find(recipient)
        text = clean(text)
        if not text.strip():
            return
        event = PrivateMessage(user.nickname, target.nickname, text, notice)
        target.participant.receive(event)
        # A notice is not answered, not even with an away message.
        away = None if notice else target.away
        user.participant.receive(
            PrivateMessageSent(user.nickname, target.nickname, text, away, notice)
        )
        if self._archive is not None:
            self._archive.record(event)

    def set_away(self, user: User, text: str | None) -> str | None:
        """
        Mark C{user} away with C{text} (or, with none, back); those who
        message it privately are told. The away message as kept is returned.
        """
        self._check_online(user)
        user.away = clean(text or "").strip() or None
        return user.away

    def describe(self, user: User, username: str, realname: str) -> None:
        """
        Keep what C{user} says of itself (IRC's USER): a user name of at most
        9 characters and a real name, cleaned of control characters.
        """
        self._check_online(user)
        user.username = clean(username).replace(" ", "")[:9] or None
        user.realname = clean(realname).strip() or None

    def announce(self, user: User, text: str) -> None:
        """
        Tell everyone online, in every room, C{user} included. (Who may do
        this is for the front-end to decide.)
        """
        self._check_online(user)
        text = clean(text)
        if not text.strip():
            return
        event = Announcement(user.nickname, text)
        for member in list(self._users.values()):
            member.participant.receive(event)

    def _public(self, room: Room, sender: User, event: Message | Action) -> None:
        self._broadcast(room, event, exclude=sender)
        if self._archive is not None:
            self._archive.record(event)

    def _broadcast(self, room: Room, event: Event, exclude: User | None) -> None:
        for member in room.members:
            if member is not exclude:
                member.participant.receive(event)

    def _remove(self, user: User, room: Room) -> None:
        room.discard(user)
        user.rooms.remove(room)
        if not len(room) and not room.permanent:
            del self._rooms[_key(room.name)]

    def _joinable(self, user: User, name: str) -> Room | None:
        """
        The room C{user} may join as C{name}: the existing one, or L{None} if
        a valid name for a new one. Raises if it cannot join.
        """
        room = self._rooms.get(_key(name))
        if room is None:
            self._check_room_name(name)
        elif room in user.rooms:
            raise AlreadyInRoom(room.name)
        return room

    def _speaking_room(self, user: User, name: str) -> Room:
        """
        The room C{user} may say something in as C{name}: one it is in, or
        one that takes messages from outside (C{-n}); in a moderated room,
        only if it is an operator or voiced.
        """
        room = self._rooms.get(_key(name))
        if room is None or (user not in room and Mode.NO_OUTSIDE in room.flags):
            raise NotInRoom(name)
        if (
            Mode.MODERATED in room.flags
            and user not in room.operators
            and user not in room.voiced
            and not user.operator
        ):
            raise CannotSend(room.name)
        return room

    def _check_room_operator(self, user: User, room: Room) -> None:
        """
        Raise unless C{user} may act as an operator of C{room}: one of its
        operators, or an operator of the server (who moderates every room).
        """
        if user not in room.operators and not user.operator:
            raise NotRoomOperator(room.name)

    def _member_room(self, user: User, name: str) -> Room:
        room = self._rooms.get(_key(name))
        if room is None or room not in user.rooms:
            raise NotInRoom(name)
        return room

    def _check_online(self, user: User) -> None:
        if not user.online:
            raise NotLoggedIn()

    def _check_valid(self, nickname: str) -> None:
        problem = nickname_problem(nickname)
        if problem is not None:
            raise InvalidNickname(nickname, problem)

    def _check_available(self, nickname: str) -> None:
        self._check_valid(nickname)
        if _key(nickname) in self._users:
            raise NicknameTaken(nickname)

    def _check_room_name(self, name: str) -> None:
        problem = room_name_problem(name)
        if problem is not None:
            raise InvalidRoomName(name, problem)
