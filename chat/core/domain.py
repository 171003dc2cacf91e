"""
The chat itself: who is online, which rooms exist, and who hears what.

Nothing here knows about bytes, sockets or line endings. A front-end logs a
L{Participant} in, calls methods on the domain on its behalf, and receives
L{chat.core.events} through L{Participant.receive}.

A user may be in any number of rooms here; the line protocol keeps each of its
users in exactly one, but another front-end need not.
"""

from __future__ import annotations

import fnmatch
import time
from collections import deque
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
    AwayChanged,
    Departure,
    Entered,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    Meta,
    ModesChanged,
    Parted,
    Presence,
    PrivateMessage,
    PrivateMessageSent,
    RealnameChanged,
    Renamed,
    RoomBan,
    RoomInfo,
    TagMessage,
    Tags,
    TopicChanged,
    Was,
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
        "account",
        "active",
        "away",
        "bot",
        "invisible",
        "nickname",
        "online",
        "operator",
        "participant",
        "realname",
        "rooms",
        "username",
        "watching",
    )

    def __init__(self, nickname: str, participant: Participant) -> None:
        self.nickname = nickname
        self.participant = participant
        self.online = True
        self.rooms: list[Room] = []
        # The user's away message while it is away.
        self.away: str | None = None
        # Not found by searches with wildcards (IRC's +i) by those who share no room with it.
        self.invisible = False
        # The account it proved it owns (its session decides), and whether
        # it says it is a program (IRC's bot mode): shown with its messages.
        self.account: str | None = None
        self.bot = False
        # When it last said something (or logged in), for idle times.
        self.active = 0.0
        # The nicknames (keys) it watches (IRC's MONITOR); a set only once
        # it watches one: thousands of users, most watching nobody.
        self.watching: set[str] | None = None
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
        "bans",
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
        # Masks of who may not join (IRC's +b), in the order they were set.
        self.bans: list[RoomBan] = []
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


WHOWAS_KEPT = 1000
"""
Departures and renames remembered for WHOWAS: a few hundred KB at most.
"""


def _key(name: str) -> str:
    return name.lower()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = digits[digit] + out
        if not number:
            return out


def _ban_mask(text: str) -> str:
    """
    A ban mask in full, C{NICK!USER@HOST}: a bare nickname pattern is C{NICK!*@*}.
    """
    text = clean(text).replace(" ", "")
    if "!" not in text and "@" not in text:
        return f"{text}!*@*"
    if "@" not in text:
        return f"{text}@*"
    if "!" not in text:
        return f"*!{text}"
    return text


