"""
The service that owns every session, so that shutting down can say goodbye.

The reactor's own shutdown closes sockets without flushing what was written to
them; a notice sent from C{stopFactory} never arrives. C{stopService} runs
earlier, while the reactor still works, and its Deferred holds the shutdown
until every user has been told and has gone (or a timeout runs out).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar
from weakref import WeakValueDictionary

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from chat.core.events import BanKind, Departure
from chat.core.goodbyes import (
    AddressBanned,
    Crowded,
    Goodbye,
    HostFull,
    LockedOut,
    ServerFull,
    ShuttingDown,
    StillRegistering,
    TooManyConnections,
)
from chat.core.hashing import Hashing
from chat.core.interfaces import (
    AccountStore,
    BanList,
    Chat,
    HistoryReader,
    Peer,
    ReadMarkerStore,
    SharedLimits,
    UserView,
)
from chat.core.limits import (
    BUSY_LOGIN_TIMEOUT,
    DEFAULT_SENDQ,
    DEFAULT_SENDQ_TOTAL,
    NONE,
    REGISTERING_AT_LEAST,
    REGISTERING_PER_HOST,
    REGISTERING_SHARE,
    Limits,
    Quieted,
    Rate,
    TokenBucket,
    address_group,
)
from chat.core.outbox import Outbox
from chat.core.readmarks import ReadMarks
from chat.core.replies import TooManyChecks

_T = TypeVar("_T")


@dataclass(frozen=True)
class Settings:
    """
    How a server behaves, whatever its doors; C{twistd chat}'s options
    make one (L{chat.tap}), tests and embedders make their own.

    @ivar server_name: shown in the greeting.
    @ivar description: what the server says it is where IRC asks (LINKS, WHOIS).
    @ivar motd: the message of the day, a line each, shown after login.
    @ivar history_lines: how many messages a user sees on entering a room.
    @ivar sendq: how many bytes may wait for a client that is not reading
        before it is dropped (see L{chat.net.backpressure}).
    @ivar sendq_total: how many may wait for all such clients together; the
        one whose write would pass it is dropped.
    @ivar max_clients: connections at once, 0 for no limit.
    @ivar max_per_host: connections at once from one address, 0 for no limit.
    @ivar login_timeout: seconds to choose a nickname (0: for ever).
    @ivar idle_timeout: seconds a logged-in user may stay silent (0: for ever).
    @ivar limits: rate limits; by default none (C{twistd chat} sets L{HUMAN}).
    @ivar admins: registered nicknames whose owners, once logged in with
        their password, are operators.
    @ivar log_messages: log the text of messages too, not only who did what.
    @ivar shutdown_timeout: seconds to wait on shutdown for clients to take
        their notice before they are cut off.
    @ivar crowd: the room size from which joins and leaves are not
        announced (see L{chat.core.domain.MemoryChat}); 0 for never.
    """

    server_name: str = "chat"
    description: str = "chat"
    motd: Sequence[str] = ()
    history_lines: int = 20
    sendq: int = DEFAULT_SENDQ
    sendq_total: int = DEFAULT_SENDQ_TOTAL
    max_clients: int = 0
    max_per_host: int = 0
    login_timeout: float = 60.0
    idle_timeout: float = 0.0
    limits: Limits = NONE
    admins: Sequence[str] = ()
    log_messages: bool = False
    shutdown_timeout: float = 10.0
    crowd: int = 0


class Attendee(Protocol):
    """
    What the service needs of a session (L{chat.core.session.Session}): who
    it is, and how to end it.
    """

    @property
    def peer(self) -> Peer: ...

    @property
    def host(self) -> str | None: ...

    @property
    def address(self) -> str: ...

    @property
    def account(self) -> str | None: ...

    @property
    def user(self) -> UserView | None: ...

    def shutdown(self) -> None:
        """
        The server is going: say so and close.
        """

    def abort(self) -> None:
        """
        Cut the connection at once.
        """

    def demote(self) -> None:
        """
        No longer an operator.
        """

    def thrown_out(self, departure: Departure) -> None:
        """
        Banned (or otherwise put out): say why and close.
        """


class ChatService(Service):
    """
    Holds the chat, the settings, the stores and the live sessions.

    @ivar chat: the chat (in memory, or clustered), which every session shares.
    @ivar sessions: every session, logged in or still choosing a nickname.
    @ivar outbox: shared by every connection of every door, so that what
        one burst of input makes the server say is written once per recipient.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        chat: Chat,
        settings: Settings = Settings(),
        history: HistoryReader | None = None,
        accounts: AccountStore | None = None,
        bans: BanList | None = None,
        markers: ReadMarkerStore | None = None,
        shared: SharedLimits | None = None,
    ) -> None:
        """
        @param chat: the chat its sessions log in to.
        @param history: where messages are kept and read back; without it,
            nothing is kept and the history commands say so.
        @param accounts: registered nicknames; without them, nobody can register.
        @param bans: the bans in force; without them, the ban commands say so.
        @param markers: accounts' read markers; without them, a marker
            lasts as long as its session.
        @param shared: the limits shared with other servers (a cluster's
            nodes); without them, this server's own are the only ones.
        """
        self.clock = clock
        self.settings = settings
        self.history = history
        self.accounts = accounts
        self.bans = bans
        self.markers = markers
        self.shared = shared
        # The read markers of each account some session is logged in to,
        # shared by its sessions (chat.core.session.marks), while any holds them.
        self.read_marks: WeakValueDictionary[str, ReadMarks] = WeakValueDictionary()
        self.admins = frozenset(name.lower() for name in settings.admins)
        self.chat = chat
        self.outbox = Outbox()
        self.sessions: set[Attendee] = set()
        # The sessions with operator rights, so that counting them costs no walk.
        self.operators: set[Attendee] = set()
        self.stopping = False
        self._hosts: Counter[str] = Counter()
        # The sessions still logging in (those with an address), and how
        # many there are per address.
        self._registering: set[Attendee] = set()
        self._registering_hosts: Counter[str] = Counter()
        # The sessions counted with the other servers' (L{count_shared}).
        self._counted: dict[Attendee, object] = {}
        # What is left of the allowance of password checks, per nickname and per address.
        self._tries_by_account: dict[str, TokenBucket] = {}
        self._tries_by_host: dict[str, TokenBucket] = {}
        self._lockouts_logged = Quieted(60, clock)
        # What is left of the allowance of password hashes, per address.
        self._hashes_by_host: dict[str, TokenBucket] = {}
        self._registrations: dict[str, TokenBucket] = {}
        self._arrivals: dict[str, TokenBucket] = {}
        self._refusals = Quieted(10, clock)
        self._hashing = Hashing()
        self._drained: Deferred[None] | None = None
        self._deadline: IDelayedCall | None = None

    def reconfigure(self, motd: Sequence[str], admins: Sequence[str]) -> None:
        """
        A new MOTD (shown from the next login on) and new operators' names:
        an operator whose name is no longer among them is one no more.
        """
        self.settings = replace(self.settings, motd=tuple(motd), admins=tuple(admins))
        self.admins = frozenset(name.lower() for name in admins)
        for session in list(self.operators):
            if (session.account or "").lower() not in self.admins:
                session.demote()
                self.log.info("{nickname} is no longer an operator", nickname=session.account)

    def admit(self, session: Attendee) -> Goodbye | None:
        """
        Register a new session, or say why it is turned away.
        """
        if self.stopping:
            return ShuttingDown()
        host = session.host
        if host is not None and self.bans is not None:
            ban = self.bans.find(BanKind.ADDRESS, host)
            if ban is not None:
                return AddressBanned(ban)
        settings = self.settings
        group = address_group(host)
        arrivals = settings.limits.connections
        if (
            host is not None
            and arrivals is not None
            and not _bucket(self._arrivals, group, arrivals, self.clock).take()
        ):
            return TooManyConnections(host)
        if settings.max_clients and len(self.sessions) >= settings.max_clients:
            return ServerFull(settings.max_clients)
        if (
            host is not None
            and settings.max_per_host
            and self._hosts[group] >= settings.max_per_host
        ):
            return HostFull(host, settings.max_per_host)
        registering = min(REGISTERING_PER_HOST, settings.max_per_host)
        if host is not None and registering and self._registering_hosts[group] >= registering:
            # Their own, smaller share: connections that never log in
            # cannot hold every place an address has.
            return StillRegistering(host, registering)
        crowd = max(settings.max_clients // REGISTERING_SHARE, REGISTERING_AT_LEAST)
        if host is not None and settings.max_clients and len(self._registering) >= crowd:
            # ... nor, from many addresses, the places of those logged in.
            return Crowded(crowd)
        self.sessions.add(session)
        if host is not None:
            self._hosts[group] += 1
            self._registering.add(session)
            self._registering_hosts[group] += 1
        return None

    def count_shared(self, session: Attendee) -> Deferred[Goodbye | None] | None:
        """
        With other servers sharing the chat (L{shared}), count C{session},
        admitted here, with its address's connections to all of them: fires
        with L{HostFull} if they hold --max-per-ip already (it is to be
        closed). L{None}: nothing to ask. If they cannot be asked, it is let
        in: this server's own count still holds.
        """
        host, limit, shared = session.host, self.settings.max_per_host, self.shared
        if shared is None or host is None or not limit:
            return None

        def counted(held: object | None) -> Goodbye | None:
            if held is None:
                # Forgotten at once (as one refused here is): it takes no
                # place of its address's while its goodbye is said.
                self.closed(session)
                return HostFull(host, limit)
            if session in self.sessions:
                self._counted[session] = held
            else:
                # Gone meanwhile.
                shared.disconnect(held)
            return None

        def unknown(failure: Failure) -> None:
            if self._lockouts_logged.due("~connections") is not None:
                self.log.warn(
                    "Connections not counted with the other servers' ({why}): "
                    "this server's own limit holds",
                    why=failure.getErrorMessage(),
                )

        return shared.connect(address_group(host), limit).addCallbacks(counted, unknown)

    def login_timeout(self) -> float:
        """
        Seconds a connection made now has to log in: --login-timeout, but
        at most L{BUSY_LOGIN_TIMEOUT} while the server is nearly full.
        """
        timeout = self.settings.login_timeout
        if timeout and self.nearly_full():
            return min(timeout, BUSY_LOGIN_TIMEOUT)
        return timeout

    def logged_in(self, session: Attendee) -> None:
        """
        C{session} has logged in: no longer one of its address's
        connections still logging in.
        """
        self._registered(session)

    def _registered(self, session: Attendee) -> None:
        """
        C{session} no longer logs in (it did, or it has gone).
        """
        if session in self._registering:
            self._registering.discard(session)
            group = address_group(session.host)
            self._registering_hosts[group] -= 1
            if not self._registering_hosts[group]:
                del self._registering_hosts[group]

    def nearly_full(self) -> bool:
        """
        Whether nine tenths of --max-clients are taken: from then on only
        registered nicknames may log in, so that idle anonymous connections
        cannot keep the chat's own users out.
        """
        limit = self.settings.max_clients
        return bool(limit) and len(self.sessions) * 10 >= limit * 9

    def refused(self, session: Attendee, refusal: Goodbye) -> None:
        """
        Log a refused connection: at most once every 10 s per address, with
        how many more were refused meanwhile (a flood of connections must
        not become a flood of log lines).
        """
        count = self._refusals.due(address_group(session.host))
        if count is None:
            return
        self.log.info(
            "Refused {peer}: {why}" + (" (and {more} more from there)" if count else ""),
            peer=session.address,
            why=refusal,
            more=count,
        )

    def closed(self, session: Attendee) -> None:
        """
        Forget a session whose connection has gone.
        """
        if session not in self.sessions:
            return
        self.sessions.discard(session)
        self.operators.discard(session)
        self._registered(session)
        held = self._counted.pop(session, None)
        if held is not None and self.shared is not None:
            self.shared.disconnect(held)
        host = session.host
        if host is not None:
            group = address_group(host)
            self._hosts[group] -= 1
            if not self._hosts[group]:
                del self._hosts[group]
        if self._drained is not None and not self.sessions:
            self._finish()

    def try_password(self, host: str | None, account: str) -> Deferred[LockedOut | None]:
        """
        Take one password check from the allowances of C{account} and of
        C{host}, before the check is made (so that checks in flight at once,
        on many connections, cannot exceed them), or say which is used up.
        A check that proves right is given back (L{password_right}).

        With other servers sharing the chat (L{shared}), the allowances
        shared with them are taken too, after this server's own: a round
        trip, so that guesses spread over the nodes of a cluster get no
        more tries than on one. Fails with
        L{chat.core.errors.StoreUnavailable} if they cannot be asked (no
        check is made, none is counted).
        """
        limits = self.settings.limits
        group = address_group(host)
        allowances = (
            (self._tries_by_account, account.lower(), limits.failed_logins),
            (self._tries_by_host, group, limits.failed_logins_per_host),
        )
        for buckets, key, limit in allowances:
            bucket = buckets.get(key)
            if limit is not None and bucket is not None and not bucket.available():
                return succeed(self._locked_out(host, account, buckets is self._tries_by_host))
        for buckets, key, limit in allowances:
            if limit is not None:
                _bucket(buckets, key, limit, self.clock).take()
        wanted = self._shared_tries(host, account)
        if self.shared is None or not wanted:
            return succeed(None)

        def decided(used_up: int | None) -> LockedOut | None:
            if used_up is None:
                return None
            # Not made: this server's own allowances are given it back.
            self._give_back_tries(host, account)
            return self._locked_out(host, account, wanted[used_up][0].startswith("login-host:"))

        def unavailable(failure: Failure) -> Failure:
            # StoreUnavailable (SharedLimits says so): told as such.
            self._give_back_tries(host, account)
            return failure

        return self.shared.take(wanted).addCallbacks(decided, unavailable)

    def password_right(self, host: str | None, account: str) -> None:
        """
        The check taken by L{try_password} proved right (or was not made):
        it costs nothing.
        """
        self._give_back_tries(host, account)
        if self.shared is not None:
            for name, limit in self._shared_tries(host, account):
                self.shared.give_back(name, limit)

    def _shared_tries(self, host: str | None, account: str) -> list[tuple[str, Rate]]:
        """
        The allowances of password checks shared with other servers that
        apply: C{account}'s, then C{host}'s.
        """
        limits = self.settings.limits
        named = (
            (f"login:{account.lower()}", limits.failed_logins),
            (f"login-host:{address_group(host)}", limits.failed_logins_per_host),
        )
        return [(name, limit) for name, limit in named if limit is not None]

    def _locked_out(self, host: str | None, account: str, by_host: bool) -> LockedOut:
        refusal = LockedOut(host, None if by_host else account)
        self._log_lockout(refusal)
        return refusal

    def _give_back_tries(self, host: str | None, account: str) -> None:
        for buckets, name in (
            (self._tries_by_account, account.lower()),
            (self._tries_by_host, address_group(host)),
        ):
            bucket = buckets.get(name)
            if bucket is not None:
                bucket.give_back()

    def try_hash(
        self, host: str | None, own: TokenBucket | None, hashes: int = 1
    ) -> TooManyChecks | None:
        """
        Take C{hashes} password hashes from the allowances of a connection
        (C{own}, its bucket) and of C{host}, whatever they will prove, before
        they are made; or say which is used up (and take none). Refusals are
        logged once a minute per address.
        """
        limit = self.settings.limits.hashes_per_host
        group = address_group(host)
        shared = None if limit is None else _bucket(self._hashes_by_host, group, limit, self.clock)
        for bucket, by_address in ((own, False), (shared, True)):
            if bucket is not None and not bucket.available():
                if self._lockouts_logged.due(f"#{group}") is not None:
                    self.log.warn(
                        "Refusing password checks from {host}: too many {where}",
                        host=host,
                        where="from the address" if by_address else "on one connection",
                    )
                return TooManyChecks(by_address, math.ceil(bucket.wait()))
        for bucket in (own, shared):
            if bucket is not None:
                bucket.charge(hashes)
        return None

    def hash_not_made(self, host: str | None, own: TokenBucket | None) -> None:
        """
        One hash taken by L{try_hash} was not made: it costs nothing.
        """
        shared = self._hashes_by_host.get(address_group(host))
        for bucket in (own, shared):
            if bucket is not None:
                bucket.give_back()

    def try_registration(self, host: str | None) -> Deferred[bool]:
        """
        Take one registration from C{host}'s allowance (30, then one every
        20 s: Ergo's 30 in 10 minutes), or say it is used up; with other
        servers sharing the chat (L{shared}), from the allowance shared with
        them too (fails with L{chat.core.errors.StoreUnavailable} if it
        cannot be asked).
        """
        limit = self.settings.limits.registrations
        if limit is None:
            return succeed(True)
        group = address_group(host)
        if not _bucket(self._registrations, group, limit, self.clock).take():
            return succeed(False)
        if self.shared is None:
            return succeed(True)

        def decided(used_up: int | None) -> bool:
            if used_up is None:
                return True
            self._give_back_registration(group)
            return False

        def unavailable(failure: Failure) -> Failure:
            self._give_back_registration(group)
            return failure

        taking = self.shared.take([(f"register:{group}", limit)])
        return taking.addCallbacks(decided, unavailable)

    def registration_refused(self, host: str | None) -> None:
        """
        The registration taken did not happen (the nickname was taken): it costs nothing.
        """
        group = address_group(host)
        self._give_back_registration(group)
        limit = self.settings.limits.registrations
        if self.shared is not None and limit is not None:
            self.shared.give_back(f"register:{group}", limit)

    def _give_back_registration(self, group: str) -> None:
        bucket = self._registrations.get(group)
        if bucket is not None:
            bucket.give_back()

    def hashing(self, host: str | None, step: Callable[[], Deferred[_T]]) -> Deferred[_T]:
        """
        Run C{step}, which hashes a password (a login, a registration, a
        change), in its turn (L{chat.core.hashing}): few at once, at most
        two of one address's, addresses taking turns, so that one address's
        connections cannot fill the thread pool that every login waits on,
        nor many addresses' delay a login.
        """
        return self._hashing.run(address_group(host), step)

    def _log_lockout(self, refusal: LockedOut) -> None:
        # Logged once a minute per nickname or address, not once per refused try.
        key = refusal.account.lower() if refusal.account is not None else f"@{refusal.host}"
        if self._lockouts_logged.due(key) is None:
            return
        self.log.warn(
            "Refusing password checks for {what}: too many wrong passwords",
            what=f"nickname {refusal.account}" if refusal.account else f"address {refusal.host}",
        )

    def startService(self) -> None:
        self.stopping = False
        super().startService()  # type: ignore[no-untyped-call]

    def stopService(self) -> Deferred[None]:
        """
        Tell every user the server is going, close each connection once its
        notice is flushed, and fire when all are gone; after
        C{shutdown_timeout} seconds the stragglers (clients that stopped
        reading) are aborted.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.stopping = True
        if not self.sessions:
            return succeed(None)
        self.log.info("Shutting down: telling {count} connections", count=len(self.sessions))
        drained: Deferred[None] = Deferred()
        self._drained = drained
        self._deadline = self.clock.callLater(self.settings.shutdown_timeout, self._abort)
        for session in list(self.sessions):
            session.shutdown()
        self.chat.close()
        return drained

    def _abort(self) -> None:
        self._deadline = None
        self.log.warn(
            "{count} connections did not close in time; aborting them",
            count=len(self.sessions),
        )
        for session in list(self.sessions):
            session.abort()

    def _finish(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        drained, self._drained = self._drained, None
        if drained is not None:
            drained.callback(None)


def _bucket(
    buckets: dict[str, TokenBucket], key: str, limit: Rate, clock: IReactorTime
) -> TokenBucket:
    """
    C{key}'s bucket in C{buckets}, made if need be. Past 10 000 keys, those
    whose allowance is whole again are forgotten, so that an attacker
    trying many names or addresses cannot grow the table without bound.
    """
    bucket = buckets.get(key)
    if bucket is None:
        if len(buckets) > 10_000:
            for stale in [k for k, b in buckets.items() if b.full()]:
                del buckets[stale]
        bucket = buckets[key] = TokenBucket(limit, clock)
    return bucket
