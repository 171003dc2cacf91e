"""
Moderation: a room's operators over their room (modes, kicks out of it,
invitations), and the server's operators over the whole chat (kicks, bans,
announcements).

A server operator's action checks its own right (L{requires}): whichever
door calls it, a user who is no operator is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from chat.core.errors import UnknownMode
from chat.core.events import Ban, BanKind, Departure, Why
from chat.core.interfaces import BanList, RoomView
from chat.core.limits import MODES_PER_LINE
from chat.core.modes import MODE_USAGE, Mode, parse_modes
from chat.core.replies import (
    BanList as BanListReply,
)
from chat.core.replies import (
    Banned,
    BanningYourself,
    Feature,
    Invitations,
    Inviting,
    KickedOut,
    NotBanned,
    Refused,
    RoomBans,
    RoomKept,
    RoomUnkept,
    TooManyModes,
    Unavailable,
    Unbanned,
    Usage,
)
from chat.core.rights import requires
from chat.core.session.queries import Queries
from chat.core.text import clean


class Moderation(Queries):
    """
    What operators do.
    """

    __slots__ = ()

    # A room's operators.

    def modes(self, room: str, text: str | None, arguments: Sequence[str] = ()) -> None:
        """
        Show C{room}'s modes (C{text} L{None}), or change them (C{+nt},
        C{+o bob}, C{-k}): see L{chat.core.modes}. Of the changes with an
        argument, the first L{MODES_PER_LINE} are made; the user is told of
        the rest, of the changes refused and of letters that are no mode,
        each once.
        """
        user = self._logged_in()
        if text is None:
            self.show_modes(room)
            return
        found = self._seen_room(room)
        changes, unknown, missing = parse_modes(text, arguments)
        if missing:
            raise Refused(Usage("mode", MODE_USAGE))
        for letter in dict.fromkeys(unknown):
            self.peer.tell(UnknownMode(letter))
        if any(c.mode is Mode.BAN and c.argument is None for c in changes):
            # "+b" alone: the list, a line a ban.
            bans = tuple(found.bans)
            self._charge(len(bans))
            self.peer.tell(RoomBans(found.name, bans))
            changes = [c for c in changes if not (c.mode is Mode.BAN and c.argument is None)]
        for listed, entries in (
            (Mode.BAN_EXCEPTION, found.exceptions),
            (Mode.INVITE_EXCEPTION, found.invite_exceptions),
        ):
            if any(c.mode is listed and c.argument is None for c in changes):
                # "+e" or "+I" alone: that list, a line a mask.
                self._charge(len(entries))
                self.peer.tell(RoomBans(found.name, tuple(entries), listed))
                changes = [c for c in changes if not (c.mode is listed and c.argument is None)]
        with_argument = [i for i, c in enumerate(changes) if c.argument is not None]
        left = len(with_argument) - MODES_PER_LINE
        if left > 0:
            cut = with_argument[MODES_PER_LINE]
            changes = changes[:cut] + [c for c in changes[cut:] if c.argument is None]
        if changes:
            _, refused = self.chat.change_modes(user, room, changes)
            for error in refused:
                self.peer.tell(error)
        if left > 0:
            self.peer.tell(TooManyModes(MODES_PER_LINE, left))

    def kick_from(self, room: str, nickname: str, reason: str | None) -> None:
        """
        Put C{nickname} out of C{room}, as one of its operators.
        """
        user = self._logged_in()
        target = self.chat.kick(user, room, nickname, reason)
        self.log.info(
            "{nickname} put {target} out of {room}",
            nickname=user.nickname,
            target=target.nickname,
            room=room,
        )

    def invite(self, nickname: str, room: str) -> None:
        """
        Invite C{nickname} into C{room}.
        """
        user = self._logged_in()
        target = self.chat.invite(user, room, nickname)
        self.peer.tell(Inviting(target.nickname, room))

    def invitations(self) -> None:
        """
        The rooms this user is invited to.
        """
        user = self._logged_in()
        self.peer.tell(Invitations(self.chat.invitations(user)))

    @requires(needs=Feature.ACCOUNTS)
    def keep_room(self, room: str) -> None:
        """
        Keep C{room}, as one of its operators logged in to an account (its
        founder): it stays when it empties, and its topic, modes and
        operators outlive a restart (see L{chat.core.kept}).
        """
        user = self._logged_in()

        def kept(found: RoomView) -> None:
            self.log.info(
                "{nickname} keeps {room} for the account {account}",
                nickname=user.nickname,
                room=found.name,
                account=user.account,
            )
            self.peer.tell(RoomKept(found.name))

        self._await(self.chat.keep(user, room), kept)

    @requires(needs=Feature.ACCOUNTS)
    def unkeep_room(self, room: str) -> None:
        """
        Stop keeping C{room}, as its founder or an operator of the server.
        """
        user = self._logged_in()
        name = self.chat.unkeep(user, room)
        self.log.info("{nickname} stopped keeping {room}", nickname=user.nickname, room=name)
        self.peer.tell(RoomUnkept(name))

    # The server's operators.

    @requires(operator=True)
    def kick(self, nickname: str, reason: str | None) -> None:
        """
        Throw C{nickname} out, whatever door it came in by.
        """
        user = self._logged_in()
        target = self.chat.find(nickname)
        reason = clean(reason or "").strip() or None
        self.log.info(
            "Operator {operator} kicked {target} ({reason})",
            operator=user.nickname,
            target=target.nickname,
            reason=reason,
        )
        self.peer.tell(KickedOut(target.nickname))
        self.chat.disconnect(target, Departure(Why.KICKED, user.nickname, reason))

    @requires(operator=True, needs=Feature.BANS)
    def ban(self, target: str, duration: float | None, reason: str | None) -> None:
        """
        Shut out a nickname or an address for C{duration} seconds (L{None}:
        for good); whoever is online under it is thrown out, whatever door
        it came in by. A nickname's ban is the nickname's alone: behind one
        address (a NAT, a shell box) there may be others, the operator among
        them; an address is banned only when it is named. An operator
        cannot ban itself (its nickname, or the address it is on).
        """
        user = self._logged_in()
        bans = self._bans()
        reason = clean(reason or "").strip() or None
        departure = Departure(Why.BANNED, user.nickname, reason)
        if _is_address(target):
            if target == self.host:
                raise Refused(BanningYourself(target))
            self._banned(bans.add(BanKind.ADDRESS, target, duration, reason, user.nickname))
            for session in [s for s in self.service.sessions if s.host == target]:
                session.thrown_out(departure)
            return
        if target.lower() == user.nickname.lower():
            raise Refused(BanningYourself(target))
        online = self.chat.lookup(target)
        if online is not None:
            target = online.nickname
        self._banned(bans.add(BanKind.NICK, target, duration, reason, user.nickname))
        if online is not None:
            self.chat.disconnect(online, departure)

    def _banned(self, ban: Ban) -> None:
        self.log.info(
            "Operator {operator} banned {kind} {target} (until {until}: {reason})",
            operator=ban.by,
            kind=ban.kind.value,
            target=ban.target,
            until=ban.until,
            reason=ban.reason,
        )
        self.peer.tell(Banned(ban.target, ban))

    @requires(operator=True, needs=Feature.BANS)
    def unban(self, target: str) -> None:
        user = self._logged_in()
        bans = self._bans()
        if not bans.remove(BanKind.ADDRESS if _is_address(target) else BanKind.NICK, target):
            raise Refused(NotBanned(target))
        self.log.info(
            "Operator {operator} lifted the ban on {target}", operator=user.nickname, target=target
        )
        self.peer.tell(Unbanned(target))

    @requires(operator=True, needs=Feature.BANS)
    def list_bans(self) -> None:
        self._logged_in()
        self.peer.tell(BanListReply(self._bans().all()))

    def _bans(self) -> BanList:
        bans = self.service.bans
        if bans is None:
            raise Refused(Unavailable(Feature.BANS))
        return bans

    @requires(operator=True)
    def announce(self, text: str) -> None:
        """
        Tell everyone online, in every room.
        """
        user = self._logged_in()
        self.log.info(
            "Operator {operator} announced: {text}", operator=user.nickname, text=clean(text)
        )
        self.chat.announce(user, text)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
