"""
One person, whatever door they came in by.

A front-end parses what its user sends into calls on a L{Session}: a nickname,
a password, a command from L{chat.core.commands}, a message for a room. The
session applies the rules (login with its password tries, operator rights,
bans, flood limits, timeouts, moderation), calls the domain, and answers
through its L{Peer}: L{chat.core.replies} values to tell, a goodbye to close
with. It never builds text for a wire.

Two kinds of waiting are the session's too:
 - while a step waits on the database or a password check, the input that
   arrives meanwhile waits, in order, and is handled after the answer;
 - while stored messages are read, live events are held by the peer, so that
   what happened before is shown before what happens now.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import TypeVar

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.core.commands import dispatch
from chat.core.domain import Room, User
from chat.core.errors import (
    AlreadyRegistered,
    ChatError,
    NoSuchRoom,
    NoSuchUser,
    NotLoggedIn,
    StoreUnavailable,
    TooSlow,
    UnknownMode,
)
from chat.core.events import (
    MAX_KEPT,
    Action,
    Ban,
    BanKind,
    Departure,
    Keeping,
    KeptPage,
    Message,
    TagMessage,
    Tags,
    Why,
)
from chat.core.interfaces import AccountStore, BanList, HistoryReader, Peer
from chat.core.limits import TokenBucket
from chat.core.modes import MODE_USAGE, Mode, ModeChange, parse_modes
from chat.core.replies import (
    ROOMS_PAGE,
    Authenticated,
    Away,
    BadNewPassword,
    Banned,
    BanningYourself,
    Counts,
    Dropped,
    Feature,
    Flooding,
    Found,
    Goodbye,
    Greeting,
    Help,
    HistoryFailed,
    IdleTimedOut,
    InternalError,
    Inviting,
    Kept,
    KeptMessages,
    KickedOut,
    LastMessages,
    LoggedIn,
    LoginFirst,
    LoginTimedOut,
    Member,
    Members,
    NearlyFull,
    NicknameBanned,
    NicknameWanted,
    NotBanned,
    NotKept,
    NotProven,
    NotSaved,
    OneAtATime,
    Operator,
    OutOfTries,
    PasswordChanged,
    PasswordWanted,
    PingTimedOut,
    Quit,
    RecentHistory,
    Refused,
    Registered,
    RegisteredNickname,
    Reply,
    Reserved,
    RoomBans,
    RoomModes,
    Rooms,
    SearchTooSlow,
    ShuttingDown,
    StoreDown,
    ThrownOut,
    TooFast,
    TooManyRegistrations,
    TooManyRenames,
    TooManyRoomChanges,
    Topic,
    Unavailable,
    Unbanned,
    Unregistered,
    Usage,
    Users,
    WasHere,
    Whois,
    WrongPassword,
)
from chat.core.replies import (
    BanList as BanListReply,
)
from chat.core.service import ChatService
from chat.core.text import clean, password_problem

_T = TypeVar("_T")

PASSWORD_TRIES = 3
KEPT_PAGE = 50
KEPT_PAUSE = 1.0
"""
Kept messages are shown 50 at a time (at most 100 KiB: far below any send
queue), a second apart.
"""
LINES_PER_TOKEN = 20
"""
How many lines of a listing (/rooms, /who) cost one line of the flood allowance.
"""
LAG_BURSTS = 3
"""
How many bursts of lines over the flood limit may wait their turn before the
client is closed for flooding: with the default 5/20, 60 lines (a paste of
80 at once goes through whole, in 12 s).
"""
SEARCH_RESULTS = 20


class Session:
    """
    One person's conversation with the chat, from connection to goodbye.

    @ivar user: the domain's user once logged in, L{None} before (and after).
    @ivar account: the registered nickname this user has proven (or registered).
    @ivar operator: whether this user may moderate. Only a password login
        makes an operator: registering an admin's nickname in this session
        (one nobody had registered) does not.
    @ivar host: the peer's address (L{None}: not an IP connection), for
        limits and bans.
    @ivar address: the peer as it is logged ("host:port").
    """

    log = Logger()

    # One per connection, thousands at once: slots keep each small.
    __slots__ = (
        "_admitted",
        "_bare",
        "_claim",
        "_closing",
        "_departure",
        "_dropping",
        "_ended",
        "_join_meter",
        "_lag_timer",
        "_lagged",
        "_line_meter",
        "_nick_meter",
        "_queue",
        "_reads",
        "_timer",
        "_tries",
        "_waiting",
        "account",
        "address",
        "chat",
        "home",
        "host",
        "operator",
        "peer",
        "service",
        "user",
    )

    def __init__(
        self,
        service: ChatService,
        peer: Peer,
        host: str | None,
        address: str,
        home: str | None,
        bare_login: bool = False,
    ) -> None:
        """
        @param home: the room a user is put in at login (the line front-end's
            lobby), or L{None} for none.
        @param bare_login: the front-end's nicknames and passwords are bare
            lines (the line protocol's), so that a line pipelined after a
            refused nickname could be a password or a message: such lines
            are dropped. IRC says which is which (NICK, PASS).
        """
        self.service = service
        self.chat = service.chat
        self.peer = peer
        self.host = host
        self.address = address
        self.home = home
        self.user: User | None = None
        self.account: str | None = None
        self.operator = False
        limits = service.settings.limits
        clock = service.clock
        self._line_meter = TokenBucket(limits.lines, clock) if limits.lines else None
        self._nick_meter = TokenBucket(limits.nick_changes, clock) if limits.nick_changes else None
        self._join_meter = TokenBucket(limits.joins, clock) if limits.joins else None
        # Lines over the flood limit wait here for their turn (fake lag),
        # with the timer that lets the next one through.
        self._lagged: list[object] | None = None
        self._lag_timer: IDelayedCall | None = None
        self._bare = bare_login
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
        # While a step waits, the input that arrives meanwhile waits here
        # (a list only then: most sessions never need one, and an empty list
        # costs each of thousands of connections 56 bytes).
        self._queue: list[object] | None = None
        self._waiting = False
        # Stored messages being read; live events are held until none is.
        self._reads = 0

    # The connection's life.

    def start(self) -> None:
        """
        The connection is made: admit it (or say why not) and greet it.
        """
        refusal = self.service.admit(self)
        if refusal is not None:
            if not isinstance(refusal, ShuttingDown):
                self.service.refused(self, refusal)
            self._closing = True
            self._stop_timers()
            self.peer.refuse(refusal)
            return
        self._admitted = True
        self.log.info("Connection from {peer}", peer=self.address)
        self._set_timer(self.service.settings.login_timeout)
        self.peer.tell(Greeting(self.service.settings.server_name))
        self.peer.tell(NicknameWanted())

    def connection_lost(self, cleanly: bool) -> None:
        """
        The connection has gone (C{cleanly}: closed rather than broken); the
        user, if any, leaves. A database answer may still arrive for this
        session: nothing it would start (a login above all) happens now.
        """
        self._closing = True
        self._stop_timers()
        self.service.closed(self)
        if self.user is None:
            if self._admitted:
                # A refused one was logged as such (at most once in a while
                # per address: a flood of them is not a flood of lines).
                self.log.info("Connection from {peer} closed", peer=self.address)
            return
        departure = self._departure
        if departure is None:
            departure = Departure(Why.CLOSED if cleanly else Why.LOST)
        self._leave(departure)

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

    def dropped(self, departure: Departure) -> None:
        """
        The front-end cut the connection (a client too slow to keep up):
        remember why, for the rooms it leaves.
        """
        self._departure = departure
        self._closing = True
        self.log.warn(
            "Dropping {peer} ({nickname}): {why}",
            peer=self.address,
            nickname=self.user.nickname if self.user else None,
            why=departure.why.value,
        )

    def thrown_out(self, departure: Departure) -> None:
        """
        Kicked, banned or replaced: tell the user why and close. The user
        leaves its rooms (told the same) at once, not when the connection
        has gone: its nickname is free from now on.
        """
        self._departure = departure
        self._close(ThrownOut(departure))
        self._leave(departure)

    def unanswered(self, seconds: float) -> None:
        """
        The client answered none of the front-end's checks for C{seconds}
        (a dead connection, or a client that hangs): close it, and its rooms
        see it leave that way.
        """
        if self._closing:
            return
        self._departure = Departure(Why.TIMED_OUT)
        self.log.info(
            "Timed out {peer}: no answer for {seconds}s", peer=self.address, seconds=seconds
        )
        self._close(PingTimedOut(seconds))
        self._leave(self._departure)

    def shutdown(self) -> None:
        """
        The server is going: say so and close.
        """
        self._close(ShuttingDown())

    def _close(self, goodbye: Goodbye) -> None:
        self._closing = True
        self._stop_timers()
        self.peer.close(goodbye)

    # Timeouts: the login timeout until login, then the idle one.

    def _stop_timers(self) -> None:
        self._set_timer(0)
        if self._lag_timer is not None and self._lag_timer.active():
            self._lag_timer.cancel()

    def _set_timer(self, period: float) -> None:
        """
        (Re)start the timeout with C{period} seconds; 0 stops it.
        """
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = self.service.clock.callLater(period, self._timed_out) if period else None

    def _timed_out(self) -> None:
        self._timer = None
        settings = self.service.settings
        goodbye: Goodbye
        if self.user is None:
            goodbye = LoginTimedOut(settings.login_timeout)
        else:
            goodbye = IdleTimedOut(settings.idle_timeout)
        self.log.info("Timed out {peer}: {why}", peer=self.address, why=goodbye)
        self._close(goodbye)

    # Input.

    def feed(self, items: Sequence[object]) -> None:
        """
        Take what the user sent (one item a line, or a command: whatever the
        front-end parses), within the flood limit; each is handed back to
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
        if self._waiting:
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
            if self._waiting:
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
        client with more than L{LAG_BURSTS} bursts waiting is closed.
        """
        lagged = self._lagged
        if lagged is None:
            index = 0
            while index < len(items) and meter.take():
                index += 1
            if index == len(items):
                return items
            admitted, lagged = list(items[:index]), list(items[index:])
            self._lagged = lagged
            self.peer.tell(TooFast(meter.limit.rate, meter.limit.burst))
        else:
            admitted = []
            lagged.extend(items)
        if len(lagged) > meter.limit.burst * LAG_BURSTS:
            # What was within the limit is handled, then the client is closed.
            self._lagged = None
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
        if self._lag_timer is None or not self._lag_timer.active():
            # At least a millisecond: a token a rounding error away is not there yet.
            wait = max(meter.wait(), 0.001)
            self._lag_timer = self.service.clock.callLater(wait, self._lag_over, meter)

    def _lag_over(self, meter: TokenBucket) -> None:
        self._lag_timer = None
        lagged = self._lagged
        if lagged is None or self._closing:
            return
        count = 0
        while count < len(lagged) and meter.take():
            count += 1
        turn, rest = lagged[:count], lagged[count:]
        self._lagged = rest or None
        if rest:
            self._lag_next(meter)
        self.service.outbox.batch(lambda: self._take_in(turn))
        if self._ended and self._idle():
            self.service.outbox.batch(self._input_done)

    def _idle(self) -> bool:
        """
        Whether nothing the user sent waits (on the database, or its turn).
        """
        return not self._waiting and self._lagged is None

    def report(self, error: BaseException) -> None:
        """
        Tell the user why what it asked for was not done; a bug is logged too.
        Call it from an C{except} block.
        """
        if isinstance(error, Refused):
            self.peer.tell(error.reply)
        elif isinstance(error, StoreUnavailable):
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

    def _await(
        self,
        step: Deferred[_T],
        done: Callable[[_T], object],
        failed: Callable[[Failure], object] | None = None,
    ) -> None:
        """
        Hold input until C{step} is done; then call C{done} with its result
        (or C{failed} with its failure) and go on with the input that waited,
        all in one batch of output. C{done} and C{failed} may raise what a
        command may (L{Refused}, a L{ChatError}): it is reported the same
        way, as is a failure nobody handles.
        """
        self._waiting = True

        def settle(result: _T | Failure) -> None:
            try:
                if not isinstance(result, Failure):
                    done(result)
                elif failed is not None:
                    failed(result)
                else:
                    result.raiseException()
            except Exception as e:
                self.report(e)
            self.peer.answered()
            self._waiting = False
            queue, self._queue = self._queue, None
            if queue:
                self._handle(queue)
            if self._ended and self._idle():
                self._input_done()

        self._settle(step, settle)

    def _settle(self, step: Deferred[_T], settle: Callable[[_T | Failure], None]) -> None:
        """
        Once C{step} is done, call C{settle} with its result or failure, and
        write what that makes the server say as one batch.
        """
        outbox = self.service.outbox
        step.addBoth(lambda result: outbox.batch(lambda: settle(result)))

    # Logging in.

    @property
    def waiting(self) -> bool:
        """
        Whether input is held until the database answers.
        """
        return self._waiting

    @property
    def password_wanted(self) -> bool:
        """
        Whether the user is asked for the password of the nickname it chose.
        """
        return self._claim is not None

    def choose_nickname(self, nickname: str) -> None:
        """
        Log in as C{nickname}, once it is found free, not banned, and proven
        if it is registered.
        """
        self._claim = None
        try:
            self._not_banned(nickname)
            self.chat.check_valid(nickname)
        except Refused as refused:
            self._ask_again(refused.reply)
            return
        except ChatError as invalid:
            self._ask_again(invalid)
            return
        accounts = self.service.accounts
        if accounts is None:
            self._log_in(nickname)
            return
        if (self.account or "").lower() == nickname.lower():
            # Proven already (IRC's SASL or NickServ): a ghost holding it is replaced.
            self._regain(self.account or nickname)
            return

        def registered(yes: bool) -> None:
            if yes:
                # Held by a ghost or not, its password is what is wanted:
                # the right one takes the nickname back (GHOST/REGAIN).
                self._claim = nickname
                self._tries = 0
                self.peer.tell(PasswordWanted(nickname))
            elif nickname.lower() in self.service.admins:
                self._ask_again(Reserved(nickname))
            elif self.service.nearly_full():
                self._ask_again(NearlyFull())
            else:
                self._log_in(nickname)

        self._await(accounts.is_registered(nickname), registered)

    def _ask_again(self, refusal: Reply) -> None:
        """
        Refuse a nickname and ask for another. Lines the user sent before it
        could see the refusal (pipelined: a password meant for the refused
        nickname, a first message) are dropped, never taken as the next
        nickname or said to a room; the user is told how many.
        """
        self.peer.tell(refusal)
        self.peer.tell(NicknameWanted())
        self._dropping = self._bare

    def regain(self, nickname: str, password: str) -> None:
        """
        Take back C{nickname}, registered, from whoever holds it (a ghost),
        with its password, and become it (NickServ's REGAIN and GHOST).
        """
        user = self._logged_in()

        def right(proof: tuple[str, bool]) -> None:
            registered = proof[0]
            self._set_account(registered)
            self._proven(proof)
            self._take_back(registered)
            if user.nickname.lower() != registered.lower():
                self._rename(user, registered)
            self.peer.tell(Authenticated(registered))

        self._prove(nickname, password, right, self._not_proven_for(nickname))

    def _regain(self, registered: str) -> None:
        """
        Log in as C{registered}, proven, taking it back from whoever holds it.
        """
        self._take_back(registered)
        self._log_in(registered)

    def _take_back(self, registered: str) -> None:
        """
        Whoever else holds C{registered}, proven ours (a ghost: a connection
        not yet noticed as dead, or the owner elsewhere), is thrown out, told
        why; its nickname is free at once.
        """
        if self.chat.is_online(registered):
            holder = self.chat.find(registered)
            if holder is not self.user:
                self.log.info(
                    "{peer} took {nickname} back from its other connection",
                    peer=self.address,
                    nickname=registered,
                )
                holder.participant.disconnect(Departure(Why.REPLACED))

    def _not_banned(self, nickname: str) -> None:
        """
        Refuse a banned nickname: the one check every way of taking a
        nickname (login, a rename, any front-end's) goes through.
        """
        bans = self.service.bans
        banned = bans.find(BanKind.NICK, nickname) if bans is not None else None
        if banned is not None:
            raise Refused(NicknameBanned(nickname, banned))

    def give_password(self, password: str) -> None:
        """
        The password of the registered nickname the user chose.
        """
        nickname = self._claim
        if nickname is None:
            # Nothing asked for one.
            raise Refused(LoginFirst())

        def right(proof: tuple[str, bool]) -> None:
            registered = proof[0]
            self._claim = None
            self._set_account(registered)
            self._proven(proof)
            self._regain(registered)

        def refused() -> None:
            self._tries += 1
            self.log.info(
                "Wrong password for {nickname} from {peer} (try {tries})",
                nickname=nickname,
                peer=self.address,
                tries=self._tries,
            )
            left = PASSWORD_TRIES - self._tries
            if left <= 0:
                self._close(OutOfTries())
                return
            self.peer.tell(WrongPassword(left))
            self.peer.tell(PasswordWanted(nickname))

        self._prove(nickname, password, right, refused)

    def authenticate(self, account: str, password: str) -> None:
        """
        Prove the user owns C{account} before (or without) choosing it as
        its nickname, as IRC's SASL and NickServ do: a later
        L{choose_nickname} of that account asks for no password. Wrong
        passwords count as they do at login.
        """

        def right(proof: tuple[str, bool]) -> None:
            self._set_account(proof[0])
            self._proven(proof)
            self.peer.tell(Authenticated(proof[0]))

        self._prove(account, password, right, self._not_proven_for(account))

    def become_operator(self, account: str, password: str) -> None:
        """
        Become an operator with the password of an admin's account (IRC's OPER).
        """

        def right(proof: tuple[str, bool]) -> None:
            self.peer.tell(Operator() if self._proven(proof) else NotProven())

        self._prove(account, password, right, self._not_proven_for(account))

    def _prove(
        self,
        account: str,
        password: str,
        right: Callable[[tuple[str, bool]], object],
        refused: Callable[[], object],
    ) -> None:
        """
        Check C{account}'s password (unless the allowance of wrong passwords
        of the account or of this address is used up), then call C{right}
        with the proof (the account as registered, and whether it holds an
        operator's password: asked only of an admin's), or C{refused}: the
        check then stays counted against both.
        """
        accounts = self._accounts()
        service = self.service
        locked = service.try_password(self.host, account)
        if locked is not None:
            self._close(locked)
            return
        admins = service.admins

        def operator(registered: str) -> Deferred[tuple[str, bool]] | tuple[str, bool]:
            if registered.lower() not in admins:
                return (registered, False)
            return accounts.is_operator(registered).addCallback(lambda yes: (registered, yes))

        def proven(proof: tuple[str, bool]) -> None:
            service.password_right(self.host, account)
            right(proof)

        def wrong(failure: Failure) -> None:
            if not failure.check(UnauthorizedLogin):
                # Not a wrong password: the database failed; it costs no try.
                service.password_right(self.host, account)
                failure.raiseException()
            refused()

        proof: Deferred[tuple[str, bool]] = service.hashing(
            self.host, lambda: accounts.authenticate(account, password)
        ).addCallback(operator)
        self._await(proof, proven, wrong)

    def _not_proven_for(self, account: str) -> Callable[[], None]:
        def refused() -> None:
            self.log.info(
                "Wrong password for {nickname} from {peer}", nickname=account, peer=self.address
            )
            self.peer.tell(NotProven())

        return refused

    def _proven(self, proof: tuple[str, bool]) -> bool:
        """
        An account's password was given: an admin's makes an operator, if
        the operator of the server set it (C{python -m chat.admin}).
        """
        registered, set_by_operator = proof
        if registered.lower() not in self.service.admins or self.operator:
            return self.operator
        if not set_by_operator:
            self.log.warn(
                "{nickname} is in --admins, but its password was not set with "
                "python -m chat.admin: not an operator",
                nickname=registered,
            )
            return False
        self.operator = True
        self.service.operators.add(self)
        if self.user is not None:
            self.user.operator = True
        self.log.info("Operator {nickname} logged in", nickname=registered)
        return True

    def _log_in(self, nickname: str) -> None:
        if self._closing:
            return
        user = self.user = self.chat.login(nickname, self.peer)
        user.operator = self.operator
        user.account = self.account
        settings = self.service.settings
        self._set_timer(settings.idle_timeout)
        self.log.info("{peer} logged in as {nickname}", peer=self.address, nickname=nickname)
        self.peer.tell(LoggedIn(settings.motd))
        if self.home is not None:
            self._entered(self.chat.join(user, self.home).name)
        accounts = self.service.accounts
        if self.account is not None and accounts is not None:
            self._deliver_kept(accounts, self.account)

    def _deliver_kept(self, accounts: AccountStore, account: str) -> None:
        """
        Show the messages kept for C{account}, a page at a time (each far
        below the send queue), forgetting each page once it was handed to
        the connection, and only it: a connection that has gone by then
        keeps them for the next login.
        """

        def shown(page: KeptPage) -> Reply | None:
            if not page.entries or self._closing:
                return None
            accounts.forget(page.ids).addErrback(
                lambda failure: self.log.failure("Forgetting kept messages", failure)
            )
            if page.more:
                self.service.clock.callLater(KEPT_PAUSE, self._next_kept, accounts, account)
            return KeptMessages(page.entries)

        self._read(accounts.collect(account, KEPT_PAGE), shown)

    def _next_kept(self, accounts: AccountStore, account: str) -> None:
        if not self._closing:
            self._deliver_kept(accounts, account)

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

    def help(self) -> None:
        """
        The commands this user may use here: operators' only for operators,
        history's only with history, and so on.
        """
        self.peer.tell(Help(self.operator, frozenset(f for f in Feature if self.has(f))))

    def command(self, name: str, text: str, room: str | None) -> None:
        """
        Run the command C{name} with the arguments C{text} (see
        L{chat.core.commands.dispatch}), said in C{room}.
        """
        dispatch(self, name, text, room)

    def _logged_in(self) -> User:
        if self.user is None:
            raise NotLoggedIn()
        return self.user

    # Rooms and messages.

    def say(
        self,
        room: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
    ) -> Message | None:
        user = self._logged_in()
        if self.service.settings.log_messages:
            # As the room sees it: no terminal escapes in the operator's log.
            self.log.info(
                "<{nickname}> {text}", nickname=user.nickname, text=clean(text), room=room
            )
        return self.chat.say(user, room, text, notice, tags)

    def act(self, room: str, text: str) -> Action | None:
        user = self._logged_in()
        if self.service.settings.log_messages:
            self.log.info("* {nickname} {text}", nickname=user.nickname, text=clean(text))
        return self.chat.act(user, room, text)

    def whisper(
        self,
        recipient: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
    ) -> None:
        """
        Send C{text} to C{recipient} only; keep it for them if they are
        registered and away.
        """
        user = self._logged_in()
        if self.service.settings.log_messages:
            self.log.info(
                "*{nickname}* -> {recipient}: {text}",
                nickname=user.nickname,
                recipient=recipient,
                text=clean(text),
            )
        try:
            self.chat.whisper(user, recipient, text, notice, tags)
        except NoSuchUser:
            accounts = self.service.accounts
            if accounts is None or notice:
                raise
            text = clean(text)

            def kept(outcome: Keeping) -> None:
                if outcome is Keeping.NOT_REGISTERED:
                    raise NoSuchUser(recipient)
                if outcome is not Keeping.KEPT:
                    raise Refused(NotKept(recipient, outcome, MAX_KEPT))
                self.peer.tell(Kept(recipient, text))

            self._await(accounts.keep(user.nickname, recipient, text), kept)

    def who(self, room: str | None) -> None:
        """
        Who is in C{room}, or (L{None}) online.
        """
        self._logged_in()
        if room is None:
            self.peer.tell(Users(self.chat.online(), None))
            return
        found = self.chat.room(room)
        users = self.chat.members(room)
        self._charge(len(users) // 8)
        self.peer.tell(
            Users(
                users,
                found.name,
                frozenset(u.nickname for u in found.operators),
                frozenset(u.nickname for u in found.voiced),
                Mode.SECRET in found.flags,
            )
        )

    def join(self, room: str, leaving: str | None = None, key: str | None = None) -> None:
        """
        Go into C{room} (created if need be), C{leaving} another room if
        given; C{key} is the room's key if it has one.
        """
        user = self._logged_in()
        if self._join_meter is not None and not self._join_meter.take():
            raise Refused(TooManyRoomChanges())
        if leaving is None:
            entered = self.chat.join(user, room, key)
        else:
            entered = self.chat.move(user, leaving, room, key)
        self._entered(entered.name)
        self.log.info("{nickname} joined {room}", nickname=user.nickname, room=entered.name)

    def part(self, room: str, reason: str | None = None) -> str:
        """
        Leave C{room}, staying online (and in any other rooms).

        @return: the room's name as it is spelt.
        """
        user = self._logged_in()
        return self.chat.part(user, room, reason=reason)

    def keyed(self, room: str) -> bool:
        """
        Whether C{room} exists and takes a key to join.
        """
        try:
            return self.chat.room(room).key is not None
        except NoSuchRoom:
            return False

    def removed(self, room: str) -> None:
        """
        C{room}'s operator put this user out of it: a user of a front-end
        that keeps everyone in a room goes back to the first one.
        """
        user = self.user
        if user is None or user.rooms or self.home is None or not user.online:
            return
        self._entered(self.chat.join(user, self.home).name)

    def modes(self, room: str, text: str | None, arguments: Sequence[str] = ()) -> None:
        """
        Show C{room}'s modes (C{text} L{None}), or change them (C{+nt},
        C{+o bob}, C{-k}): see L{chat.core.modes}.
        """
        user = self._logged_in()
        found = self.chat.room(room)
        if text is None:
            modes = found.modes()
            if user not in found:
                # The key is for those inside to give out.
                modes = [ModeChange(Mode.KEY, True) if m.mode is Mode.KEY else m for m in modes]
            self.peer.tell(RoomModes(found.name, modes, found.created))
            return
        changes, unknown, missing = parse_modes(text, arguments)
        if missing:
            raise Refused(Usage("mode", MODE_USAGE))
        for letter in unknown:
            self.peer.tell(UnknownMode(letter))
        if any(c.mode is Mode.BAN and c.argument is None for c in changes):
            # "+b" alone: the list.
            self.peer.tell(RoomBans(found.name, tuple(found.bans)))
            changes = [c for c in changes if not (c.mode is Mode.BAN and c.argument is None)]
        if changes:
            self.chat.change_modes(user, room, changes)

    def kick_from(self, room: str, nickname: str, reason: str | None) -> None:
        """
        Put C{nickname} out of C{room}, as one of its operators.
        """
        user = self._logged_in()
        target = self.chat.kick(user, room, nickname, reason)
        self.log.info(
            "{nickname} put {target} out of {room}",
            nickname=user.nickname,
            target=target.nickname,
            room=room,
        )

    def invite(self, nickname: str, room: str) -> None:
        """
        Invite C{nickname} into C{room}.
        """
        user = self._logged_in()
        target = self.chat.invite(user, room, nickname)
        self.peer.tell(Inviting(target.nickname, room))

    def _entered(self, room: str) -> None:
        history = self.service.history
        lines = self.service.settings.history_lines
        if history is not None and lines > 0:
            self._read(history.recent(room, lines), lambda found: RecentHistory(room, found))

    def whois(self, nickname: str) -> None:
        """
        Who C{nickname} is: its rooms, and whether it is an operator.
        """
        user = self._logged_in()
        target = self.chat.find(nickname)
        # A secret room is named only to those who share it.
        shown = [room for room in target.rooms if Mode.SECRET not in room.flags or user in room]
        self.peer.tell(
            Whois(
                target.nickname,
                [room.name for room in shown],
                target.operator,
                target.away,
                target.username,
                target.realname,
                frozenset(room.name for room in shown if target in room.operators),
                frozenset(room.name for room in shown if target in room.voiced),
                target.bot,
                target.account,
            )
        )

    def whowas(self, nickname: str, count: int | None = None) -> None:
        """
        Who went by C{nickname} lately.
        """
        self._logged_in()
        self.peer.tell(WasHere(nickname, self.chat.whowas(nickname, count)))

    def members(self, room: str | None, nicknames: Sequence[str] | None = None) -> None:
        """
        The users of C{room}, or (L{None}) everyone online, or only those of
        C{nicknames} who are online, with details.
        """
        me = self._logged_in()
        chat = self.chat
        found = chat.room(room) if room is not None else None
        if nicknames is not None:
            users = [chat.find(n) for n in nicknames if chat.is_online(n)]
        else:
            users = sorted(
                found.members if found is not None else chat.everyone(),
                key=lambda u: u.nickname.lower(),
            )
        ops = found.operators if found is not None else ()
        voiced = found.voiced if found is not None else ()
        mine = set(me.rooms)
        now = self.service.clock.seconds()
        listed = [
            Member(
                u.nickname,
                u.operator,
                u.away,
                u.username,
                u.realname,
                u in ops,
                u in voiced,
                u.invisible and u is not me and not mine.intersection(u.rooms),
                u.bot,
                u.account,
                int(now - u.active),
                _first_room(u, mine),
            )
            for u in users
        ]
        self.peer.tell(Members(found.name if found is not None else None, listed))

    def describe(self, username: str, realname: str) -> None:
        """
        Keep what the user says of itself (IRC's USER), for WHO and WHOIS.
        """
        self.chat.describe(self._logged_in(), username, realname)

    def _set_account(self, account: str | None) -> None:
        """
        The account this user proved it owns (or none): its messages carry it.
        """
        self.account = account
        if self.user is not None:
            self.user.account = account

    def tag(self, target: str, tags: Tags, room: bool) -> TagMessage:
        """
        Send tags alone (IRC's TAGMSG) to room C{target} or to the user C{target}.
        """
        return self.chat.tag(self._logged_in(), target, tags, room)

    def watch(self, nicknames: Sequence[str]) -> list[tuple[str, User | None]]:
        """
        Be told when these nicknames come and go (IRC's MONITOR).
        """
        return self.chat.watch(self._logged_in(), nicknames)

    def unwatch(self, nicknames: Sequence[str] | None) -> None:
        self.chat.unwatch(self._logged_in(), nicknames)

    def watched(self) -> list[tuple[str, User | None]]:
        return self.chat.watched(self._logged_in())

    def set_realname(self, realname: str) -> str | None:
        """
        Say another real name (IRC's SETNAME): those who see you are told.
        """
        return self.chat.rename_real(self._logged_in(), realname)

    def set_bot(self, bot: bool) -> None:
        """
        Say that this user is a program (or not): its messages show it.
        """
        self._logged_in().bot = bot

    def set_invisible(self, invisible: bool) -> None:
        """
        Be found by searches with wildcards only by those who share a room with you, or by all.
        """
        self._logged_in().invisible = invisible

    def set_away(self, text: str | None) -> None:
        """
        Be away with C{text} (those who message you are told), or back with none.
        """
        user = self._logged_in()
        self.peer.tell(Away(self.chat.set_away(user, text)))

    def counts(self) -> None:
        """
        How many users, operators, unregistered connections and rooms there are.
        """
        service, chat = self.service, self.chat
        # Kept counts, not a walk over every session: this is part of every
        # IRC registration, and thousands may register at once.
        online = len(chat)
        self.peer.tell(
            Counts(
                online,
                sum(1 for s in service.operators if s.user is not None),
                # Every user online came in through a session.
                max(0, len(service.sessions) - online),
                chat.rooms_in_use(),
                chat.peak,
            )
        )

    def rooms(self, page: int = 1) -> None:
        """
        One page of the rooms (L{ROOMS_PAGE} at most); a long answer costs
        the flood allowance what its lines would.
        """
        user = self._logged_in()
        chat = self.chat
        listed = chat.rooms((page - 1) * ROOMS_PAGE, ROOMS_PAGE, viewer=user)
        self._charge(len(listed))
        self.peer.tell(Rooms(listed, chat.room_count(), page))

    def rooms_named(self, names: Sequence[str]) -> None:
        """
        The rooms of C{names} that exist (IRC's C{LIST #a,#b}).
        """
        user = self._logged_in()
        listed = self.chat.describe_rooms(names[:ROOMS_PAGE], viewer=user)
        self.peer.tell(Rooms(listed, len(listed)))

    def _charge(self, lines: int) -> None:
        """
        A listing of C{lines} lines costs a line of the flood allowance for
        every L{LINES_PER_TOKEN} of them: asking for big listings over and
        over is flooding too.
        """
        if self._line_meter is not None and lines >= LINES_PER_TOKEN:
            self._line_meter.charge(lines // LINES_PER_TOKEN)

    def topic(self, room: str, text: str | None) -> None:
        """
        Set the topic of C{room} to C{text}, or (L{None}) show it.
        """
        user = self._logged_in()
        if text is None:
            found = self.chat.room(room)
            self.peer.tell(Topic(found.name, found.topic, found.topic_by, found.topic_at))
        else:
            self.chat.set_topic(user, room, text)

    def history(self, room: str, count: int) -> None:
        self._logged_in()
        self._one_at_a_time()
        self._read(
            self._history().recent(room, count), lambda found: LastMessages(room, count, found)
        )

    def search(self, room: str, text: str) -> None:
        self._logged_in()
        self._one_at_a_time()
        self._read(
            self._history().search(room, text, SEARCH_RESULTS),
            lambda found: Found(room, text, found),
        )

    def _one_at_a_time(self) -> None:
        """
        One read of the history at a time per user: a second waits for the first.
        """
        if self._reads:
            raise Refused(OneAtATime())

    def _history(self) -> HistoryReader:
        if self.service.history is None:
            raise Refused(Unavailable(Feature.HISTORY))
        return self.service.history

    def _read(self, stored: Deferred[_T], shown: Callable[[_T], Reply | None]) -> None:
        """
        Tell the user C{shown(stored)} (if anything) once the stored messages
        are read, holding live events meanwhile (and the input that comes
        meanwhile is not held: the user may go on talking).
        """
        self._reads += 1
        if self._reads == 1:
            self.peer.hold()

        def settle(result: _T | Failure) -> None:
            reply: Reply | None = None
            try:
                if isinstance(result, Failure) and result.check(TooSlow):
                    self.log.info("Stopped a search from {peer}: too slow", peer=self.address)
                    reply = SearchTooSlow()
                elif isinstance(result, Failure):
                    self.log.failure("Reading history for {peer}", result, peer=self.address)
                    reply = HistoryFailed()
                else:
                    reply = shown(result)
            finally:
                self._reads -= 1
                if self._reads == 0:
                    # What was read first, then what happened meanwhile.
                    self.peer.release(reply)
                elif reply is not None:
                    self.peer.tell(reply)

        # The history, and the live events held meanwhile, go out as one write.
        self._settle(stored, settle)

    def rename(self, nickname: str) -> None:
        """
        Take another nickname, unless it is banned or somebody else
        registered it. Only a rename that may happen counts against the
        allowance of renames.
        """
        user = self._logged_in()
        self._not_banned(nickname)
        self.chat.check_rename(user, nickname)
        if self._nick_meter is not None and not self._nick_meter.take():
            raise Refused(TooManyRenames())
        accounts = self.service.accounts
        if accounts is None or (self.account or "").lower() == nickname.lower():
            self._rename(user, nickname)
            return

        def registered(yes: bool) -> None:
            if yes or nickname.lower() in self.service.admins:
                # Refused: the rename does not count against the allowance.
                if self._nick_meter is not None:
                    self._nick_meter.give_back()
                raise Refused(RegisteredNickname(nickname) if yes else Reserved(nickname))
            self._rename(user, nickname)

        self._await(accounts.is_registered(nickname), registered)

    def _rename(self, user: User, nickname: str) -> None:
        old = user.nickname
        self.chat.rename(user, nickname)
        self.log.info("{old} is now {new}", old=old, new=nickname)

    def quit(self, reason: str | None) -> None:
        """
        Leave, with C{reason} for the rooms.
        """
        user, self.user = self.user, None
        if user is not None:
            self.log.info("{nickname} ({peer}) quit", nickname=user.nickname, peer=self.address)
            self.chat.logout(user, Departure(Why.QUIT, text=reason))
        self._close(Quit())

    # Accounts.

    def register(self, password: str) -> None:
        """
        Protect the user's nickname with C{password}.
        """
        user = self._logged_in()
        accounts = self._accounts()
        nickname = user.nickname
        self._check_new_password(password)
        service = self.service
        if not service.try_registration(self.host):
            self.log.info("Too many registrations from {peer}", peer=self.address)
            raise Refused(TooManyRegistrations())

        def done(_: object) -> None:
            self._set_account(nickname)
            self.log.info("{nickname} registered", nickname=nickname)
            self.peer.tell(Registered(nickname))

        def taken(failure: Failure) -> None:
            failure.trap(AlreadyRegistered)
            service.registration_refused(self.host)
            self.peer.tell(AlreadyRegistered(nickname))

        step = service.hashing(self.host, lambda: accounts.register(nickname, password))
        self._await(step, done, taken)

    def change_password(self, old: str, new: str) -> None:
        user = self._logged_in()
        accounts = self._accounts()
        self._check_new_password(new)
        nickname = user.nickname

        def done(_: object) -> None:
            self.log.info("{nickname} changed password", nickname=nickname)
            self.peer.tell(PasswordChanged())

        step = self.service.hashing(self.host, lambda: accounts.change_password(nickname, old, new))
        self._await(step, done, self._not_proven)

    def unregister(self, password: str) -> None:
        user = self._logged_in()
        accounts = self._accounts()
        nickname = user.nickname

        def done(_: object) -> None:
            self._set_account(None)
            self.log.info("{nickname} unregistered", nickname=nickname)
            self.peer.tell(Unregistered(nickname))

        step = self.service.hashing(self.host, lambda: accounts.unregister(nickname, password))
        self._await(step, done, self._not_proven)

    def _check_new_password(self, password: str) -> None:
        problem = password_problem(password)
        if problem is not None:
            raise Refused(BadNewPassword(problem))

    def _not_proven(self, failure: Failure) -> None:
        failure.trap(UnauthorizedLogin)
        self.peer.tell(NotProven())

    def _accounts(self) -> AccountStore:
        if self.service.accounts is None:
            raise Refused(Unavailable(Feature.ACCOUNTS))
        return self.service.accounts

    # Moderation (the command table lets only operators here).

    def kick(self, nickname: str, reason: str | None) -> None:
        """
        Throw C{nickname} out, whatever door it came in by.
        """
        user = self._logged_in()
        target = self.chat.find(nickname)
        reason = clean(reason or "").strip() or None
        self.log.info(
            "Operator {operator} kicked {target} ({reason})",
            operator=user.nickname,
            target=target.nickname,
            reason=reason,
        )
        self.peer.tell(KickedOut(target.nickname))
        target.participant.disconnect(Departure(Why.KICKED, user.nickname, reason))

    def ban(self, target: str, duration: float | None, reason: str | None) -> None:
        """
        Shut out a nickname or an address for C{duration} seconds (L{None}:
        for good); whoever is online under it is thrown out, whatever door
        it came in by. A nickname's ban is the nickname's alone: behind one
        address (a NAT, a shell box) there may be others, the operator among
        them; an address is banned only when it is named. An operator
        cannot ban itself (its nickname, or the address it is on).
        """
        user = self._logged_in()
        bans = self._bans()
        reason = clean(reason or "").strip() or None
        departure = Departure(Why.BANNED, user.nickname, reason)
        if _is_address(target):
            if target == self.host:
                raise Refused(BanningYourself(target))
            self._banned(bans.add(BanKind.ADDRESS, target, duration, reason, user.nickname))
            for session in [s for s in self.service.sessions if s.host == target]:
                session.thrown_out(departure)
            return
        if target.lower() == user.nickname.lower():
            raise Refused(BanningYourself(target))
        online = self.chat.find(target) if self.chat.is_online(target) else None
        if online is not None:
            target = online.nickname
        self._banned(bans.add(BanKind.NICK, target, duration, reason, user.nickname))
        if online is not None:
            online.participant.disconnect(departure)

    def _banned(self, ban: Ban) -> None:
        self.log.info(
            "Operator {operator} banned {kind} {target} (until {until}: {reason})",
            operator=ban.by,
            kind=ban.kind.value,
            target=ban.target,
            until=ban.until,
            reason=ban.reason,
        )
        self.peer.tell(Banned(ban.target, ban))

    def unban(self, target: str) -> None:
        user = self._logged_in()
        bans = self._bans()
        if not bans.remove(BanKind.ADDRESS if _is_address(target) else BanKind.NICK, target):
            raise Refused(NotBanned(target))
        self.log.info(
            "Operator {operator} lifted the ban on {target}", operator=user.nickname, target=target
        )
        self.peer.tell(Unbanned(target))

    def list_bans(self) -> None:
        self._logged_in()
        self.peer.tell(BanListReply(self._bans().all()))

    def _bans(self) -> BanList:
        if self.service.bans is None:
            raise Refused(Unavailable(Feature.BANS))
        return self.service.bans

    def announce(self, text: str) -> None:
        """
        Tell everyone online, in every room.
        """
        user = self._logged_in()
        self.log.info(
            "Operator {operator} announced: {text}", operator=user.nickname, text=clean(text)
        )
        self.chat.announce(user, text)


def _first_room(user: User, shared: set[Room]) -> str | None:
    """
    The first of C{user}'s rooms that is in C{shared}, or its first room.
    """
    for room in user.rooms:
        if room in shared:
            return room.name
    return user.rooms[0].name if user.rooms else None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
