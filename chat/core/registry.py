"""
Who is online and which rooms exist in one process, the queries that read
them, and the checks an action must pass: the in-memory chat's bookkeeping
(L{chat.core.domain.MemoryChat} adds what happens).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import cast

from chat.core.errors import (
    AlreadyInRoom,
    CannotSend,
    InvalidNickname,
    InvalidRoomName,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotLoggedIn,
    NotRoomOperator,
)
from chat.core.events import Event, Joined, Left, Parted, RoomFilter, RoomInfo, Was
from chat.core.interfaces import UserView
from chat.core.model import NO_ROOMS, Room, User, key_of
from chat.core.modes import Mode
from chat.core.presence import Presence
from chat.core.text import Problem, nickname_problem, room_name_problem


def own(user: UserView) -> User:
    """
    A view this chat handed out, as the user it is: the chat alone changes it.
    """
    return cast(User, user)


class Registry:
    """
    Every logged-in user and every room of one process, by name (without
    regard to case), what may be asked of them, and who hears what is said
    to a room or of a user.

    @param permanent_rooms: rooms that exist even while empty, made now
        (unless L{chat.core.kept.KeptRooms.restore} says when they were),
        and kept as kept rooms are.
    @param crowd: the size from which a room is a crowd; 0 for never.
    """

    def __init__(
        self,
        permanent_rooms: tuple[str, ...] = (),
        crowd: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._users: dict[str, User] = {}
        self._rooms: dict[str, Room] = {}
        self.crowd = crowd
        self._clock = clock
        self._presence = Presence(clock)
        # The most users online at once since the start.
        self.peak = 0
        # The rooms that exist with nobody in them (permanent or kept ones),
        # so that LUSERS counts the rooms in use without a walk.
        self._empty: set[Room] = set()
        # The secret rooms (+s), so that a listing leaves out those its
        # viewer is not in without a walk over every room.
        self._secret: set[Room] = set()
        for name in permanent_rooms:
            self._check_room_name(name)
            room = self._rooms[key_of(name)] = Room(name, permanent=True, created=clock())
            self._empty.add(room)

    def __len__(self) -> int:
        return len(self._users)

    # Queries.

    def online(self) -> list[str]:
        return sorted((user.nickname for user in self._users.values()), key=key_of)

    def _named_to_newcomers(self) -> list[str]:
        """
        The nicknames a user who has just logged in, and shares no room
        with anyone yet, is told are online: all but the invisible (C{+i}).
        """
        users = self._users.values()
        return sorted((user.nickname for user in users if not user.invisible), key=key_of)

    def is_online(self, nickname: str) -> bool:
        return key_of(nickname) in self._users

    def find(self, nickname: str) -> User:
        user = self._users.get(key_of(nickname))
        if user is None:
            raise NoSuchUser(nickname)
        return user

    def lookup(self, nickname: str) -> User | None:
        return self._users.get(key_of(nickname))

    def everyone(self) -> list[UserView]:
        return list(self._users.values())

    def room(self, name: str) -> Room:
        room = self._rooms.get(key_of(name))
        if room is None:
            raise NoSuchRoom(name)
        return room

    def members(self, name: str) -> list[str]:
        return sorted((user.nickname for user in self.room(name).members), key=key_of)

    def room_count(self, viewer: UserView | None = None) -> int:
        return len(self._rooms) - len(self._hidden_from(viewer))

    def rooms_in_use(self) -> int:
        # The permanent and kept rooms that are empty only exist to be
        # there: LUSERS does not count them as channels formed.
        return len(self._rooms) - len(self._empty)

    def rooms(
        self, start: int = 0, count: int | None = None, viewer: UserView | None = None
    ) -> list[RoomInfo]:
        """
        The rooms, with their numbers of users and topics, in case-insensitive
        order: every one, or C{count} from the C{start}th. Only the keys are
        sorted (strings, in C), and only the rooms asked for are described.
        A secret room (C{+s}) is shown only to its members (as C{viewer}),
        and the pages are of the rooms C{viewer} may see.
        """
        hidden = self._hidden_from(viewer)
        keys = sorted(self._rooms.keys() - hidden if hidden else self._rooms)
        chosen = keys[start:] if count is None else keys[start : start + count]
        rooms = self._rooms
        return [
            RoomInfo(room.name, len(room), room.topic) for room in map(rooms.__getitem__, chosen)
        ]

    def _hidden_from(self, viewer: UserView | None) -> set[str]:
        """
        The keys of the secret rooms that C{viewer} is not in: a look at the
        secret rooms only.
        """
        rooms = self._rooms
        return {
            key
            for room in self._secret
            if rooms.get(key := key_of(room.name)) is room and viewer not in room
        }

    def _note_secret(self, room: Room) -> None:
        """
        File C{room} among the secret rooms, or not, as its modes say now.
        """
        if Mode.SECRET in room.flags:
            self._secret.add(room)
        else:
            self._secret.discard(room)

    def describe_rooms(
        self, names: Sequence[str], viewer: UserView | None = None
    ) -> list[RoomInfo]:
        found = []
        for name in names:
            room = self._rooms.get(key_of(name))
            if room is not None and (Mode.SECRET not in room.flags or viewer in room):
                found.append(RoomInfo(room.name, len(room), room.topic))
        return found

    def find_rooms(
        self, wanted: RoomFilter, count: int, viewer: UserView | None = None
    ) -> tuple[list[RoomInfo], int]:
        # A walk over the rooms, as a listing of them all is already, until
        # enough are found; the rooms walked are counted.
        now = self._clock()
        found: list[RoomInfo] = []
        walked = 0
        for key in sorted(self._rooms):
            walked += 1
            room = self._rooms[key]
            if Mode.SECRET in room.flags and viewer not in room:
                continue
            if wanted.admits(room.name, len(room), room.created, room.topic_at, now):
                found.append(RoomInfo(room.name, len(room), room.topic))
                if len(found) >= count:
                    break
        return found, walked

    def whowas(self, nickname: str, count: int | None = None) -> list[Was]:
        return self._presence.whowas(nickname, count)

    def watched(self, user: UserView) -> list[tuple[str, UserView | None]]:
        return list(self._presence.watched(own(user), self._users))

    def invitations(self, user: UserView) -> list[str]:
        # The user's own invitations, less those lapsed, those to rooms
        # since emptied (and gone) and those already taken up.
        invited = own(user).invitations
        if not invited:
            return []
        now = self._clock()
        return sorted(
            (
                room.name
                for room, until in invited.items()
                if until > now and self._rooms.get(key_of(room.name)) is room and user not in room
            ),
            key=key_of,
        )

    def check_valid(self, nickname: str) -> None:
        problem = nickname_problem(nickname)
        if problem is not None:
            raise InvalidNickname(nickname, problem)

    def check_rename(self, user: UserView, nickname: str) -> None:
        self._check_online(user)
        if key_of(nickname) != key_of(user.nickname):
            self._check_available(nickname)
        elif nickname == user.nickname:
            raise InvalidNickname(nickname, Problem.ALREADY_YOURS)
        else:
            self.check_valid(nickname)

    # Bookkeeping.

    def _add(self, user: User, room: Room) -> None:
        if not len(room):
            self._empty.discard(room)
        room.add(user)
        rooms = user.rooms
        if isinstance(rooms, list):
            rooms.append(room)
        else:
            user.rooms = [room]

    def _remove(self, user: User, room: Room) -> None:
        room.discard(user)
        rooms = user.rooms
        assert isinstance(rooms, list)  # it is in room
        rooms.remove(room)
        if not rooms:
            user.rooms = NO_ROOMS
        if not len(room):
            if room.kept:
                self._empty.add(room)
            else:
                del self._rooms[key_of(room.name)]
                self._secret.discard(room)

    # Checks.

    def _joinable(self, user: User, name: str) -> Room | None:
        """
        The room C{user} may join as C{name}: the existing one, or L{None} if
        a valid name for a new one. Raises if it cannot join.
        """
        room = self._rooms.get(key_of(name))
        if room is None:
            self._check_room_name(name)
        elif room in user.rooms:
            raise AlreadyInRoom(room.name)
        return room

    def _speaking_room(self, user: UserView, name: str) -> Room:
        """
        The room C{user} may say something in as C{name}: one it is in, or
        one that takes messages from outside (C{-n}); in a moderated room,
        only if it is an operator or voiced.
        """
        room = self._rooms.get(key_of(name))
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

    def _check_room_operator(self, user: UserView, room: Room) -> None:
        """
        Raise unless C{user} may act as an operator of C{room}: one of its
        operators, or an operator of the server (who moderates every room).
        """
        if user not in room.operators and not user.operator:
            raise NotRoomOperator(room.name)

    def _member_room(self, user: UserView, name: str) -> Room:
        room = self._rooms.get(key_of(name))
        if room is None or room not in user.rooms:
            raise NotInRoom(name)
        return room

    def _check_online(self, user: UserView) -> None:
        if not user.online:
            raise NotLoggedIn()

    def _check_available(self, nickname: str) -> None:
        self.check_valid(nickname)
        if key_of(nickname) in self._users:
            raise NicknameTaken(nickname)

    def _check_room_name(self, name: str) -> None:
        problem = room_name_problem(name)
        if problem is not None:
            raise InvalidRoomName(name, problem)

    # Routing.

    def _crowded(self, count: int) -> bool:
        return 0 < self.crowd <= count

    def _announce(self, room: Room, event: Joined | Parted | Left) -> None:
        """
        Tell a room of an arrival or departure, unless it is a crowd.
        """
        if not self._crowded(len(room)):
            self._broadcast(room, event, exclude=None)

    def _broadcast(self, room: Room, event: Event, exclude: UserView | None) -> None:
        for member in room.listeners:
            if member is not exclude:
                member.participant.receive(event)

    def _tell_around(self, user: User, event: Event, watched: Event) -> None:
        """
        Tell C{event} to everyone who shares a room with C{user}, once each,
        and C{watched} to those who watch it (MONITOR) and share no room with
        it (C{user} itself is told neither).
        """
        told: dict[User, None] = {user: None}
        for room in user.rooms:
            for member in room.members:
                if member not in told:
                    told[member] = None
                    member.participant.receive(event)
        for watcher in self._presence.watchers(user.nickname):
            if watcher not in told:
                watcher.participant.receive(watched)
