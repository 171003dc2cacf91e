"""
A session's intake: what the user sends, in order, within the flood limit.

Lines over the limit wait their turn rather than being lost (IRC daemons'
"fake lag"); lines that arrive while a step waits on the database or a claim
wait behind it; input that ends (a script's last line, then a half-close) is
all handled and answered, the history being read for it shown, before the
session ends.
"""

from __future__ import annotations

from collections.abc import Sequence

from chat.core.events import Departure, Why
from chat.core.goodbyes import Flooding, Quit
from chat.core.limits import LAG_BYTES, TokenBucket
from chat.core.replies import Dropped, NicknameWanted, TooFast
from chat.core.session.base import Lag, SessionBase


class Intake(SessionBase):
    """
    Input, metered and kept in order.
    """

    __slots__ = ()

    def feed(self, items: Sequence[object]) -> None:
        """
        Take what the user sent (one item a line, or a command: whatever the
        door parses), within the flood limit; each is handed back to
        C{peer.interpret} in order, later if a step is waiting.
        """
        if self.user is not None and self._timer is not None:
            # Only a logged-in user's input counts as activity: a client
            # cannot put off the login timeout by sending lines.
            self._timer.reset(self.service.settings.idle_timeout)
        # What comes in a later read (and no step waits) was sent after the
        # user could see a refused nickname: it is the answer.
        self._dropping = False
        if self._line_meter is not None:
            items = self._meter(items, self._line_meter)
        self._take_in(items)

    def _take_in(self, items: Sequence[object]) -> None:
        if self._waits:
            if self._queue is None:
                self._queue = list(items)
            else:
                self._queue.extend(items)
        else:
            self._handle(items)

    def end_of_input(self, last: Sequence[object] = ()) -> None:
        """
        The user will send nothing more (C{last}: what remained); once
        everything it sent is handled and answered, the session ends, its
        rooms told the connection closed.
        """
        self.feed(last)
        self._ended = True
        if self._idle():
            self._input_done()

    def _input_done(self) -> None:
        if self._closing:
            return
        if self.user is not None:
            self._departure = Departure(Why.CLOSED)
            self._leave(self._departure)
        self._close(Quit())

    def _handle(self, items: Sequence[object]) -> None:
        interpret = self.peer.interpret
        for index, item in enumerate(items):
            if self._closing:
                return
            if self._dropping:
                self._drop(len(items) - index)
                return
            if self._waits:
                self._queue = [*items[index:], *(self._queue or ())]
                return
            try:
                interpret(item)
            except Exception as e:
                self.report(e)

    def _drop(self, count: int) -> None:
        self._dropping = False
        self.log.info(
            "Dropped {count} lines {peer} sent after a refused nickname",
            count=count,
            peer=self.address,
        )
        self.peer.tell(Dropped(count))
        self.peer.tell(NicknameWanted())

    def _meter(self, items: Sequence[object], meter: TokenBucket) -> Sequence[object]:
        """
        The items within the flood limit, to handle now. Those over it wait
        their turn, at the limit's rate, as IRC daemons' "fake lag" does
        (nothing is lost to a paste or to a network stall that delivers a
        minute's typing at once); the first to wait brings a notice. Only a
        client with more than L{LAG_BYTES} waiting is closed: a paste of a
        few hundred lines stays far below it, and what one client can make
        the server keep is bounded.
        """
        lag = self._lagged
        waiting: Sequence[object]
        if lag is None:
            index = 0
            while index < len(items) and meter.take():
                index += 1
            if index == len(items):
                return items
            admitted, waiting = items[:index], items[index:]
            lag = self._lagged = Lag()
            self.peer.tell(TooFast(meter.limit.rate, meter.limit.burst))
        else:
            admitted, waiting = (), items
        if not lag.add(waiting, LAG_BYTES):
            # What was within the limit is handled, then the client is closed.
            self._lagged = None
            lag.stop()
            self._take_in(admitted)
            self._departure = Departure(Why.FLOODING)
            self.log.warn("Dropping {peer}: flooding", peer=self.address)
            self._close(Flooding())
            return ()
        self._lag_next(meter)
        return admitted

    def _lag_next(self, meter: TokenBucket) -> None:
        """
        Let waiting lines through when the next token comes.
        """
        lag = self._lagged
        if lag is not None and (lag.timer is None or not lag.timer.active()):
            # At least a millisecond: a token a rounding error away is not there yet.
            wait = max(meter.wait(), 0.001)
            lag.timer = self.service.clock.callLater(wait, self._lag_over, meter)

    def _lag_over(self, meter: TokenBucket) -> None:
        lag = self._lagged
        if lag is None or self._closing:
            return
        lag.timer = None
        turn = lag.turn(meter)
        if lag.items:
            self._lag_next(meter)
        else:
            self._lagged = None
        self.service.outbox.batch(lambda: self._take_in(turn))
        if self._ended and self._idle():
            self.service.outbox.batch(self._input_done)

    def _idle(self) -> bool:
        """
        Whether nothing the user sent waits (on the database, or its turn),
        and nothing it is owed (history being read) is still to be shown.
        """
        return not self._waits and self._lagged is None and self._reads is None
