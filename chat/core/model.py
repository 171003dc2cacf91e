"""
The chat's model: a user and a room as the in-memory chat owns them.

Only the chat (L{chat.core.domain}) changes these. Everyone else sees them
through the read-only views of L{chat.core.interfaces} (C{UserView},
C{RoomView}): mypy refuses a write through a view, and every change is a
method of the chat, so that a clustered chat can stand behind the same calls.
"""

from __future__ import annotations

from collections.abc import Callable

from chat.core.errors import CannotJoin, InvalidMask, ListFull, NotInThatRoom
from chat.core.events import Departure, Event, RoomBan
from chat.core.interfaces import Participant
from chat.core.limits import LIST_LIMIT, MAX_MASK_LENGTH
from chat.core.masks import ACCOUNT, Masks, ban_mask
from chat.core.modes import FLAGS, LIST_MODES, MEMBER_MODES, NEW_ROOM, Mode, ModeChange
from chat.core.text import word

NO_ROOMS: tuple[()] = ()
"""
The rooms of a user in none.
"""


class Elsewhere:
    """
    The participant of a user whose connection another process holds (a
    node of a cluster, which tells that user what happens itself): nothing
    is told here, and a room's broadcasts pass it by (L{Room.listeners}).
    """

    __slots__ = ()

    def receive(self, event: Event) -> None:
        pass

    def disconnect(self, departure: Departure) -> None:
        pass

    def removed(self, room: str) -> None:
        pass


ELSEWHERE = Elsewhere()


def key_of(name: str) -> str:
    """
    What a nickname or a room name is compared by: its case does not matter.
    The name itself when it is in lower case already, so that a key kept for
    as long as a user is here is not a second copy of its nickname.
    """
    key = name.lower()
    return name if key == name else key


class User:
    """
    One logged-in user.
    """

    # One per user, thousands at once.
    __slots__ = (
        "account",
        "active",
        "away",
        "bot",
        "host",
        "invisible",
        "invitations",
        "nickname",
        "online",
        "operator",
        "participant",
        "realname",
        "rooms",
        "signon",
        "username",
        "watching",
    )

    def __init__(self, nickname: str, participant: Participant) -> None:
        self.nickname = nickname
        self.participant = participant
        self.online = True
        # The rooms it is in, in the order it joined them: a list while it
        # is in one (nothing, in no room: many IRC users are in none).
        self.rooms: list[Room] | tuple[()] = NO_ROOMS
        # The user's away message while it is away.
        self.away: str | None = None
        # Not found by searches with wildcards (IRC's +i) by those who share no room with it.
        self.invisible = False
        # The account it proved it owns (its session decides), and whether
        # it says it is a program (IRC's bot mode): shown with its messages.
        self.account: str | None = None
        self.bot = False
        # When it last said something (or logged in), for idle times, and
        # when it logged in.
        self.active = 0.0
        self.signon = 0.0
        # The nicknames (keys) it watches (IRC's MONITOR); a set only once
        # it watches one: thousands of users, most watching nobody.
        self.watching: set[str] | None = None
        # Whether it may moderate (its session decides), and what IRC users
        # say of themselves at registration (line users say nothing).
        self.operator = False
        self.username: str | None = None
        self.realname: str | None = None
        # The address it connects from (never shown; room bans match it),
        # lowered, or empty if it has none (a Unix socket).
        self.host = ""
        # The rooms it is invited into, with when each invitation lapses;
        # a dict only once it has one.
        self.invitations: dict[Room, float] | None = None

    def __repr__(self) -> str:
        return f"<User {self.nickname!r}>"


