"""
Read markers (IRCv3 C{draft/read-marker}): how far the user has read each
room and each private conversation, so that a client (the web page, an IRC
client) shows as unread only what was not read, on this device or another.

A marker is the time of the last message read, and never goes back. The
session keeps its user's in memory (a target is a room's C{"#"} and folded
name, or a folded nickname); a user logged in to an account has them kept
by the store (L{chat.core.interfaces.ReadMarkerStore}), loaded at login
before any room is entered, so that its first rooms are shown with them.
Without an account, they last as long as the session.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.python.failure import Failure

from chat.core.limits import READ_MARKERS_KEPT
from chat.core.model import key_of
from chat.core.replies import ReadMarker
from chat.core.session.base import SessionBase
from chat.core.text import nickname_problem, room_name_problem


def _target(name: str, room: bool) -> str | None:
    """
    The key of C{name}'s marker, or L{None} if it cannot name a room (or
    a nickname) at all.
    """
    if room:
        return None if room_name_problem(name) else "#" + key_of(name)
    return None if nickname_problem(name) else key_of(name)


class Marks(SessionBase):
    """
    Reading and moving the user's read markers.
    """

    __slots__ = ()

    def read_marker(self, target: str, room: bool) -> bool:
        """
        Tell the user how far it has read C{target} (a room if C{room},
        else a private conversation with that nickname); L{False} if
        C{target} is no name.
        """
        key = _target(target, room)
        if key is None:
            return False
        marks = self._marks
        self.peer.tell(ReadMarker(target, room, marks.get(key) if marks else None))
        return True

    def mark_read(self, target: str, room: bool, at: float) -> bool:
        """
        The user has read C{target} up to C{at}: the marker moves there
        unless it is further already, and the user is told where it is;
        L{False} if C{target} is no name.
        """
        key = _target(target, room)
        if key is None:
            return False
        marks = self._marks
        if marks is None:
            marks = self._marks = {}
        now = marks.get(key)
        forget = None
        if now is None and len(marks) >= READ_MARKERS_KEPT:
            # The one read longest ago makes room.
            forget = min(marks, key=marks.__getitem__)
            del marks[forget]
        if now is None or at > now:
            marks[key] = at
            markers = self.service.markers
            if self.account is not None and markers is not None:
                markers.mark(self.account, key, at, forget)
        self.peer.tell(ReadMarker(target, room, marks[key]))
        return True

    def _load_marks(self, then: Callable[[], None] | None = None) -> None:
        """
        Load the markers of the user's account (the later of each, with
        any this session set before it had one: those are kept for the
        account too), then call C{then}, whether they came or not.
        """
        markers = self.service.markers
        account = self.account
        if markers is None or account is None:
            if then is not None:
                then()
            return

        def loaded(stored: dict[str, float]) -> None:
            marks = self._marks or {}
            for key, at in marks.items():
                if stored.get(key, -1.0) < at:
                    markers.mark(account, key, at)
            for key, at in stored.items():
                if marks.get(key, -1.0) < at:
                    marks[key] = at
            self._marks = marks
            if then is not None:
                then()

        def failed(failure: Failure) -> None:
            self.log.failure("Loading {account}'s read markers", failure, account=account)
            if then is not None:
                then()

        self._await(markers.load(account), loaded, failed)
