"""
IRCv3 C{draft/chathistory}: C{CHATHISTORY} read into a page of a
conversation's past (L{chat.core.pages}) for the session, or into the
conversations that have messages (C{TARGETS}).

C{CHATHISTORY LATEST|BEFORE|AFTER|AROUND TARGET POINT LIMIT},
C{CHATHISTORY BETWEEN TARGET POINT POINT LIMIT} and
C{CHATHISTORY TARGETS TIMESTAMP TIMESTAMP LIMIT}, a point being
C{msgid=ID}, C{timestamp=YYYY-MM-DDThh:mm:ss.sssZ}, or (for C{LATEST}
only) C{*}: now.
"""

from __future__ import annotations

from chat.core.limits import PAGE_MAX
from chat.core.pages import Page, Point, Reading
from chat.irc import wording as w
from chat.irc.connection import IRCConnection

VERB = "CHATHISTORY"


class _Invalid(Exception):
    """
    A parameter is wrong: the FAIL to send (its code and context).
    """

    def __init__(self, code: str, *context: str) -> None:
        super().__init__(code)
        self.context = (code, *context)


def _point(given: str, subcommand: str, star: bool = False) -> Point | None:
    """
    The point C{given} names; L{None} for C{*} where it is allowed (now).
    """
    if star and given == "*":
        return None
    kind, _, value = given.partition("=")
    if kind == "msgid" and value:
        return Point(msgid=value)
    if kind == "timestamp":
        at = w.parse_server_time(value)
        if at is not None:
            # To the millisecond, as messages' times are kept (said_at).
            return Point(time=round(at * 1000) / 1000)
    raise _Invalid(
        "INVALID_PARAMS",
        subcommand,
        given,
        "Give msgid=ID or timestamp=YYYY-MM-DDThh:mm:ss.sssZ" + (", or *" if star else ""),
    )


def _moment(given: str) -> float:
    """
    The time C{given} names (TARGETS takes times only).
    """
    point = _point(given, "TARGETS")
    if point is None or point.time is None:
        raise _Invalid(
            "INVALID_PARAMS", "TARGETS", given, "Give timestamp=YYYY-MM-DDThh:mm:ss.sssZ"
        )
    return point.time


def _limit(given: str, subcommand: str) -> int:
    """
    How many C{given} asks for: 1 to L{PAGE_MAX}.
    """
    if not (given.isascii() and given.isdigit() and 1 <= int(given) <= PAGE_MAX):
        raise _Invalid(
            "INVALID_PARAMS", subcommand, given, f"The limit is a number from 1 to {PAGE_MAX}"
        )
    return int(given)


_POINTS = {
    Reading.LATEST: 1,
    Reading.BEFORE: 1,
    Reading.AFTER: 1,
    Reading.AROUND: 1,
    Reading.BETWEEN: 2,
}


def chathistory(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    Ask the session for the page, or the conversations, C{params} name;
    FAIL for what cannot be read.
    """
    subcommand = params[0].upper() if params else ""
    try:
        if subcommand == "TARGETS":
            if len(params) < 4:
                raise _Invalid("NEED_MORE_PARAMS", subcommand, "TARGETS TIMESTAMP TIMESTAMP LIMIT")
            after, before = _moment(params[1]), _moment(params[2])
            connection.session.conversations(after, before, _limit(params[3], subcommand))
            return
        reading = next((r for r in Reading if r.value == subcommand), None)
        if reading is None:
            raise _Invalid("INVALID_PARAMS", subcommand or "*", "Unknown subcommand")
        wanted = _POINTS[reading]
        if len(params) < 3 + wanted:
            raise _Invalid("NEED_MORE_PARAMS", subcommand, "Missing parameters")
        target = params[1]
        star = reading is Reading.LATEST
        points = tuple(_point(given, subcommand, star) for given in params[2 : 2 + wanted])
        count = _limit(params[2 + wanted], subcommand)
    except _Invalid as invalid:
        connection.fail(VERB, *invalid.context)
        return
    room = w.room_of(target)
    page = Page(reading, tuple(p for p in points if p is not None), count)
    connection.session.page(target if room is None else room, room is not None, page)
