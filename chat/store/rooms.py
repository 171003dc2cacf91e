"""
Kept rooms in the database: what the chat reports of them (the core's
L{chat.core.interfaces.RoomStore}), written from the database thread, and
read back at start-up (L{chat.store.opening}), before anything listens.

Each change writes the whole room (a few hundred bytes, or a few
kilobytes with a full ban list), so that a write that failed (a full disk)
is made good by the room's next change; until then the change holds in
memory, and is lost at a restart, as a ban's is.

The column C{bans} holds the room's three mask lists as one JSON list: a
ban (C{+b}) is C{[mask, by, at]}, as schema version 7 wrote it, and an
exception (C{+e}) or an invite exception (C{+I}) the same with its mode's
letter fourth, so that a row written before there were exceptions reads as
it was, with none.
"""

from __future__ import annotations

import json

from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.core.events import KeptRoom, RoomBan
from chat.core.modes import FLAGS, Mode
from chat.store import database
from chat.store.database import Cursor
from chat.store.dialect import Dialect
from chat.store.history import Pool

_FLAG_LETTERS = frozenset(mode.value for mode in FLAGS)
_LIST_LETTERS = (Mode.BAN.value, Mode.BAN_EXCEPTION.value, Mode.INVITE_EXCEPTION.value)


def row(room: KeptRoom) -> database.RoomRow:
    """
    C{room} as the C{rooms} table holds it.
    """
    return (
        room.name,
        room.founder,
        room.created,
        room.topic,
        room.topic_by,
        room.topic_at,
        "".join(sorted(mode.value for mode in room.flags)),
        room.key,
        room.limit,
        json.dumps(
            [list(ban) for ban in room.bans]
            + [[*entry, Mode.BAN_EXCEPTION.value] for entry in room.exceptions]
            + [[*entry, Mode.INVITE_EXCEPTION.value] for entry in room.invite_exceptions]
        ),
        json.dumps(list(room.operators)),
    )


def kept(stored: database.RoomRow) -> KeptRoom:
    """
    A row of the C{rooms} table as the room it keeps.
    """
    name, founder, created, topic, by, at, flags, key, limit, masks, operators = stored
    lists: dict[str, list[RoomBan]] = {letter: [] for letter in _LIST_LETTERS}
    for mask, setter, when, *letter in json.loads(masks):
        listed = lists.get(letter[0] if letter else Mode.BAN.value)
        if listed is not None:
            listed.append(RoomBan(str(mask), str(setter), float(when)))
    return KeptRoom(
        name,
        founder,
        created,
        topic,
        by,
        at,
        frozenset(Mode(letter) for letter in flags if letter in _FLAG_LETTERS),
        key,
        limit,
        tuple(lists[Mode.BAN.value]),
        tuple(str(account) for account in json.loads(operators)),
        tuple(lists[Mode.BAN_EXCEPTION.value]),
        tuple(lists[Mode.INVITE_EXCEPTION.value]),
    )


def load(cursor: Cursor, sql: Dialect = database) -> list[KeptRoom]:
    """
    Every kept room in the database (whose queries are C{sql}).
    """
    return [kept(stored) for stored in sql.rooms(cursor)]


def _write(cursor: Cursor, sql: Dialect, room: KeptRoom) -> None:
    # In the database thread: the reactor's only hands the room over.
    sql.save_room(cursor, row(room))


class Rooms:
    """
    The kept rooms' store: each change the chat reports is written in the
    database thread, in the order reported; only a failure comes back.
    """

    log = Logger()

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    def save(self, room: KeptRoom) -> None:
        self.pool.submit(
            _write, self.pool.sql, room, failed=lambda failure: self._failed(room.name, failure)
        )

    def forget(self, name: str) -> None:
        self.pool.submit(
            self.pool.sql.delete_room, name, failed=lambda failure: self._failed(name, failure)
        )

    def _failed(self, name: str, failure: Failure) -> None:
        self.log.error(
            "Could not save the kept room {room} ({why}); its next change saves it whole",
            room=name,
            why=failure.getErrorMessage(),
        )
