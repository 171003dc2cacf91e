"""
Kept rooms: rooms that stay when their last member leaves, and whose topic,
modes, key, mask lists (C{+b}, C{+e}, C{+I}) and operators outlive a restart (Ergo's channel
registration, ChanServ's REGISTER); the in-memory chat's part of it.

A room is kept by its founder: one of its operators, logged in to a
registered account, who asked. Its operators are known by account from then
on: the accounts of its members with C{+o} (giving C{+o} to a member logged
in to one adds it, taking it away removes it; the founder's stays), and
whoever is logged in to one of them gets C{+o} on joining (or on logging in,
if it is in the room), past the room's C{+i}, C{+k}, C{+l} and C{+b}. Of
the permanent rooms (the lobby), which have no founder, only the topic and
the creation time are their own: their modes are the server's, and they have
no operators of their own to know.

What a kept room is made of is the chat's: it reports each change to a
L{RoomStore} (the whole L{KeptRoom} each time, so that the next change makes
good a write that failed), which writes it off the reactor thread and hands
the rooms back at the next start (L{KeptRooms.restore}), before anything
listens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from chat.core.errors import (
    AlreadyKept,
    KeepingNeedsAccount,
    NotFounder,
    RoomNotKept,
    TooManyKept,
)
from chat.core.events import KeptRoom, RoomBan
from chat.core.interfaces import RoomStore, UserView
from chat.core.limits import KEPT_PER_ACCOUNT, LIST_LIMIT, MAX_TOPIC_LENGTH
from chat.core.masks import Masks
from chat.core.model import Room, User, key_of
from chat.core.registry import Registry
from chat.core.text import clean, word


def snapshot(room: Room) -> KeptRoom:
    """
    What is kept of C{room}, as it is now.
    """
    if room.permanent:
        return KeptRoom(room.name, None, room.created, room.topic, room.topic_by, room.topic_at)
    keepers = room.keepers
    return KeptRoom(
        room.name,
        room.founder,
        room.created,
        room.topic,
        room.topic_by,
        room.topic_at,
        frozenset(room.flags),
        room.key,
        room.limit,
        room.bans,
        tuple(keepers.values()) if keepers else (),
        room.exceptions,
        room.invite_exceptions,
    )


def _masks(entries: Sequence[RoomBan]) -> Masks:
    """
    A list of masks as kept (C{+b}, C{+e} or C{+I}), each mask once, at
    most L{LIST_LIMIT} of them, cleaned again (see L{KeptRooms.restore}).
    """
    masks = Masks()
    for entry in entries[:LIST_LIMIT]:
        mask = word(entry.mask)
        if mask and mask not in masks:
            masks.add(entry if mask == entry.mask else RoomBan(mask, entry.by, entry.at))
    return masks


class KeptRooms(Registry):
    """
    The bookkeeping of the chat's kept rooms (L{chat.core.domain.MemoryChat}
    adds who is told what).

    @param store: where each change of a kept room is reported; L{None}:
        rooms are kept for as long as the process runs.
    """

    def __init__(
        self,
        permanent_rooms: tuple[str, ...] = (),
        crowd: int = 0,
        clock: Callable[[], float] = time.time,
        store: RoomStore | None = None,
    ) -> None:
        super().__init__(permanent_rooms, crowd, clock)
        self._store = store

    def _keep(self, user: User, name: str) -> Room:
        """
        Keep room C{name} for C{user}'s account: its founder from now on.
        The accounts of its operators logged in to one are its operators'.
        """
        self._check_online(user)
        room = self.room(name)
        if room.permanent or room.founder is not None:
            raise AlreadyKept(room.name, room.founder)
        self._check_room_operator(user, room)
        account = user.account
        if account is None:
            raise KeepingNeedsAccount(room.name)
        if not user.operator and self._founded(account) >= KEPT_PER_ACCOUNT:
            raise TooManyKept(room.name, KEPT_PER_ACCOUNT)
        room.founder = account
        keepers = room.keepers = {key_of(account): account}
        for operator in room.operators:
            if operator.account is not None:
                keepers.setdefault(key_of(operator.account), operator.account)
        self._save(room)
        return room

    def _founded(self, account: str) -> int:
        """
        How many rooms C{account} keeps (a walk over the rooms: keeping one is rare).
        """
        key = key_of(account)
        return sum(
            1 for room in self._rooms.values() if room.founder and key_of(room.founder) == key
        )

    def unkeep(self, user: UserView, name: str) -> str:
        """
        Stop keeping room C{name}, as its founder or an operator of the
        server: it goes once empty (now, if it is), as other rooms do.

        @return: the room's name as spelt.
        """
        self._check_online(user)
        room = self.room(name)
        founder = room.founder
        if room.permanent:
            raise AlreadyKept(room.name, None)
        if founder is None:
            raise RoomNotKept(room.name)
        if not user.operator and key_of(user.account or "") != key_of(founder):
            raise NotFounder(room.name, founder)
        self._unkeep(room)
        return room.name

    def _unkeep(self, room: Room) -> None:
        room.founder = None
        room.keepers = None
        if self._store is not None:
            self._store.forget(room.name)
        if not len(room):
            self._empty.discard(room)
            self._secret.discard(room)
            del self._rooms[key_of(room.name)]

    def forget_account(self, account: str) -> None:
        """
        C{account} is registered no more, and whoever registers the name
        next is somebody else: it keeps no room now, and is none of a kept
        room's operators.
        """
        key = key_of(account)
        for room in list(self._rooms.values()):
            keepers = room.keepers
            if keepers is None or key not in keepers:
                continue
            if room.founder is not None and key_of(room.founder) == key:
                self._unkeep(room)
            else:
                del keepers[key]
                self._save(room)

    def restore(self, rooms: Sequence[KeptRoom]) -> None:
        """
        Put back the rooms kept before a restart, empty (of a permanent
        room, its topic and creation time). A permanent room that is not
        among them is one this database has not seen: it is kept from now
        on, made now (the server's first start).

        What users set (the topic, the key, the masks) is cleaned again, as
        when it was set: an earlier version's cleaner may have let through
        what this one does not (blanks it did not know), and a newcomer is
        greeted with the topic.
        """
        restored: set[Room] = set()
        for kept in rooms:
            key = key_of(kept.name)
            room = self._rooms.get(key)
            if room is None:
                if kept.founder is None:
                    # A permanent room of a server that had it; this one has not.
                    continue
                room = self._rooms[key] = Room(kept.name)
                self._empty.add(room)
            room.created = kept.created
            topic = clean(kept.topic or "").strip()[:MAX_TOPIC_LENGTH] or None
            room.topic = topic
            room.topic_by, room.topic_at = (kept.topic_by, kept.topic_at) if topic else (None, None)
            restored.add(room)
            if room.permanent:
                continue
            room.flags = set(kept.flags)
            self._note_secret(room)
            room.key, room.limit = kept.key, kept.limit
            room.masks = _masks(kept.bans)
            room.exception_masks = _masks(kept.exceptions)
            room.invite_exception_masks = _masks(kept.invite_exceptions)
            room.key = word(kept.key or "") or None
            keepers = room.keepers = {key_of(account): account for account in kept.operators}
            founder = room.founder = kept.founder
            if founder is not None:
                keepers[key_of(founder)] = founder
        for room in self._rooms.values():
            if room.permanent and room not in restored:
                self._save(room)

    def _save(self, room: Room) -> None:
        """
        Report what C{room} is made of now, if it is kept.
        """
        if self._store is not None and room.kept:
            self._store.save(snapshot(room))

    def _note_operator(self, room: Room, user: User, on: bool) -> bool:
        """
        Count C{user}'s account among C{room}'s operators (C{on}), or no
        longer (the founder's always counts): whether that changed anything.
        """
        keepers, account = room.keepers, user.account
        if keepers is None or account is None or room.permanent:
            return False
        key = key_of(account)
        if on:
            if key in keepers:
                return False
            keepers[key] = account
            return True
        if key not in keepers or key_of(room.founder or "") == key:
            return False
        del keepers[key]
        return True
