"""
Presence, beside the routing: who watches whom (IRC's MONITOR) and who was
here lately (IRC's WHOWAS).

Neither decides who hears a message; both are told of comings, goings and
renames by the chat (L{chat.core.domain}), which owns the users.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from chat.core.events import Presence as PresenceEvent
from chat.core.events import Was
from chat.core.limits import WHOWAS_KEPT
from chat.core.model import User, key_of


class Presence:
    """
    The watchers of each nickname, and the last departures and renames.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # Who watches each nickname (key): told when it comes and goes.
        self._watchers: dict[str, set[User]] = {}
        # Who was here: the last WHOWAS_KEPT departures and renames, newest last.
        self._was: deque[Was] = deque(maxlen=WHOWAS_KEPT)

    def watch(
        self, user: User, nicknames: Sequence[str], online: Mapping[str, User]
    ) -> list[tuple[str, User | None]]:
        """
        Have C{user} told when each of C{nicknames} comes on line and goes.

        @param online: the users on line, by key.
        @return: each nickname, with the user online under it if any.
        """
        found = []
        if user.watching is None:
            user.watching = set()
        for nickname in nicknames:
            watched = key_of(nickname)
            user.watching.add(watched)
            self._watchers.setdefault(watched, set()).add(user)
            found.append((nickname, online.get(watched)))
        return found

    def unwatch(self, user: User, nicknames: Sequence[str] | None) -> None:
        """
        Stop watching C{nicknames} (L{None}: all of them).
        """
        watching = user.watching
        if watching is None:
            return
        keys = list(watching) if nicknames is None else [key_of(n) for n in nicknames]
        for watched in keys:
            watching.discard(watched)
            watchers = self._watchers.get(watched)
            if watchers is not None:
                watchers.discard(user)
                if not watchers:
                    del self._watchers[watched]

    def watched(self, user: User, online: Mapping[str, User]) -> list[tuple[str, User | None]]:
        """
        What C{user} watches, with the user online under each nickname if any.
        """
        return [(watched, online.get(watched)) for watched in sorted(user.watching or ())]

    def watchers(self, nickname: str) -> Iterable[User]:
        """
        Those who watch C{nickname}.
        """
        return self._watchers.get(key_of(nickname), ())

    def tell(self, nickname: str, online: bool, username: str | None = None) -> None:
        """
        Tell the watchers of C{nickname} that it came on line or went.
        """
        for watcher in self._watchers.get(key_of(nickname), ()):
            watcher.participant.receive(PresenceEvent(watcher.nickname, nickname, online, username))

    def remember(self, user: User) -> None:
        """
        C{user} leaves, or changes its nickname: WHOWAS will know it.
        """
        self._was.append(Was(user.nickname, user.username, user.realname, self._clock()))

    def whowas(self, nickname: str, count: int | None = None) -> list[Was]:
        """
        Who went by C{nickname} lately, newest first: C{count} at most.
        """
        wanted = key_of(nickname)
        found = [was for was in reversed(self._was) if key_of(was.nickname) == wanted]
        return found if count is None or count <= 0 else found[:count]
