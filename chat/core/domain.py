"""
The chat itself: who is online, which rooms exist, and who hears what.

Nothing here knows about bytes, sockets or line endings. A front-end logs a
L{Participant} in, calls methods on the domain on its behalf, and receives
L{chat.core.events} through L{Participant.receive}.

A user may be in any number of rooms here; the line protocol keeps each of its
users in exactly one, but another front-end need not.
"""

from __future__ import annotations

from dataclasses import replace

from chat.core.errors import (
    AlreadyInRoom,
    InvalidNickname,
    InvalidRoomName,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotLoggedIn,
)
from chat.core.events import (
    QUIT,
    Action,
    Announcement,
    Departure,
    Entered,
    Event,
    Joined,
    Left,
    Message,
    Parted,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    RoomInfo,
    TopicChanged,
    Welcome,
)
from chat.core.interfaces import Archive, Participant
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

    __slots__ = ("_in", "_snapshot", "name", "permanent", "topic")

    def __init__(self, name: str, permanent: bool = False) -> None:
        self.name = name
        self.topic: str | None = None
        self.permanent = permanent
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
    ) -> None:
        self._users: dict[str, User] = {}
        self._rooms: dict[str, Room] = {}
        self._archive = archive
        self.crowd = crowd
        for name in permanent_rooms:
            self._check_room_name(name)
            self._rooms[_key(name)] = Room(name, permanent=True)

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

    def rooms(self, start: int = 0, count: int | None = None) -> list[RoomInfo]:
        """
        The rooms, with their numbers of users and topics, in case-insensitive
        order: every one, or C{count} from the C{start}th. Only the keys are
        sorted (strings, in C), and only the rooms asked for are described.
        """
        keys = sorted(self._rooms)
        chosen = keys[start:] if count is None else keys[start : start + count]
        rooms = self._rooms
        return [
            RoomInfo(room.name, len(room), room.topic) for room in map(rooms.__getitem__, chosen)
        ]

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

    def join(self, user: User, name: str) -> Room:
        """
        Put C{user} in room C{name}, creating the room if there is none. The
        user is told the room's topic and members; the members that it came.
        """
        self._check_online(user)
        room = self._joinable(user, name)
        if room is None:
            room = self._rooms[_key(name)] = Room(name)
        self._announce(room, Joined(room.name, user.nickname))
        room.add(user)
        user.rooms.append(room)
        if self._crowded(len(room)):
            user.participant.receive(Entered(room.name, user.nickname, room.topic, (), len(room)))
        else:
            members = sorted((member.nickname for member in room.members), key=_key)
            user.participant.receive(Entered(room.name, user.nickname, room.topic, tuple(members)))
        return room

    def part(self, user: User, name: str, destination: str | None = None) -> None:
        """
        Take C{user} out of room C{name} and tell the members left there;
        C{destination} names the room it is going to, if any.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        self._remove(user, room)
        self._announce(room, Parted(room.name, user.nickname, destination))

    def move(self, user: User, source: str, destination: str) -> Room:
        """
        Take C{user} from room C{source} to room C{destination} (created if
        need be), telling both rooms where it went. Nothing happens if the
        destination cannot be joined.
        """
        self._check_online(user)
        old = self._member_room(user, source)
        new = self._joinable(user, destination)
        self.part(user, old.name, destination=new.name if new else destination)
        return self.join(user, destination)

    def set_topic(self, user: User, name: str, topic: str) -> None:
        """
        Set (or, with empty text, clear) the topic of a room C{user} is in, and tell its members.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        cleaned = clean(topic).strip()[:MAX_TOPIC_LENGTH] or None
        room.topic = cleaned
        self._broadcast(room, TopicChanged(room.name, user.nickname, cleaned), exclude=None)

    # Messages.

    def say(self, user: User, name: str, text: str) -> None:
        """
        Send C{text} to the other members of room C{name}. Text that is empty
        once cleaned is dropped.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        text = clean(text)
        if text.strip():
            self._public(room, user, Message(room.name, user.nickname, text))

    def act(self, user: User, name: str, text: str) -> None:
        """
        Show the other members of room C{name} that C{user} does C{text}.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        text = clean(text)
        if text.strip():
            self._public(room, user, Action(room.name, user.nickname, text))

    def whisper(self, user: User, recipient: str, text: str) -> None:
        """
        Send C{text} to C{recipient} only, in whatever room, and confirm it to C{user}.

        @raise NoSuchUser: if nobody called C{recipient} is online.
        """
        self._check_online(user)
        target = self.find(recipient)
        text = clean(text)
        if not text.strip():
            return
        event = PrivateMessage(user.nickname, target.nickname, text)
        target.participant.receive(event)
        user.participant.receive(
            PrivateMessageSent(user.nickname, target.nickname, text, target.away)
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
