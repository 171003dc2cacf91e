"""
Pages of a room's or a private conversation's stored messages
(L{chat.core.pages}), and the conversations a user has messages in: the
queries behind IRCv3 C{CHATHISTORY}, run in a database thread.

Messages are placed by their time (to the millisecond, as clients were
shown it) and, between messages of the same millisecond, by the order they
were stored: a point given as a message id is that message's (time, id), a
point given as a moment is every message before, or after, it. A room's
pages walk the index on (room, time), so that catching up from a moment
costs the messages read, not the room's whole past.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chat.core.events import Entry
from chat.core.limits import SEARCH_BUDGET
from chat.core.pages import Conversation, Page, Point, Reading
from chat.store import database
from chat.store.database import Cursor
from chat.store.dialect import Dialect

# Where a point is: the time, and the id of the message it names (L{None}:
# a moment, before every message of that time or after them all).
_Place = tuple[float, int | None]


def _room(room: str) -> tuple[str, dict[str, Any]]:
    """
    The condition a room's messages meet, and its parameters.
    """
    return "room = :room", {"room": room}


def _private(sql: Dialect, account: str, peer: str) -> tuple[str, dict[str, Any]]:
    """
    The condition the private messages between C{account} and C{peer}
    meet: as L{chat.store.database.conversation}, what the account sent or
    received while logged in to it, since it was registered.
    """
    return (
        "(sender_account = :account AND (recipient = :peer COLLATE NOCASE "
        "OR recipient_account = :peer) OR recipient_account = :account AND "
        "(sender = :peer COLLATE NOCASE OR sender_account = :peer)) "
        f"AND {sql.since_registered(':account')}",
        {"account": account, "peer": peer},
    )


def room_page(cursor: Cursor, sql: Dialect, room: str, page: Page) -> list[Entry]:
    """
    The messages and actions of C{room} that C{page} asks for, oldest first
    (C{sql}: the database's queries, L{chat.store.dialect}).
    """
    where, parameters = _room(room)
    return _page(cursor, sql, where, parameters, page, None, sql.ROOM_BY_ID)


def private_page(
    cursor: Cursor,
    sql: Dialect,
    account: str,
    peer: str,
    page: Page,
    budget: float = SEARCH_BUDGET,
) -> list[Entry]:
    """
    The private messages between C{account} and C{peer} (its nickname then,
    or its account) that C{page} asks for, oldest first; C{outgoing} those
    C{account} sent.

    The last page (what a client shows on opening a conversation) walks
    the account's indexes newest first (L{database.conversation}); a page
    placed elsewhere reads the account's private messages, which may be
    many (200 000 took 0.1 s): it is stopped past C{budget} seconds, as a
    search is (L{chat.core.errors.TooSlow}).
    """
    if page.reading is Reading.LATEST and not page.points:
        return sql.conversation(cursor, account, peer, page.count)
    where, parameters = _private(sql, account, peer)
    return sql.budgeted(
        cursor, budget, lambda: _page(cursor, sql, where, parameters, page, account, where)
    )


def _page(
    cursor: Cursor,
    sql: Dialect,
    where: str,
    parameters: dict[str, Any],
    page: Page,
    account: str | None,
    by_id: str,
) -> list[Entry]:
    """
    The page of the conversation C{where} (with C{parameters}) that C{page}
    asks for; C{outgoing} the messages C{account} sent, if given. C{by_id}
    is the condition that a message found by its id is the conversation's.
    """
    places: list[_Place] = []
    for point in page.points:
        place = _place(cursor, sql, by_id, parameters, point)
        if place is None:
            # A message this conversation does not have: nothing is placed by it.
            return []
        places.append(place)
    count = page.count

    def read(
        after: tuple[_Place, bool] | None, before: _Place | None, newest: bool, count: int
    ) -> list[Entry]:
        return _read(cursor, sql, where, parameters, account, after, before, newest, count)

    match page.reading, places:
        case Reading.LATEST, []:
            return read(None, None, True, count)
        case Reading.LATEST | Reading.AFTER as reading, [after]:
            return read((after, False), None, reading is Reading.LATEST, count)
        case Reading.BEFORE, [before]:
            return read(None, before, True, count)
        case Reading.AROUND, [around]:
            half = count // 2
            return read(None, around, True, half) + read((around, True), None, False, count - half)
        case Reading.BETWEEN, [first, second]:
            if _order(first) <= _order(second):
                return read((first, False), second, False, count)
            return read((second, False), first, True, count)
    raise ValueError(f"not a page: {page}")


def _order(place: _Place) -> tuple[float, float]:
    """
    How two places compare: by time, then by the order stored (a moment
    comes before the messages of its millisecond).
    """
    time, rowid = place
    return time, rowid if rowid is not None else 0.0


def _place(
    cursor: Cursor, sql: Dialect, where: str, parameters: dict[str, Any], point: Point
) -> _Place | None:
    """
    Where C{point} is in the conversation C{where}: L{None} for a message
    it does not have.
    """
    if point.msgid is None:
        return (point.time or 0.0), None
    cursor.execute(
        sql.named(f"SELECT time, id FROM messages WHERE msgid = :msgid AND {where}"),
        {**parameters, "msgid": point.msgid},
    )
    found = cursor.fetchall()
    if not found:
        return None
    time, rowid = found[0]
    return float(time), int(rowid)


def _read(
    cursor: Cursor,
    sql: Dialect,
    where: str,
    parameters: dict[str, Any],
    account: str | None,
    after: tuple[_Place, bool] | None,
    before: _Place | None,
    newest: bool,
    count: int,
) -> list[Entry]:
    """
    At most C{count} messages of the conversation C{where}, after the place
    C{after} (or at it, where its flag says so) and before C{before}: the
    newest of them or the oldest; oldest first.
    """
    if count <= 0:
        return []
    conditions = [where]
    values = dict(parameters)
    if after is not None:
        (time, rowid), inclusive = after
        values["after_time"] = time
        if rowid is None:
            conditions.append("time >= :after_time" if inclusive else "time > :after_time")
        else:
            values["after_id"] = rowid
            operator = ">=" if inclusive else ">"
            conditions.append(f"(time, id) {operator} (:after_time, :after_id)")
    if before is not None:
        time, rowid = before
        values["before_time"] = time
        if rowid is None:
            conditions.append("time < :before_time")
        else:
            values["before_id"] = rowid
            conditions.append("(time, id) < (:before_time, :before_id)")
    direction = "DESC" if newest else "ASC"
    values["count"] = count
    outgoing = ", sender_account = :account" if account is not None else ", 0"
    cursor.execute(
        sql.named(
            f"SELECT {database.COLUMNS}{outgoing} FROM messages "
            f"WHERE {' AND '.join(conditions)} "
            f"ORDER BY time {direction}, id {direction} LIMIT :count"
        ),
        values,
    )
    rows: Sequence[Sequence[Any]] = cursor.fetchall()
    if newest:
        rows = list(reversed(rows))
    return [database.entry_of(row) for row in rows]


def conversations(
    cursor: Cursor,
    sql: Dialect,
    account: str | None,
    rooms: Sequence[str],
    after: float,
    before: float,
    count: int,
    budget: float = SEARCH_BUDGET,
) -> list[Conversation]:
    """
    The rooms of C{rooms}, and the private conversations of C{account} (if
    any), whose newest message was said after C{after} and before
    C{before}: at most C{count} of them, the one whose newest message is
    the oldest first. A private conversation is named by the nickname the
    other one had in its newest message. Reading every private message of
    the account, it is stopped past C{budget} seconds, as a search is.
    """
    return sql.budgeted(
        cursor, budget, lambda: _conversations(cursor, sql, account, rooms, after, before, count)
    )


def _conversations(
    cursor: Cursor,
    sql: Dialect,
    account: str | None,
    rooms: Sequence[str],
    after: float,
    before: float,
    count: int,
) -> list[Conversation]:
    found: list[Conversation] = []
    for room in rooms:
        # One step down the index on (room, time) each.
        cursor.execute(
            sql.named("SELECT max(time) FROM messages WHERE room = :room"), {"room": room}
        )
        latest = cursor.fetchall()[0][0]
        if latest is not None:
            found.append(Conversation(room, True, float(latest)))
    if account is not None:
        # Each conversation's newest message, and the other one's name in it.
        other = "CASE WHEN sender_account = :account THEN recipient ELSE sender END"
        cursor.execute(
            sql.named(
                f"SELECT name, time FROM (SELECT {other} AS name, time, row_number() OVER "
                f"(PARTITION BY lower({other}) ORDER BY time DESC, id DESC) AS n "
                "FROM messages WHERE (sender_account = :account OR recipient_account = :account) "
                f"AND {sql.since_registered(':account')}) AS newest WHERE n = 1"
            ),
            {"account": account},
        )
        found.extend(Conversation(name, False, float(latest)) for name, latest in cursor.fetchall())
    chosen = sorted(
        (c for c in found if after < c.latest < before), key=lambda c: (c.latest, c.name)
    )
    return chosen[:count]