def _banned(mask: str, user: User) -> bool:
    """
    Whether C{mask} (C{NICK!USER@HOST}, with C{*} and C{?}) matches
    C{user}, without regard to case. chat shows no addresses: the host part
    matches every host.
    """
    who, _, _host = mask.partition("@")
    nick, _, name = who.partition("!")
    return fnmatch.fnmatchcase(_key(user.nickname), _key(nick)) and fnmatch.fnmatchcase(
        _key(user.username or user.nickname), _key(name or "*")
    )


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
        # The most users online at once since the start.
        self.peak = 0
        # Who watches each nickname (key): told when it comes and goes.
        self._watchers: dict[str, set[User]] = {}
        # Who was here: the last WHOWAS_KEPT departures and renames, newest last.
        self._was: deque[Was] = deque(maxlen=WHOWAS_KEPT)
        # Message ids: this run's start (base 36), then a count.
        self._run = _base36(int(clock() * 1000))
        self._sent = 0
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
        user.active = self._clock()
        self._users[_key(nickname)] = user
        self.peak = max(self.peak, len(self._users))
        self._presence(nickname, True)
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
        self._remember(user)
        self.unwatch(user, None)
        self._presence(user.nickname, False)
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

    def watch(self, user: User, nicknames: Sequence[str]) -> list[tuple[str, User | None]]:
        """
        Have C{user} told when each of C{nicknames} comes on line and goes
        (and, for clients that show it, its away message and real name).

        @return: each nickname, with the user online under it if any.
        """
        found = []
        if user.watching is None:
            user.watching = set()
        for nickname in nicknames:
            key = _key(nickname)
            user.watching.add(key)
            self._watchers.setdefault(key, set()).add(user)
            found.append((nickname, self._users.get(key)))
        return found

    def unwatch(self, user: User, nicknames: Sequence[str] | None) -> None:
        """
        Stop watching C{nicknames} (L{None}: all of them).
        """
        watching = user.watching
        if watching is None:
            return
        keys = list(watching) if nicknames is None else [_key(n) for n in nicknames]
        for key in keys:
            watching.discard(key)
            watchers = self._watchers.get(key)
            if watchers is not None:
                watchers.discard(user)
                if not watchers:
                    del self._watchers[key]

    def watched(self, user: User) -> list[tuple[str, User | None]]:
        """
        What C{user} watches, with the user online under each nickname if any.
        """
        return [(key, self._users.get(key)) for key in sorted(user.watching or ())]

    def _presence(self, nickname: str, online: bool, username: str | None = None) -> None:
        for watcher in self._watchers.get(_key(nickname), ()):
            watcher.participant.receive(Presence(watcher.nickname, nickname, online, username))

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
        for watcher in self._watchers.get(_key(user.nickname), ()):
            if watcher not in told:
                watcher.participant.receive(watched)

    def rename_real(self, user: User, realname: str) -> str | None:
        """
        Change what C{user} says its real name is (IRC's SETNAME); it, those
        who share a room with it and those who watch it are told.

        @return: the real name as kept (L{None} if it was empty once cleaned).
        """
        self._check_online(user)
        cleaned = clean(realname).strip()[:MAX_TOPIC_LENGTH] or None
        if cleaned is None:
            return None
        user.realname = cleaned
        event = RealnameChanged(user.nickname, cleaned)
        user.participant.receive(event)
        self._tell_around(user, event, RealnameChanged(user.nickname, cleaned, True))
        return cleaned

    def _remember(self, user: User) -> None:
        self._was.append(Was(user.nickname, user.username, user.realname, self._clock()))

    def whowas(self, nickname: str, count: int | None = None) -> list[Was]:
        """
        Who went by C{nickname} lately, newest first: C{count} at most.
        """
        key = _key(nickname)
        found = [was for was in reversed(self._was) if _key(was.nickname) == key]
        return found if count is None or count <= 0 else found[:count]

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
        self._remember(user)
        old = user.nickname
        del self._users[_key(old)]
        user.nickname = nickname
        self._users[_key(nickname)] = user
        if _key(old) != _key(nickname):  # a change of case is no coming or going
            self._presence(old, False)
            self._presence(nickname, True, user.username)
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
        self._announce(
            room, Joined(room.name, user.nickname, user.account, user.realname, user.away)
        )
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
                Mode.SECRET in room.flags,
            )
        )
        return room

    def _check_admitted(self, user: User, room: Room, key: str | None) -> None:
        if user.operator:
            return
        if room.bans and any(_banned(ban.mask, user) for ban in room.bans):
            raise CannotJoin(room.name, CannotJoin.BANNED)
        if _key(user.nickname) in room.invited:
            return
        if Mode.INVITE_ONLY in room.flags:
            raise CannotJoin(room.name, CannotJoin.INVITE_ONLY)
        if room.key is not None and key != room.key:
            raise CannotJoin(room.name, CannotJoin.BAD_KEY)
        if room.limit is not None and len(room) >= room.limit:
            raise CannotJoin(room.name, CannotJoin.FULL)

    def part(
        self, user: User, name: str, destination: str | None = None, reason: str | None = None
    ) -> str:
        """
        Take C{user} out of room C{name} and tell the members left there;
        C{destination} names the room it is going to, if any, C{reason}
        why it goes (IRC's PART message).

        @return: the room's name as it is spelt.
        """
        self._check_online(user)
        room = self._member_room(user, name)
        reason = clean(reason or "").strip() or None
        self._remove(user, room)
        self._announce(room, Parted(room.name, user.nickname, destination, reason))
        return room.name

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
            done = self._apply(room, change, user)
            if done is not None:
                made.append(done)
        if made:
            event = ModesChanged(room.name, user.nickname, tuple(made))
            self._broadcast(room, event, exclude=None)
        return made

    def _apply(self, room: Room, change: ModeChange, by: User) -> ModeChange | None:
        """
        Make C{change} to C{room}: the change as made (a key as kept), or
        L{None} if nothing changed.
        """
        mode, on, argument = change.mode, change.on, change.argument
        if mode in FLAGS:
            if (mode in room.flags) == on:
                return None
            (room.flags.add if on else room.flags.discard)(mode)
            return change
        if mode is Mode.KEY:
            if on:
                # A key is one word of at most 23 characters (RFC 2812).
                key = clean(argument or "").replace(" ", "")[:23] or None
                if key is None or key == room.key:
                    return None
                room.key = key
                return ModeChange(mode, True, key)
            if room.key is None:
                return None
            room.key = None
            return ModeChange(mode, False)
        if mode is Mode.LIMIT:
            if on:
                try:
                    limit = int(argument or "")
                except ValueError:
                    return None
                if limit <= 0 or limit == room.limit:
                    return None
                room.limit = limit
                return ModeChange(mode, True, str(limit))
            if room.limit is None:
                return None
            room.limit = None
            return change
        if mode is Mode.BAN and argument is not None:
            mask = _ban_mask(argument)
            known = any(_key(mask) == _key(b.mask) for b in room.bans)
            if on == known:
                return None
            if on:
                room.bans.append(RoomBan(mask, by.nickname, self._clock()))
            else:
                room.bans = [b for b in room.bans if _key(b.mask) != _key(mask)]
            return ModeChange(mode, on, mask)
        if mode in MEMBER_MODES and argument is not None:
            target = self.find(argument)
            if target not in room:
                raise NotInThatRoom(target.nickname, room.name)
            holders = room.operators if mode is Mode.OPERATOR else room.voiced
            if (target in holders) == on:
                return None
            (holders.add if on else holders.discard)(target)
            return ModeChange(mode, on, target.nickname)
        return None

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

    def say(
        self,
        user: User,
        name: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
    ) -> Message | None:
        """
        Send C{text} to the other members of room C{name}. Text that is empty
        once cleaned is dropped.

        @param tags: what the sender's client gives other clients with it.
        @return: the message as the others got it (for an echo to its
            sender), or L{None} if it was dropped.
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        text = clean(text)
        if not text.strip():
            return None
        event = Message(room.name, user.nickname, text, notice, self._meta(user, tags))
        self._public(room, user, event)
        return event

    def _meta(self, user: User, tags: Tags = ()) -> Meta:
        """
        A new message's id and what it carries of its sender: an id unique
        for this run of the server (its start, then a count). The sender is
        no longer idle.
        """
        user.active = self._clock()
        self._sent += 1
        return Meta(f"{self._run}-{self._sent}", user.account, user.bot, tags)

    def tag(self, user: User, target: str, tags: Tags, room: bool) -> TagMessage:
        """
        Send tags and nothing else to room C{target} (C{room}) or to the user C{target}.
        """
        self._check_online(user)
        meta = self._meta(user, tags)
        if room:
            found = self._speaking_room(user, target)
            event = TagMessage(user.nickname, found.name, None, meta)
            self._broadcast(found, event, exclude=user)
        else:
            recipient = self.find(target)
            event = TagMessage(user.nickname, None, recipient.nickname, meta)
            recipient.participant.receive(event)
        return event

    def act(self, user: User, name: str, text: str) -> Action | None:
        """
        Show the other members of room C{name} that C{user} does C{text}.
        """
        self._check_online(user)
        room = self._speaking_room(user, name)
        text = clean(text)
        if not text.strip():
            return None
        event = Action(room.name, user.nickname, text, self._meta(user))
        self._public(room, user, event)
        return event

    def whisper(
        self,
        user: User,
        recipient: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
    ) -> None:
        """
        Send C{text} to C{recipient} only, in whatever room, and confirm it to C{user}.

        @raise NoSuchUser: if nobody called C{recipient} is online.
        """
        self._check_online(user)
        target = self.find(recipient)
        text = clean(text)
        if not text.strip():
            return
        meta = self._meta(user, tags)
        event = PrivateMessage(user.nickname, target.nickname, text, notice, meta)
        target.participant.receive(event)
        # A notice is not answered, not even with an away message.
        away = None if notice else target.away
        user.participant.receive(
            PrivateMessageSent(user.nickname, target.nickname, text, away, notice, meta)
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
        self._tell_around(
            user,
            AwayChanged(user.nickname, user.away),
            AwayChanged(user.nickname, user.away, True),
        )
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
