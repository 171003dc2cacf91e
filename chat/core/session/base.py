"""
What every part of a session shares: its state, how it waits, and how it
tells its user why something was not done.

A L{chat.core.session.Session} is cut by concern into classes that each add
methods to this one (intake, identity, talk, queries, moderation); this
class alone holds the state, in slots, since one session lives per
connection and thousands live at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from sys import getsizeof
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.core.errors import ChatError, NoSuchRoom, NotLoggedIn, StoreUnavailable, TooSlow
from chat.core.events import Departure
from chat.core.goodbyes import (
    Goodbye,
    ShuttingDown,
    ThrownOut,
)
from chat.core.interfaces import Chat, Peer, RoomView, UserView
from chat.core.limits import LINES_PER_TOKEN, Rate, TokenBucket
from chat.core.model import key_of
from chat.core.modes import Mode
from chat.core.readmarks import ReadMarks
from chat.core.replies import (
    Feature,
    HistoryFailed,
    InternalError,
    NicknameWanted,
    NotSaved,
    ReadMarker,
    RecentHistory,
    Refused,
    Reply,
    SearchTooSlow,
    StoreDown,
)
from chat.core.service import ChatService

_T = TypeVar("_T")


class Lag:
    """
    Input waiting its turn, in order: over the flood limit (IRC daemons'
    "fake lag"), or behind a step (the database, a claim) that holds input.
    Made when the first item waits, dropped when the last has gone.

    @ivar size: what the waiting items take in memory, in bytes.
    @ivar timer: the call that lets the next ones through, once the flood
        limit has a token for them.
    @ivar slowed: whether the user was told that its lines wait for the
        flood limit (once while any wait).
    """

    __slots__ = ("items", "size", "slowed", "timer")

    def __init__(self) -> None:
        self.items: deque[object] = deque()
        self.size = 0
        self.timer: IDelayedCall | None = None
        self.slowed = False

    def add(self, items: Iterable[object], bound: int) -> bool:
        """
        Let C{items} wait, in order, unless more than C{bound} bytes would:
        then L{False}, and the rest is not kept.
        """
        for item in items:
            self.size += getsizeof(item)
            if self.size > bound:
                return False
            self.items.append(item)
        return True

    def stop(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


class Joins:
    """
    Joins over their allowance, waiting their turn (the room, the room it
    leaves, the key), while input waits behind them.

    @ivar entering: how many of them are not moves, each a room more for
        the user if it is made.
    @ivar timer: the call that lets the next through.
    """

    __slots__ = ("entering", "timer", "waiting")

    def __init__(self) -> None:
        self.waiting: list[tuple[str, str | None, str | None]] = []
        self.entering = 0
        self.timer: IDelayedCall | None = None

    def add(self, room: str, leaving: str | None, key: str | None) -> None:
        self.waiting.append((room, leaving, key))
        if leaving is None:
            self.entering += 1

    def next(self) -> tuple[str, str | None, str | None]:
        join = self.waiting.pop(0)
        if join[1] is None:
            self.entering -= 1
        return join

    def stop(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None


_UNREAD = object()


class Allowances:
    """
    The allowances a session seldom uses (renames, joins, password hashes),
    each made at its first use: a bucket made then is as full as one made
    at login and left alone. Together, so that a session that uses none
    (most) keeps one empty slot for them.
    """

    __slots__ = ("hashes", "joins", "renames")

    def __init__(self) -> None:
        self.renames: TokenBucket | None = None
        self.joins: TokenBucket | None = None
        self.hashes: TokenBucket | None = None


class _Read:
    """
    Stored messages being read for the user: what was found (once it was),
    and how to show it.
    """

    __slots__ = ("result", "shown")

    def __init__(self, shown: Callable[[Any], Reply | None]) -> None:
        self.result: object = _UNREAD
        self.shown = shown


class SessionBase:
    """
    The state of one person's conversation, and the helpers every concern uses.

    @ivar user: the chat's view of the user once logged in, L{None} before
        (and after).
    @ivar account: the registered nickname this user has proven (or registered).
    @ivar operator: whether this user may moderate. Only a password login
        makes an operator: registering an admin's nickname in this session
        (one nobody had registered) does not.
    @ivar host: the peer's address (L{None}: not an IP connection), for
        limits and bans.
    """

    log = Logger()

    # One per connection, thousands at once: slots keep each small.
    __slots__ = (
        "_admitted",
        "_allowances",
        "_claim",
        "_closing",
        "_departure",
        "_dropping",
        "_ended",
        "_joins",
        "_lagged",
        "_line_meter",
        "_marks",
        "_named_at",
        "_reads",
        "_timer",
        "_tries",
        "_turn",
        "_waits",
        "account",
        "host",
        "operator",
        "peer",
        "service",
        "user",
    )

    def __init__(self, service: ChatService, peer: Peer, host: str | None) -> None:
        self.service = service
        self.peer = peer
        self.host = host
        self.user: UserView | None = None
        self.account: str | None = None
        self.operator = False
        limits = service.settings.limits
        clock = service.clock
        self._line_meter = TokenBucket(limits.lines, clock) if limits.lines else None
        self._allowances: Allowances | None = None
        # Joins over their allowance wait here for their turn, while input
        # waits behind them.
        self._joins: Joins | None = None
        # Input waits here for its turn: lines over the flood limit (fake
        # lag), and whatever arrives while a step waits (made only then:
        # most sessions never need one).
        self._lagged: Lag | None = None
        self._dropping = False
        self._ended = False
        self._closing = False
        self._admitted = False
        # How the user left, when the server (not the connection) decided it.
        self._departure: Departure | None = None
        self._timer: IDelayedCall | None = None
        # A registered nickname being proven, and the tries so far.
        self._claim: str | None = None
        self._tries = 0
        # Steps under way (a step's answer may start another).
        self._waits = 0
        # Stored messages being read, in the order they are shown; live
        # events are held until none is.
        self._reads: deque[_Read] | None = None
        # What waits for them to be shown (a command asked after them).
        self._turn: Deferred[None] | None = None
        # Read markers (chat.core.session.marks): the session's own, or its
        # account's, once one is known.
        self._marks: ReadMarks | None = None
        # When the user took its nickname: what was said under it since is its own.
        self._named_at = 0.0

    # What is asked of the service and the door when needed rather than kept
    # in each session (a slot is 8 bytes a connection).

    @property
    def chat(self) -> Chat:
        return self.service.chat

    @property
    def home(self) -> str | None:
        """
        The room a user is put in at login (the line door's lobby), or
        L{None} for none.
        """
        return self.peer.home

    @property
    def address(self) -> str:
        """
        The peer as it is logged ("host:port"), asked of the door when a
        line is logged (not kept: most connections are never logged again).
        """
        return self.peer.address

    # Allowances made at their first use.

    def _allowance(self, kind: str, limit: Rate | None) -> TokenBucket | None:
        """
        The allowance C{kind} (an attribute of L{Allowances}), made at its
        first use; L{None}: no limit.
        """
        if limit is None:
            return None
        allowances = self._allowances
        if allowances is None:
            allowances = self._allowances = Allowances()
        meter: TokenBucket | None = getattr(allowances, kind)
        if meter is None:
            meter = TokenBucket(limit, self.service.clock)
            setattr(allowances, kind, meter)
        return meter

    def _renames(self) -> TokenBucket | None:
        return self._allowance("renames", self.service.settings.limits.nick_changes)

    def _room_changes(self) -> TokenBucket | None:
        return self._allowance("joins", self.service.settings.limits.joins)

    def _hashes(self) -> TokenBucket | None:
        return self._allowance("hashes", self.service.settings.limits.hashes)

    # Rights and features.

    def has(self, feature: Feature) -> bool:
        """
        Whether this server runs with C{feature}.
        """
        service = self.service
        stores = {
            Feature.ACCOUNTS: service.accounts,
            Feature.HISTORY: service.history,
            Feature.BANS: service.bans,
        }
        return stores[feature] is not None

    def _logged_in(self) -> UserView:
        if self.user is None:
            raise NotLoggedIn()
        return self.user

    def _seen_room(self, name: str) -> RoomView:
        """
        Room C{name}, as the user may know of it: a secret room (C{+s}) is
        no room to those outside it (its topic, modes and masks told to
        nobody there, as its members are not), but for server operators,
        who act on every room.
        """
        user = self._logged_in()
        room = self.chat.room(name)
        if Mode.SECRET in room.flags and user not in room and not user.operator:
            raise NoSuchRoom(name)
        return room

    # Telling the user why not.

    def report(self, error: BaseException) -> None:
        """
        Tell the user why what it asked for was not done; a bug is logged too.
        Call it from an C{except} block.
        """
        if isinstance(error, Refused):
            self.peer.tell(error.reply)
        elif isinstance(error, StoreUnavailable):
            if not error.logged:
                self.log.warn(
                    "Could not {what} for {peer}: {why}",
                    what="save a change" if error.writing else "use the database",
                    peer=self.address,
                    why=str(error),
                )
            self.peer.tell(NotSaved() if error.writing else StoreDown())
        elif isinstance(error, ChatError):
            if self.user is None and self._claim is None and not self._closing:
                self._ask_again(error)
            else:
                self.peer.tell(error)
        else:
            self.log.failure("Error handling input from {peer}", Failure(), peer=self.address)
            self.peer.tell(InternalError())

    def _ask_again(self, refusal: Reply) -> None:
        """
        Refuse a nickname and ask for another. Lines the user sent before it
        could see the refusal (pipelined: a password meant for the refused
        nickname, a first message) are dropped, never taken as the next
        nickname or said to a room; the user is told how many.
        """
        self.peer.tell(refusal)
        self.peer.tell(NicknameWanted())
        self._dropping = self.peer.bare_login

    # Waiting.

    @property
    def waiting(self) -> bool:
        """
        Whether input is held until a step (the database, a claim) is answered.
        """
        return self._waits > 0

    def _await(
        self,
        step: Deferred[_T],
        done: Callable[[_T], object],
        failed: Callable[[Failure], object] | None = None,
    ) -> None:
        """
        Hold input until C{step} is done; then call C{done} with its result
        (or C{failed} with its failure) and, once no step is under way, go on
        with the input that waited, all in one batch of output. C{done} and
        C{failed} may raise what a command may (L{Refused}, a
        L{ChatError}), or start another step: it is reported the same
        way, as is a failure nobody handles.
        """
        self._waits += 1
        # Answered at once (a claim the chat decides in memory), the step's
        # caller goes on with the input: it is not over yet.
        now = True

        def settle(result: _T | Failure) -> None:
            self.peer.answering()
            try:
                if not isinstance(result, Failure):
                    done(result)
                elif failed is not None:
                    failed(result)
                else:
                    result.raiseException()
            except Exception as e:
                self.report(e)
            self._waits -= 1
            self.peer.answered(more=self._waits > 0)
            if self._waits or now:
                # Answered at once, the caller goes on with the input.
                return
            self._go_on()

        self._settle(step, settle)
        now = False

    def _settle(self, step: Deferred[_T], settle: Callable[[_T | Failure], None]) -> None:
        """
        Once C{step} is done, call C{settle} with its result or failure, and
        write what that makes the server say as one batch.
        """
        outbox = self.service.outbox
        step.addBoth(lambda result: outbox.batch(lambda: settle(result)))

    def _go_on(self) -> None:
        raise NotImplementedError  # intake's

    def _idle(self) -> bool:
        raise NotImplementedError  # intake's

    def _input_done(self) -> None:
        raise NotImplementedError  # intake's

    # Reading history.

    def _entered(self, room: str) -> None:
        """
        Show the room just entered how far the user read it, and its last messages.
        """
        box = self._marks
        self.peer.tell(
            ReadMarker(room, True, box.marks.get("#" + key_of(room)) if box else None, True)
        )
        history = self.service.history
        lines = self.service.settings.history_lines
        if history is not None and lines > 0 and self.peer.replays:
            self._read(history.recent(room, lines), lambda found: RecentHistory(room, found))

    def _read(self, stored: Deferred[_T], shown: Callable[[_T], Reply | None]) -> None:
        """
        Tell the user C{shown(stored)} (if anything) once the stored messages
        are read, holding live events meanwhile (and the input that comes
        meanwhile is not held: the user may go on talking). Reads begun
        while one is under way are shown after it, each followed by what
        happened while it was the one awaited.
        """
        reads = self._reads
        if reads is None:
            reads = self._reads = deque()
            self.peer.hold()
        read = _Read(shown)
        reads.append(read)

        def arrived(result: _T | Failure) -> None:
            read.result = result
            self._show_reads()

        # The history, and the live events held meanwhile, go out as one write.
        self._settle(stored, arrived)

    def _show_reads(self) -> None:
        """
        Show the reads that have arrived and whose turn it is; once none is
        left, what waited for them goes on.
        """
        reads = self._reads
        while reads and reads[0].result is not _UNREAD:
            reply = self._shown(reads.popleft())
            if reads:
                # What was read, then what happened meanwhile; the next read
                # holds what happens from now on.
                self.peer.release(reply)
                self.peer.hold()
            else:
                self._reads = None
                self.peer.release(reply)
        if self._reads is not None:
            return
        turn, self._turn = self._turn, None
        if turn is not None:
            turn.callback(None)
        if self._ended and self._idle():
            self._input_done()

    def _shown(self, read: _Read) -> Reply | None:
        """
        What C{read} found, as a reply (or why nothing was found).
        """
        result = read.result
        if isinstance(result, Failure) and result.check(TooSlow):
            self.log.info("Stopped a search from {peer}: too slow", peer=self.address)
            return SearchTooSlow()
        if isinstance(result, Failure):
            self.log.failure("Reading history for {peer}", result, peer=self.address)
            return HistoryFailed()
        try:
            return read.shown(result)
        except Exception:
            self.log.failure("Showing history to {peer}", peer=self.address)
            return InternalError()

    def _in_turn(self, then: Callable[[], object]) -> None:
        """
        Call C{then} now or, while stored messages are read, once they are
        shown, holding input meanwhile: what the user asks after a read (more
        history, to quit) is done after it.
        """
        if self._reads is None:
            then()
            return
        turn = self._turn
        if turn is None:
            turn = self._turn = Deferred()
        self._await(turn, lambda _: None if self._closing else then())

    def _charge(self, lines: float) -> None:
        """
        A listing of C{lines} lines costs a line of the flood allowance for
        every L{LINES_PER_TOKEN} of them beyond the first (which the line
        that asked paid for), shares of a line included: asking for big
        listings over and over is flooding too, and so is asking for many
        middling ones.
        """
        if self._line_meter is not None and lines > 1:
            self._line_meter.charge((lines - 1) / LINES_PER_TOKEN)

    # Leaving.

    def _leave(self, departure: Departure) -> None:
        """
        Take the user off line, its rooms told C{departure}.
        """
        user, self.user = self.user, None
        if user is None:
            return
        self.log.info(
            "{nickname} ({peer}) left: {why}",
            nickname=user.nickname,
            peer=self.address,
            why=departure.why.value,
            by=departure.by,
            text=departure.text,
        )
        self.chat.logout(user, departure)

    def thrown_out(self, departure: Departure) -> None:
        """
        Kicked, banned or replaced: tell the user why and close. The user
        leaves its rooms (told the same) at once, not when the connection
        has gone: its nickname is free from now on.
        """
        self._departure = departure
        self._close(ThrownOut(departure))
        self._leave(departure)

    def shutdown(self) -> None:
        """
        The server is going: say so and close.
        """
        self._close(ShuttingDown())

    def abort(self) -> None:
        """
        Cut the connection at once, said or not (the server could wait no longer).
        """
        self.peer.abort()

    def _close(self, goodbye: Goodbye) -> None:
        self._closing = True
        self.peer.close(goodbye)
        self._let_go()

    def _let_go(self) -> None:
        """
        The session is closing: stop its timers, and let go of the input
        and the joins waiting their turn, none of which will be handled
        now. The session and its connection refer to each other, so what
        either holds would stay until a full garbage collection, which may
        not come for hours.
        """
        self._set_timer(0)
        lag, self._lagged = self._lagged, None
        if lag is not None:
            lag.stop()
        joins, self._joins = self._joins, None
        if joins is not None:
            joins.stop()

    # Timeouts: the login timeout until login, then the idle one.

    def _set_timer(self, period: float) -> None:
        """
        (Re)start the timeout with C{period} seconds; 0 stops it.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = (
            self.service.clock.callLater(period, self._timed_out, period) if period else None
        )

    def _timed_out(self, period: float) -> None:
        raise NotImplementedError  # the session's
