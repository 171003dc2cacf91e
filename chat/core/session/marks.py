"""
Read markers (IRCv3 C{draft/read-marker}): how far the user has read each
room and each private conversation, so that a client (the web page, an IRC
client) shows as unread only what was not read, on this device or another.

A marker is the time of the last message read, never later than now, and
never goes back. A target is a room's C{"#"} and folded name, or a folded
nickname. A session without an account keeps its markers for itself
(L{ReadMarks}); the sessions logged in to one account share one
L{ReadMarks}, which the store (L{chat.core.interfaces.ReadMarkerStore})
keeps: loaded when the first of them logs in, before any room is entered,
so that its first rooms are shown with them; what one session marks, the
others are told at once.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.python.failure import Failure

from chat.core.limits import READ_MARKERS_KEPT
from chat.core.model import key_of
from chat.core.readmarks import ReadMarks
from chat.core.replies import ReadMarker
from chat.core.session.base import SessionBase
from chat.core.text import nickname_problem, room_name_problem

_NEVER = float("-inf")


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
        box = self._marks
        self.peer.tell(ReadMarker(target, room, box.marks.get(key) if box else None))
        return True

    def mark_read(self, target: str, room: bool, at: float) -> bool:
        """
        The user has read C{target} up to C{at} (now, at the latest): the
        marker moves there unless it is further already, the user is told
        where it is, and its other sessions too if it moved; L{False} if
        C{target} is no name.
        """
        key = _target(target, room)
        if key is None:
            return False
        box = self._marks
        if box is None:
            box = self._marks = ReadMarks()
            box.sessions.add(self)
        marks = box.marks
        at = min(at, self.service.clock.seconds())
        now = marks.get(key)
        if now is None or at > now:
            forget = None
            if now is None and len(marks) >= READ_MARKERS_KEPT:
                # The one read longest ago makes room.
                forget = min(marks, key=marks.__getitem__)
                del marks[forget]
            marks[key] = at
            markers = self.service.markers
            if box.account is not None and markers is not None:
                markers.mark(box.account, key, at, forget)
            for other in box.sessions:
                if other is not self:
                    other.marker_moved(ReadMarker(target, room, at, unasked=True))
        self.peer.tell(ReadMarker(target, room, marks[key]))
        return True

    def marker_moved(self, marker: ReadMarker) -> None:
        if not self._closing:
            self.peer.tell(marker)

    def _leave_marks(self) -> None:
        """
        The session's markers are no longer its own (another account, or
        none, or the session ends).
        """
        box, self._marks = self._marks, None
        if box is not None:
            box.sessions.discard(self)

    def _load_marks(self, then: Callable[[], None] = lambda: None) -> None:
        """
        Share the markers of the user's account, loading them unless
        another of its sessions has them already, then call C{then},
        whether they came or not. What this session marked before it had
        the account is the account's too (the later of each).
        """
        account = self.account
        if account is None:
            then()
            return
        markers = self.service.markers
        shared = self.service.read_marks.get(key_of(account))
        loading = None
        if shared is None:
            shared = self.service.read_marks[key_of(account)] = ReadMarks(account)
            if markers is not None:
                loading = markers.load(account)
        own = self._marks
        self._leave_marks()
        self._marks = shared
        shared.sessions.add(self)
        if own is not None:
            self._merge(shared, own.marks, store=True)
        if loading is None:
            then()
            return

        def loaded(stored: dict[str, float]) -> None:
            self._merge(shared, stored, store=False)
            then()

        def failed(failure: Failure) -> None:
            self.log.failure("Loading {account}'s read markers", failure, account=account)
            then()

        self._await(loading, loaded, failed)

    def _merge(self, box: ReadMarks, marks: dict[str, float], store: bool) -> None:
        """
        Take the later of each of C{marks} into C{box} (and into the store,
        if they came from elsewhere), then forget the ones read longest ago
        past L{READ_MARKERS_KEPT}. The user is told of the rooms it is in
        whose marker moved.
        """
        kept, markers, account = box.marks, self.service.markers, box.account
        moved = []
        for key, at in marks.items():
            if kept.get(key, _NEVER) < at:
                kept[key] = at
                moved.append(key)
                if store and markers is not None and account is not None:
                    markers.mark(account, key, at)
        while len(kept) > READ_MARKERS_KEPT:
            oldest = min(kept, key=kept.__getitem__)
            del kept[oldest]
            if markers is not None and account is not None:
                markers.forget(account, oldest)
        user = self.user
        if user is None:
            return
        joined = {"#" + key_of(room.name): room.name for room in user.rooms}
        for key in moved:
            if key in joined and key in kept:
                self.peer.tell(ReadMarker(joined[key], True, kept[key], unasked=True))
