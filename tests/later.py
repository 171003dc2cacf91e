"""
A chat that decides every claim a reactor turn later, as a clustered chat
decides one after a round trip to the others.

Run under the shared scenarios (L{tests.scenarios}), it proves that nothing in
the session or the doors relies on a claim (a nickname at login or rename, a
place in a room) being decided at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from chat.core.domain import MemoryChat
from chat.core.interfaces import Participant, RoomView, UserView

_T = TypeVar("_T")


class LaterChat(MemoryChat):
    """
    The in-memory chat, with each claim made and answered on the next turn
    of C{reactor} (of a L{task.Clock}: C{advance(0)}).
    """

    def __init__(self, reactor: IReactorTime, permanent_rooms: tuple[str, ...] = ()) -> None:
        super().__init__(permanent_rooms=permanent_rooms, clock=reactor.seconds)
        self._reactor = reactor
        self.pending = 0

    def _later(self, claim: Callable[[], Deferred[_T]]) -> Deferred[_T]:
        answer: Deferred[_T] = Deferred()

        def decide() -> None:
            self.pending -= 1
            claim().chainDeferred(answer)

        self.pending += 1
        self._reactor.callLater(0, decide)
        return answer

    def login(
        self,
        nickname: str,
        participant: Participant,
        account: str | None = None,
        operator: bool = False,
        host: str | None = None,
    ) -> Deferred[UserView]:
        return self._later(
            lambda: MemoryChat.login(self, nickname, participant, account, operator, host)
        )

    def rename(self, user: UserView, nickname: str) -> Deferred[None]:
        return self._later(lambda: MemoryChat.rename(self, user, nickname))

    def join(self, user: UserView, name: str, key: str | None = None) -> Deferred[RoomView]:
        return self._later(lambda: MemoryChat.join(self, user, name, key))

    def move(
        self, user: UserView, source: str, destination: str, key: str | None = None
    ) -> Deferred[RoomView]:
        return self._later(lambda: MemoryChat.move(self, user, source, destination, key))
