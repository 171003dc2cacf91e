"""
Read markers held in memory (IRCv3 C{draft/read-marker}; see
L{chat.core.session.marks}): one session's, or one account's, shared by
every session logged in to it.
"""

from __future__ import annotations

from typing import Protocol

from chat.core.replies import ReadMarker


class Sharer(Protocol):
    """
    A session holding an account's markers with others.
    """

    def marker_moved(self, marker: ReadMarker) -> None:
        """
        Another session of the account moved a marker: tell the user.
        """


class ReadMarks:
    """
    Read markers by target (a room's C{"#"} and folded name, or a folded
    nickname): the time of the last message read in each.

    @ivar account: whose they are (L{None}: one session's without one).
    @ivar sessions: the sessions that hold them.
    """

    __slots__ = ("__weakref__", "account", "marks", "sessions")

    def __init__(self, account: str | None = None) -> None:
        self.account = account
        self.marks: dict[str, float] = {}
        self.sessions: set[Sharer] = set()
