"""
What the terminal client adds to the server's lines: times, attention, /r,
/ignore, and "since you left".

The server's lines are the protocol (docs/protocol.md); the pipe mode passes
them on untouched, for scripts. In a terminal a L{Presenter} decides how each
is shown:

 - live lines get the local time in front (C{12:34 <bob> hi}); stored ones
   (history, kept messages: C{[2026-11-21 12:34] <bob> hi}, in UTC) are shown
   in local time in brackets, the mark of what was said before;
 - a private message, or a line that names you, asks for your attention;
 - C{/r TEXT} answers the last private message, C{/ignore NICK} hides what
   NICK says on this screen (C{/unignore NICK}, C{/ignore} alone lists);
   the server's C{/help} is followed by these, the client's own commands;
 - after a reconnection, the history the server replays on entering the room
   you were in is cut to what came since the last line you saw in that room,
   under a marker, and shown after the line that says you are back in it; the
   history of the room passed through on the way back (C{lobby}) is not shown.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from chat.client.reading import NAME, Kind, classify, speaker
from chat.line.wording import HELP_END, NOTICE

_STORED = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d)\] (.*)$")
# A room's latest messages: on entering it, or asked for with /history.
_HISTORY_START = re.compile(rf"\*\*\* (Recent messages|Last \d+ messages?) in ({NAME}):$")
_ENTERED = re.compile(rf"\*\*\* You are in ({NAME})\. ")
_HISTORY_END = "*** End of history."
_HELP_ROW = re.compile(r"\*\*\*   /\S.*?  +(?=\S)")
_HELP_END = NOTICE + HELP_END
CLIENT_HELP = (
    ("/r TEXT", "answer the last private message"),
    ("/ignore [NICK]", "hide NICK's lines on this screen; alone: list whom you ignore"),
    ("/unignore NICK", "show NICK's lines again"),
)
"""
The client's own commands, as its C{/help} adds them to the server's.
"""
_IGNORE = re.compile(r"\s*/(ignore|unignore)(?:\s+(\S+))?\s*$", re.IGNORECASE)
_REPLY = re.compile(r"\s*/r(?:\s+(.*))?$", re.IGNORECASE | re.S)


@dataclass(frozen=True)
class Shown:
    """
    One line to show: its text, its kind (for colour), and whether it asks
    for the user's attention (a bell, a highlight).
    """

    text: str
    kind: Kind
    attention: bool = False


@dataclass(frozen=True)
class Typed:
    """
    What a typed line becomes: the line to send (L{None}: nothing), and a
    note for the user (L{None}: none).
    """

    send: str | None
    note: str | None = None


class Presenter:
    """
    The terminal's way of showing the server's lines, for one session.

    @ivar me: our nickname, as the server last said it (from the session).
    @ivar ignored: the nicknames whose lines are hidden, in lower case.
    """

    def __init__(
        self,
        me: Callable[[], str | None],
        clock: Callable[[], float] = time.time,
        timestamps: bool = True,
        room: Callable[[], str | None] = lambda: None,
    ) -> None:
        """
        @param room: the room the user is in, as the server last said it.
        """
        self._me = me
        self._room = room
        self._clock = clock
        self._timestamps = timestamps
        self.ignored: set[str] = set()
        self.last_private: str | None = None
        # For each room (in lower case), the last of its lines shown, as
        # history would show it after its time: live, typed, or from history.
        self._last_seen: dict[str, str] = {}
        # The room whose latest messages are being shown (to note the last).
        self._block: str | None = None
        # Where the descriptions of the server's /help start, once seen.
        self._help_column = 0
        # After a reconnection: the room the client goes back to, until the
        # server says it is there; the room passed through on the way (the
        # first one, if another), whose history is not shown; the room gone
        # back to, whose history is still to come and to be cut.
        self._returning: str | None = None
        self._passing: str | None = None
        self._cutting: str | None = None
        # A history held until its end (to cut it, or to drop it: room
        # None), and the line it started with.
        self._replay: list[str] | None = None
        self._replay_room: str | None = None
        self._replay_header = ""
        # The cut history of the room gone back to, when it came before the
        # line that says the user is back there (a server reading history
        # for two rooms at once sends it first): shown after that line.
        self._early: list[Shown] | None = None

    # Lines from the server.

    def incoming(self, text: str) -> list[Shown]:
        """
        How to show C{text}: as it is with a time, not at all (ignored, or
        held while the history after a reconnection is read), or as several.
        """
        if self._replay is not None:
            if text == _HISTORY_END:
                return self._since_you_left()
            self._replay.append(text)
            return []
        start = _HISTORY_START.match(text)
        if start is not None:
            if start.group(1) == "Recent messages" and self._hold(start.group(2).lower(), text):
                return []
            self._block = start.group(2).lower()
        elif text == _HISTORY_END:
            self._block = None
        entered = _ENTERED.match(text)
        shown = self._show(text)
        if entered is not None:
            return shown + self._entered(entered.group(1).lower())
        if row := _HELP_ROW.match(text):
            self._help_column = row.end()
        elif text == _HELP_END:
            return shown + self._client_help()
        return shown

    def _client_help(self) -> list[Shown]:
        """
        The client's own commands, under the server's /help, described in
        the same column.
        """
        prefix = "--   "
        width = max(self._help_column - len(prefix), *(len(u) + 2 for u, _ in CLIENT_HELP))
        return [Shown(self._now() + "-- The client's own commands:", Kind.NOTICE)] + [
            Shown(f"{self._now()}{prefix}{usage:<{width}}{summary}", Kind.NOTICE)
            for usage, summary in CLIENT_HELP
        ]

    def _show(self, text: str) -> list[Shown]:
        me = self._me()
        stored = _STORED.match(text)
        body = stored.group(2) if stored else text
        said_by = speaker(body)
        if said_by is not None and said_by.lower() in self.ignored:
            return []
        kind = classify(text, me)
        if stored is not None:
            if self._block is not None:
                self._last_seen[self._block] = body
            return [Shown(f"[{_local(stored.group(1), self._clock())}] {body}", kind)]
        if kind is Kind.PRIVATE and said_by is not None:
            self.last_private = said_by
        if kind in (Kind.PUBLIC, Kind.ACTION):
            self._seen(text)
        attention = kind is Kind.PRIVATE or (
            kind in (Kind.PUBLIC, Kind.ACTION)
            and me is not None
            and said_by != me
            and _names(body[len(said_by or "") + 3 :], me)
        )
        return [Shown(self._now() + text, kind, attention)]

    def sent(self, text: str) -> Shown:
        """
        One of our own lines, shown as sent.
        """
        self._seen(text)
        return Shown(self._now() + text, Kind.OWN)

    def _seen(self, text: str) -> None:
        room = self._room()
        if room is not None:
            self._last_seen[room.lower()] = text

    def reconnected(self, room: str | None) -> None:
        """
        The session is back and returns to C{room}: the history it is about
        to be shown there is cut to what came since the last line seen there.
        """
        self._returning = None if room is None else room.lower()
        self._passing = self._cutting = None
        self._replay = self._replay_room = self._early = None

    def _hold(self, room: str, header: str) -> bool:
        """
        Whether to hold the history of C{room} that starts with C{header},
        to cut it (the room gone back to) or to drop it (the room passed
        through).
        """
        if room == self._passing:
            self._passing = None
            self._replay, self._replay_room = [], None
            return True
        if room in (self._returning, self._cutting):
            self._replay, self._replay_room, self._replay_header = [], room, header
            return True
        return False

    def _entered(self, room: str) -> list[Shown]:
        """
        What follows the line that says the user is in C{room}: after a
        reconnection, its cut history if that came first.
        """
        returning = self._returning
        if returning is None:
            self._passing = self._cutting = None
            return []
        if room != returning:
            if self._passing is None:
                # The first room after logging in again, on the way back.
                self._passing = room
            else:
                # Somewhere else than where it was going: back to normal.
                self._returning = self._passing = None
            return []
        self._returning, self._passing = None, None
        early, self._early = self._early, None
        if early is not None:
            return early
        self._cutting = room
        return []

    def _since_you_left(self) -> list[Shown]:
        replay, room = self._replay or [], self._replay_room
        self._replay = self._replay_room = None
        if room is None:
            return []
        bodies = [m.group(2) if (m := _STORED.match(line)) else line for line in replay]
        seen = self._last_seen.get(room)
        # The last time the line seen last appears: what follows it is new.
        cut = max((i + 1 for i, body in enumerate(bodies) if body == seen), default=0)
        new = replay[cut:]
        if seen is None:
            # Nothing seen there before: the history as it came.
            shown = self._show(self._replay_header)
            new.append(_HISTORY_END)
        elif not new:
            shown = [Shown("-- nothing new since you left.", Kind.NOTICE)]
        else:
            marker = "-- since you left:" if cut else "-- since you left (perhaps more before):"
            shown = [Shown(marker, Kind.NOTICE)]
        self._block = room
        for line in new:
            shown.extend(self._show(line))
        self._block = None
        if self._cutting == room:
            self._cutting = None
            return shown
        # Before the line that says the user is back in the room: after it.
        self._early = shown
        return []

    # Lines the user types.

    def typed(self, line: str) -> Typed | None:
        """
        A client command (C{/r}, C{/ignore}, C{/unignore}), or L{None} for a
        line to send as it is.
        """
        if match := _REPLY.match(line):
            text = (match.group(1) or "").strip()
            if self.last_private is None:
                return Typed(None, "nobody has sent you a private message yet.")
            if not text:
                return Typed(None, f"/r TEXT answers {self.last_private}.")
            return Typed(f"/msg {self.last_private} {text}")
        if match := _IGNORE.match(line):
            command, nickname = match.group(1).lower(), match.group(2)
            if nickname is None:
                if command == "unignore":
                    return Typed(None, "/unignore NICK shows NICK's lines again.")
                if not self.ignored:
                    return Typed(None, "you ignore nobody (/ignore NICK hides NICK's lines).")
                return Typed(None, "you ignore: " + ", ".join(sorted(self.ignored)) + ".")
            if command == "ignore":
                self.ignored.add(nickname.lower())
                return Typed(
                    None,
                    f"ignoring {nickname}: their lines are hidden on this screen only "
                    f"(they still reach you; /unignore {nickname}).",
                )
            if nickname.lower() not in self.ignored:
                return Typed(None, f"you do not ignore {nickname}.")
            self.ignored.discard(nickname.lower())
            return Typed(None, f"showing {nickname}'s lines again.")
        return None

    def _now(self) -> str:
        if not self._timestamps:
            return ""
        return time.strftime("%H:%M ", time.localtime(self._clock()))


def _names(text: str, nickname: str) -> bool:
    """
    Whether C{text} names C{nickname}, as a word, in any case.
    """
    return (
        re.search(rf"(?<![A-Za-z0-9_-]){re.escape(nickname)}(?![A-Za-z0-9_-])", text, re.I)
        is not None
    )


def _local(stamp: str, now: float) -> str:
    """
    A UTC C{YYYY-MM-DD HH:MM} in local time: the time alone if it is today
    here, else the date too.
    """
    when = calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M"))
    local = time.localtime(when)
    if time.strftime("%Y-%m-%d", local) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return time.strftime("%H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)
