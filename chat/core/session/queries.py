"""
What a session's user asks to know: who is here, who someone is, which rooms
exist, what was said. Listings cost the flood allowance what their lines
would; history is read off the reactor thread while live events wait, one
read at a time per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from twisted.internet.defer import Deferred, succeed

from chat.core.errors import NoSuchRoom, NotInRoom
from chat.core.events import Entry, RoomFilter
from chat.core.interfaces import HistoryReader, RoomView, UserView
from chat.core.limits import LIST_MASKS, NAMES_PER_LINE, ROOMS_PAGE, SEARCH_RESULTS
from chat.core.modes import Mode, ModeChange
from chat.core.pages import Page
from chat.core.replies import (
    Counts,
    Feature,
    Found,
    Help,
    HistoryNeedsAccount,
    HistoryPage,
    HistoryTargets,
    LastMessages,
    Member,
    Members,
    NoHistoryOf,
    PrivateHistory,
    Refused,
    RoomModes,
    Rooms,
    TooManyMasks,
    Unavailable,
    Users,
    WasHere,
    Whois,
)
from chat.core.rights import requires
from chat.core.session.base import SessionBase


class Queries(SessionBase):
    """
    Listings, lookups and history.
    """

    __slots__ = ()

    def help(self) -> None:
        """
        The commands this user may use here: operators' only for operators,
        history's only with history, and so on.
        """
        self.peer.tell(Help(self.operator, frozenset(f for f in Feature if self.has(f))))

    def who(self, room: str | None) -> None:
        """
        Who is in C{room}, or (L{None}) online. A secret room (C{+s}) is
        answered as an empty one to those outside it, under the name asked
        (as one that does not exist is); an invisible user (C{+i}) is not
        named among those online to those who share no room with it.
        """
        me = self._logged_in()
        if room is None:
            mine = set(me.rooms)
            online = sorted(
                (u.nickname for u in self.chat.everyone() if not _hidden(u, me, mine)),
                key=str.lower,
            )
            self._charge(len(online) / NAMES_PER_LINE)
            self.peer.tell(Users(online, None))
            return
        found = self.chat.room(room)
        if not _sees(me, found):
            self.peer.tell(Users((), room))
            return
        users = self.chat.members(room)
        self._charge(len(users) / NAMES_PER_LINE)
        self.peer.tell(
            Users(
                users,
                found.name,
                frozenset(u.nickname for u in found.operators),
                frozenset(u.nickname for u in found.voiced),
                Mode.SECRET in found.flags,
            )
        )

    def whois(self, nickname: str) -> None:
        """
        Who C{nickname} is: its rooms, and whether it is an operator.
        """
        user = self._logged_in()
        target = self.chat.find(nickname)
        now = self.service.clock.seconds()
        # A secret room is named only to those who share it.
        shown = [room for room in target.rooms if _sees(user, room)]
        self.peer.tell(
            Whois(
                target.nickname,
                [room.name for room in shown],
                target.operator,
                target.away,
                target.username,
                target.realname,
                frozenset(room.name for room in shown if target in room.operators),
                frozenset(room.name for room in shown if target in room.voiced),
                target.bot,
                target.account,
                int(now - target.active),
                target.signon,
            )
        )

    def whowas(self, nickname: str, count: int | None = None) -> None:
        """
        Who went by C{nickname} lately.
        """
        self._logged_in()
        found = self.chat.whowas(nickname, count)
        self._charge(len(found))
        self.peer.tell(WasHere(nickname, found))

    def members(
        self,
        room: str | None,
        nicknames: Sequence[str] | None = None,
        mask: str | None = None,
    ) -> None:
        """
        The users of C{room}, or (L{None}) everyone online, or only those of
        C{nicknames} who are online, with details. With C{mask}, only the
        users online whose nicknames match it (C{*} and C{?} wildcards; a
        mask with wildcards does not find an invisible user who shares no
        room with this one). A listing costs the flood allowance a line per
        L{LINES_PER_TOKEN} users in it. A secret room (C{+s}) is answered as
        an empty one to those outside it.
        """
        me = self._logged_in()
        chat = self.chat
        found = chat.room(room) if room is not None else None
        if found is not None and not _sees(me, found):
            self.peer.tell(Members(room, []))
            return
        mine = set(me.rooms)

        def hidden(u: UserView) -> bool:
            return _hidden(u, me, mine)

        users: Sequence[UserView]
        if nicknames is not None:
            users = [u for u in map(chat.lookup, nicknames) if u is not None]
        elif mask is not None and not any(c in mask for c in "*?["):
            # One nickname (what clients ask most): no walk over everyone.
            one = chat.lookup(mask)
            users = [one] if one is not None else []
        else:
            everyone = found.members if found is not None else chat.everyone()
            if mask is not None:
                pattern = mask.lower()
                everyone = [
                    u
                    for u in everyone
                    if fnmatchcase(u.nickname.lower(), pattern) and not hidden(u)
                ]
            users = sorted(everyone, key=lambda u: u.nickname.lower())
        if nicknames is None:
            # A line each (ISON's answer is no longer than what it asked).
            self._charge(len(users))
        ops = found.operators if found is not None else frozenset()
        voiced = found.voiced if found is not None else frozenset()
        now = self.service.clock.seconds()
        listed = [
            Member(
                u.nickname,
                u.operator,
                u.away,
                u.username,
                u.realname,
                u in ops,
                u in voiced,
                hidden(u),
                u.bot,
                u.account,
                int(now - u.active),
                _first_room(u, mine),
            )
            for u in users
        ]
        self.peer.tell(Members(found.name if found is not None else None, listed))

    def counts(self) -> None:
        """
        How many users, operators, unregistered connections and rooms there are.
        """
        service, chat = self.service, self.chat
        # Kept counts, not a walk over every session: this is part of every
        # IRC registration, and thousands may register at once.
        online = len(chat)
        self.peer.tell(
            Counts(
                online,
                sum(1 for s in service.operators if s.user is not None),
                # Every user online came in through a session.
                max(0, len(service.sessions) - online),
                chat.rooms_in_use(),
                chat.peak,
            )
        )

    def rooms(self, page: int = 1) -> None:
        """
        One page of the rooms (L{ROOMS_PAGE} at most); a long answer costs
        the flood allowance what its lines would.
        """
        user = self._logged_in()
        chat = self.chat
        listed = chat.rooms((page - 1) * ROOMS_PAGE, ROOMS_PAGE, viewer=user)
        self._charge(len(listed))
        self.peer.tell(Rooms(listed, chat.room_count(user), page))

    def rooms_named(self, names: Sequence[str]) -> None:
        """
        The rooms of C{names} that exist (IRC's C{LIST #a,#b}).
        """
        user = self._logged_in()
        listed = self.chat.describe_rooms(names[:ROOMS_PAGE], viewer=user)
        self._charge(len(listed))
        self.peer.tell(Rooms(listed, len(listed)))

    def rooms_matching(self, wanted: RoomFilter) -> None:
        """
        The rooms C{wanted} admits (IRC's LIST with ELIST conditions), the
        first L{ROOMS_PAGE}, with L{LIST_MASKS} masks at most. It costs the
        flood allowance a line for every room looked at, found or not (a
        line per L{LINES_PER_TOKEN}, as any listing), so that a loop of
        them waits its turn however little they find.
        """
        user = self._logged_in()
        if wanted.masks > LIST_MASKS:
            raise Refused(TooManyMasks(LIST_MASKS))
        listed, looked_at = self.chat.find_rooms(wanted, ROOMS_PAGE + 1, viewer=user)
        self._charge(looked_at)
        self.peer.tell(Rooms(listed[:ROOMS_PAGE], len(listed)))

    def show_modes(self, room: str) -> None:
        """
        C{room}'s modes; its key only to those inside, who give it out.
        """
        user = self._logged_in()
        found = self._seen_room(room)
        modes = found.modes()
        if user not in found:
            modes = [ModeChange(Mode.KEY, True) if m.mode is Mode.KEY else m for m in modes]
        self.peer.tell(RoomModes(found.name, modes, found.created))

    # History.

    @requires(needs=Feature.HISTORY)
    def history(self, room: str, count: int) -> None:
        """
        The last C{count} messages of C{room}, one the user is in, read once
        no other read of stored messages is under way for this user (see
        L{_in_turn}).
        """
        self._member(room)
        reader = self._history()
        self._in_turn(
            lambda: self._read(
                reader.recent(room, count), lambda found: LastMessages(room, count, found)
            )
        )

    @requires(needs=Feature.HISTORY)
    def search(self, room: str, text: str) -> None:
        """
        The messages of C{room} with the words of C{text}, read once no other
        read is under way for this user: a user cannot pile searches up on
        the database, only wait for each in turn.
        """
        self._member(room)
        reader = self._history()
        self._in_turn(
            lambda: self._read(
                reader.search(room, text, SEARCH_RESULTS), lambda found: Found(room, text, found)
            )
        )

    @requires(needs=Feature.HISTORY)
    def conversation(self, nickname: str, count: int) -> None:
        """
        The last C{count} private messages between the user and C{nickname}:
        of those its account sent or received while the user was logged in
        to it (a nickname can be somebody else's tomorrow; an account
        cannot), so that nobody but the two ever reads them.
        """
        user = self._logged_in()
        reader = self._history()
        account = user.account
        if account is None:
            raise Refused(HistoryNeedsAccount())
        self._in_turn(
            lambda: self._read(
                reader.conversation(account, nickname, count),
                lambda found: PrivateHistory(nickname, count, found),
            )
        )

    @requires(needs=Feature.HISTORY)
    def page(self, target: str, room: bool, page: Page) -> None:
        """
        A page of the past of room C{target} (C{room}: for its members), or
        of the user's private conversation with the nickname C{target}: of
        its account's, as L{conversation}; a user logged in to none has no
        private past to read, and is given an empty page.
        """
        user = self._logged_in()
        reader = self._history()
        if room:
            try:
                self._member(target)
            except (NotInRoom, NoSuchRoom):
                raise Refused(NoHistoryOf(page.reading, target)) from None
        account = user.account

        def read() -> Deferred[list[Entry]]:
            if room:
                return reader.page(target, page)
            if account is None:
                return succeed([])
            return reader.private_page(account, target, page)

        self._in_turn(lambda: self._read(read(), lambda found: HistoryPage(target, room, found)))

    @requires(needs=Feature.HISTORY)
    def conversations(self, after: float, before: float, count: int) -> None:
        """
        The rooms the user is in and the private conversations of its
        account whose newest message was said between C{after} and
        C{before} (either way round), at most C{count}, the least recent first.
        """
        user = self._logged_in()
        reader = self._history()
        rooms = [room.name for room in user.rooms]
        account = user.account
        after, before = min(after, before), max(after, before)
        self._in_turn(
            lambda: self._read(
                reader.conversations(account, rooms, after, before, count), HistoryTargets
            )
        )

    def _member(self, room: str) -> None:
        """
        Raise unless the user is in C{room}: only its members read its past.
        """
        if self._logged_in() not in self.chat.room(room):
            raise NotInRoom(room)

    def _history(self) -> HistoryReader:
        history = self.service.history
        if history is None:
            raise Refused(Unavailable(Feature.HISTORY))
        return history


def _sees(viewer: UserView, room: RoomView) -> bool:
    """
    Whether C{viewer} may know who is in C{room}: unless it is secret
    (C{+s}), anyone; if it is, its members only. The server's operators are
    no exception (they see what WHOIS and LIST show them).
    """
    return Mode.SECRET not in room.flags or viewer in room


def _hidden(user: UserView, viewer: UserView, shared: set[RoomView]) -> bool:
    """
    Whether C{user} is left out of listings of everyone for C{viewer}, whose
    rooms are C{shared}: it is invisible (C{+i}) and they share no room.
    """
    return user.invisible and user is not viewer and not shared.intersection(user.rooms)


def _first_room(user: UserView, shared: set[RoomView]) -> str | None:
    """
    The first of C{user}'s rooms that is in C{shared}, or else its first
    room that is not secret (C{+s}); L{None} if there is none.
    """
    for room in user.rooms:
        if room in shared:
            return room.name
    for room in user.rooms:
        if Mode.SECRET not in room.flags:
            return room.name
    return None