class Room:
    """
    A named place; what is said in it reaches its members only.
    """

    __slots__ = (
        "_elsewhere",
        "_heard",
        "_in",
        "_snapshot",
        "created",
        "exception_masks",
        "flags",
        "founder",
        "invite_exception_masks",
        "keepers",
        "key",
        "limit",
        "masks",
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
        # Its modes (chat.core.modes): the flags on (a permanent room has
        # no operators but the server's, who alone set its topic: the lobby's
        # greets every newcomer, long after whoever set it left), the key and the limit
        # if set; its operators and voiced members (sets: most rooms have
        # one or two, and a message checks membership, not these).
        self.flags: set[Mode] = set(NEW_ROOM)
        self.key: str | None = None
        self.limit: int | None = None
        self.operators: set[User] = set()
        self.voiced: set[User] = set()
        # Masks of who may not join (IRC's +b), of who may all the same
        # (+e), and of who may join it while it is invite-only (+I), each
        # in the order they were set.
        self.masks = Masks()
        self.exception_masks = Masks()
        self.invite_exception_masks = Masks()
        # A kept room's founder (the account that keeps it), and the
        # accounts of its operators, by key (a permanent room is kept
        # without a founder): see chat.core.kept. None for other rooms.
        self.founder: str | None = None
        self.keepers: dict[str, str] | None = {} if permanent else None
        # Members in the order they came; a dict, so that one leaving a room of
        # thousands (or thousands leaving at once) costs O(1) each.
        self._in: dict[User, None] = {}
        self._snapshot: tuple[User, ...] | None = ()
        # How many members are users of another node (ELSEWHERE), and the
        # members a broadcast goes to, as a snapshot (None: to take again).
        self._elsewhere = 0
        self._heard: tuple[User, ...] | None = ()

    def __repr__(self) -> str:
        return f"<Room {self.name!r}>"

    def __len__(self) -> int:
        return len(self._in)

    @property
    def kept(self) -> bool:
        """
        Whether the room stays when it empties, and what it is made of is
        written at each change: a permanent room, or one its founder keeps.
        """
        return self.keepers is not None

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

    @property
    def listeners(self) -> tuple[User, ...]:
        """
        The members told what is said in the room, as a snapshot: all of
        them, but for the users of other nodes of a cluster, whose own
        nodes tell them (a node of three would go through three times as
        many members as it tells, for every message).
        """
        heard = self._heard
        if heard is None:
            members = self._in
            if self._elsewhere:
                heard = tuple(u for u in members if u.participant is not ELSEWHERE)
            else:
                heard = tuple(members)
            self._heard = heard
        return heard

    def add(self, user: User) -> None:
        if user not in self._in and user.participant is ELSEWHERE:
            self._elsewhere += 1
        self._in[user] = None
        self._snapshot = self._heard = None

    def discard(self, user: User) -> None:
        if self._in.pop(user, 0) is None and user.participant is ELSEWHERE:
            self._elsewhere -= 1
        self._snapshot = self._heard = None
        self.operators.discard(user)
        self.voiced.discard(user)

    def __contains__(self, user: object) -> bool:
        return user in self._in

    @property
    def bans(self) -> tuple[RoomBan, ...]:
        """
        The ban masks, in the order they were set.
        """
        return tuple(self.masks)

    @property
    def exceptions(self) -> tuple[RoomBan, ...]:
        """
        The masks let in past the bans (+e), in the order they were set.
        """
        return tuple(self.exception_masks)

    @property
    def invite_exceptions(self) -> tuple[RoomBan, ...]:
        """
        The masks let in while the room is invite-only (+I), in the order they were set.
        """
        return tuple(self.invite_exception_masks)

    def mask_list(self, mode: Mode) -> Masks:
        """
        The list of masks of C{mode} (C{b}, C{e} or C{I}).
        """
        if mode is Mode.BAN_EXCEPTION:
            return self.exception_masks
        if mode is Mode.INVITE_EXCEPTION:
            return self.invite_exception_masks
        return self.masks

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
        self._snapshot = self._heard = ()
        self._elsewhere = 0


def matched(masks: Masks, user: User) -> bool:
    """
    Whether a mask of C{masks} matches C{user}: its nickname, its user name
    (its nickname if it gave none), its address, its account.
    """
    return bool(masks) and masks.match(
        user.nickname, user.username or user.nickname, user.host, user.account
    )


def banned(room: Room, user: User) -> bool:
    """
    Whether C{room}'s bans keep C{user} out: a ban mask matches it, and no
    exception (C{+e}) lets it in past them.
    """
    return matched(room.masks, user) and not matched(room.exception_masks, user)


def recognised(room: Room, user: User) -> bool:
    """
    Whether C{user} is logged in to the account of one of C{room}'s
    operators, C{room} being kept.
    """
    keepers, account = room.keepers, user.account
    return keepers is not None and account is not None and key_of(account) in keepers


def admit(room: Room, user: User, key: str | None, now: float) -> None:
    """
    Raise L{CannotJoin} unless C{user} may join C{room} with C{key}: not
    banned from it (or let in past the bans, C{+e}), and invited (and the
    invitation not lapsed), or past its C{+i} (or let in past it, C{+I}),
    C{+k} and C{+l}. An operator of the server goes anywhere, and so does
    one of a kept room's operators (by account) into that room.
    """
    if user.operator or recognised(room, user):
        return
    if banned(room, user):
        raise CannotJoin(room.name, CannotJoin.BANNED)
    invitations = user.invitations
    if invitations is not None and invitations.get(room, 0.0) > now:
        return
    if Mode.INVITE_ONLY in room.flags and not matched(room.invite_exception_masks, user):
        raise CannotJoin(room.name, CannotJoin.INVITE_ONLY)
    if room.key is not None and key != room.key:
        raise CannotJoin(room.name, CannotJoin.BAD_KEY)
    if room.limit is not None and len(room) >= room.limit:
        raise CannotJoin(room.name, CannotJoin.FULL)


def apply(
    room: Room, change: ModeChange, by: User, now: float, find: Callable[[str], User]
) -> ModeChange | None:
    """
    Make C{change} to C{room}, as C{by}: the change as made (a key as
    kept), or L{None} if nothing changed.

    @param find: the user online under a nickname (for C{+o} and C{+v}).
    @raise NotInThatRoom: for a member mode given to somebody outside.
    @raise ListFull: for a mask past L{LIST_LIMIT} on its list (C{b}, C{e}, C{I}).
    @raise InvalidMask: for an empty or over-long mask.
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
            new = word(argument or "")[:23] or None
            if new is None or new == room.key:
                return None
            room.key = new
            return ModeChange(mode, True, new)
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
    if mode in LIST_MODES and argument is not None:
        mask = ban_mask(argument)
        masks = room.mask_list(mode)
        if not on:
            removed = masks.remove(mask)
            return None if removed is None else ModeChange(mode, False, removed.mask)
        if mask in masks:
            return None
        if not mask.lower().removeprefix(ACCOUNT) or len(mask) > MAX_MASK_LENGTH:
            raise InvalidMask(room.name, argument, mode.value)
        if len(masks) >= LIST_LIMIT:
            raise ListFull(room.name, mode.value, LIST_LIMIT)
        masks.add(RoomBan(mask, by.nickname, now))
        return ModeChange(mode, True, mask)
    if mode in MEMBER_MODES and argument is not None:
        target = find(argument)
        if target not in room:
            raise NotInThatRoom(target.nickname, room.name)
        holders = room.operators if mode is Mode.OPERATOR else room.voiced
        if (target in holders) == on:
            return None
        (holders.add if on else holders.discard)(target)
        return ModeChange(mode, on, target.nickname)
    return None
