"""
A session's intake: what the user sends, in order, within the flood limit.

Each line takes its token of the flood limit as its turn comes, not as it
arrives, so that what a line costs beyond itself (a listing, a message to
several targets) delays the lines after it, however many came in the same
read. Lines over the limit wait their turn rather than being lost (IRC
daemons' "fake lag"); lines that arrive while a step waits on the database
or a claim wait behind it, in the same place, under the same bound
(L{LAG_BYTES}); input that ends (a script's last line, then a half-close)
is all handled and answered, the history being read for it shown, before
the session ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from sys import getsizeof

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
        C{peer.interpret} in order, later if a step is waiting or the limit
        has no token for it.
        """
        if self.user is not None and self._timer is not None:
            # Only a logged-in user's input counts as activity: a client
            # cannot put off the login timeout by sending lines.
            self._timer.reset(self.service.settings.idle_timeout)
        # What comes in a later read (and no step waits) was sent after the
        # user could see a refused nickname: it is the answer.
        self._dropping = False
        if self._lagged is None:
            self._handle(items)
        else:
            # Behind what waits already.
            self._wait(items)

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
        """
        Handle C{items} (nothing waiting before them), each taking a token
        of the flood limit as its turn comes; from the first that cannot
        have one, or that a step under way holds, they wait their turn.
        """
        # The hot path of a flood of lines: no allocation per line.
        interpret = self.peer.interpret
        meter = self._line_meter
        for index, item in enumerate(items):
            if self._closing:
                return
            if self._dropping:
                self._drop(len(items) - index)
                return
            if self._waits:
                self._wait(items[index:])
                return
            if meter is not None and not meter.take():
                self._slowed(meter)
                self._wait(items[index:])
                return
            try:
                interpret(item)
            except Exception as e:
                self.report(e)

    def _wait(self, items: Sequence[object]) -> None:
        """
        Let C{items} wait their turn, in order, behind whatever waits:
        unless more than L{LAG_BYTES} would then wait, whether for the flood
        limit or behind a step (a paste of a few hundred lines stays far
        below it, and what one client can make the server keep is bounded);
        then the client is closed for flooding.
        """
        lag = self._lagged
        if lag is None:
            lag = self._lagged = Lag()
        if not lag.add(items, LAG_BYTES):
            # What was within the limit was handled; the client is closed.
            self._departure = Departure(Why.FLOODING)
            self.log.warn("Dropping {peer}: flooding", peer=self.address)
            self._close(Flooding())

    def _slowed(self, meter: TokenBucket) -> None:
        """
        A line has no token: what waits goes on when the next comes, as IRC
        daemons' "fake lag" does (nothing is lost to a paste or to a network
        stall that delivers a minute's typing at once); the first line to
        wait brings a notice.
        """
        lag = self._lagged
        if lag is None:
            lag = self._lagged = Lag()
        if not lag.slowed:
            lag.slowed = True
            self.peer.tell(TooFast(meter.limit.rate, meter.limit.burst))
        if lag.timer is None or not lag.timer.active():
            # At least a millisecond: a token a rounding error away is not there yet.
            wait = max(meter.wait(), 0.001)
            lag.timer = self.service.clock.callLater(wait, self._lag_over)

    def _lag_over(self) -> None:
        lag = self._lagged
        if lag is None or self._closing:
            return
        lag.timer = None
        self.service.outbox.batch(self._go_on)

    def _go_on(self) -> None:
        """
        Handle what waits, in order, as far as the steps under way and the
        flood limit let it; then, if the input has ended and nothing is
        left to do, end the session.
        """
        interpret = self.peer.interpret
        meter = self._line_meter
        while not self._closing:
            lag = self._lagged
            if lag is None:
                break
            items = lag.items
            if not items:
                self._lagged = None
                lag.stop()
                break
            if self._dropping:
                self._lagged = None
                lag.stop()
                self._drop(len(items))
                break
            if self._waits:
                return
            if meter is not None and not meter.take():
                self._slowed(meter)
                return
            item = items.popleft()
            lag.size -= getsizeof(item)
            try:
                interpret(item)
            except Exception as e:
                self.report(e)
        if self._ended and self._idle():
            self._input_done()

    def _drop(self, count: int) -> None:
        self._dropping = False
        self.log.info(
            "Dropped {count} lines {peer} sent after a refused nickname",
            count=count,
            peer=self.address,
        )
        self.peer.tell(Dropped(count))
        self.peer.tell(NicknameWanted())

    def _idle(self) -> bool:
        """
        Whether nothing the user sent waits (on the database, or its turn),
        and nothing it is owed (history being read) is still to be shown.
        """
        return not self._waits and self._lagged is None and self._reads is None
