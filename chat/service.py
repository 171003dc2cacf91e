"""
The service that owns every connection, so that shutting down can say goodbye.

The reactor's own shutdown closes sockets without flushing what was written to
them; a notice sent from C{stopFactory} never arrives. C{stopService} runs
earlier, while the reactor still works, and its Deferred holds the shutdown
until every client has been told and has gone (or a timeout runs out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from chat import wire
from chat.accounts import Accounts
from chat.archive import History
from chat.backpressure import DEFAULT_LIMIT, Outbox
from chat.bans import ADDRESS, Bans
from chat.domain import Chat
from chat.limits import NONE, Limits, TokenBucket
from chat.wire import Encoder

LOBBY = "lobby"
"""
The room every user of the line protocol starts in; it exists even when empty.
"""

if TYPE_CHECKING:
    from chat.protocol import ChatProtocol


class ChatService(Service):
    """
    Holds the domain, the server's settings and the live connections.

    @ivar chat: the domain, with the history as its archive.
    @ivar connections: every connection, logged in or still choosing a nickname.
    @ivar encoder: shared by all connections, so that a broadcast is encoded once.
    @ivar outbox: shared by all connections, so that what one burst of input
        makes the server say is written once per recipient.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        history: History | None = None,
        history_lines: int = 20,
        accounts: Accounts | None = None,
        sendq: int = DEFAULT_LIMIT,
        max_clients: int = 0,
        max_per_host: int = 0,
        login_timeout: float = 60.0,
        idle_timeout: float = 0.0,
        limits: Limits = NONE,
        admins: Iterable[str] = (),
        bans: Bans | None = None,
        server_name: str = "chat",
        motd: Sequence[str] = (),
        log_messages: bool = False,
        shutdown_timeout: float = 10.0,
        crowd: int = 0,
    ) -> None:
        """
        @param history: where messages are kept and read back; without it,
            nothing is kept and the history commands say so.
        @param history_lines: how many messages a user sees on entering a room.
        @param accounts: registered nicknames; without it, nobody can register.
        @param sendq: how many bytes may wait for a client that is not reading
            before it is dropped (see L{chat.backpressure}).
        @param max_clients: connections at once, 0 for no limit.
        @param max_per_host: connections at once from one address, 0 for no limit.
        @param login_timeout: seconds to choose a nickname (0: for ever).
        @param idle_timeout: seconds a logged-in user may stay silent (0: for ever).
        @param limits: rate limits; by default none (C{twistd chat} sets L{HUMAN}).
        @param admins: registered nicknames whose owners, once logged in with
            their password, are operators.
        @param crowd: the room size from which joins and leaves are not
            announced (see L{chat.domain.Chat}); 0 for never.
        """
        self.clock = clock
        self.history = history
        self.history_lines = history_lines
        self.accounts = accounts
        self.sendq = sendq
        self.max_clients = max_clients
        self.max_per_host = max_per_host
        self.login_timeout = login_timeout
        self.idle_timeout = idle_timeout
        self._hosts: Counter[str] = Counter()
        self.limits = limits
        self.admins = frozenset(name.lower() for name in admins)
        self.bans = bans
        self._wrong_passwords: dict[str, TokenBucket] = {}
        self.chat = Chat(permanent_rooms=(LOBBY,), archive=history, crowd=crowd)
        self.server_name = server_name
        self.motd = tuple(motd)
        self.log_messages = log_messages
        self.shutdown_timeout = shutdown_timeout
        self.encoder = Encoder()
        self.outbox = Outbox()
        self.connections: set[ChatProtocol] = set()
        self.stopping = False
        self._drained: Deferred[None] | None = None
        self._deadline: IDelayedCall | None = None

    def admit(self, connection: ChatProtocol, host: str | None) -> str | None:
        """
        Register a new connection from C{host} (L{None}: not an IP connection),
        or say why it is turned away.
        """
        if self.stopping:
            return "stopping"
        if host is not None and self.bans is not None:
            ban = self.bans.find(ADDRESS, host)
            if ban is not None:
                return f"This address is banned{wire.ban(ban)}."
        if self.max_clients and len(self.connections) >= self.max_clients:
            return f"The server is full ({self.max_clients} connections); try again later."
        if host is not None and self.max_per_host and self._hosts[host] >= self.max_per_host:
            return (
                f"Too many connections from {host} ({self.max_per_host}); close one and try again."
            )
        self.connections.add(connection)
        if host is not None:
            self._hosts[host] += 1
        return None

    def closed(self, connection: ChatProtocol, host: str | None) -> None:
        """
        Forget a connection that has gone.
        """
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        if host is not None:
            self._hosts[host] -= 1
            if not self._hosts[host]:
                del self._hosts[host]
        if self._drained is not None and not self.connections:
            self._finish()

    def passwords_allowed(self, host: str | None) -> bool:
        """
        Whether C{host} may try another password, or has had too many wrong.
        """
        bucket = self._wrong_passwords.get(host or "")
        return bucket is None or bucket.available()

    def wrong_password(self, host: str | None) -> None:
        """
        Count a wrong password against C{host}.
        """
        limit = self.limits.failed_logins
        if limit is None:
            return
        if len(self._wrong_passwords) > 10_000:
            # Forget the addresses whose allowance is whole again.
            self._wrong_passwords = {
                key: bucket
                for key, bucket in self._wrong_passwords.items()
                if bucket._refill() < limit.burst
            }
        bucket = self._wrong_passwords.setdefault(host or "", TokenBucket(limit, self.clock))
        bucket.take()

    def startService(self) -> None:
        self.stopping = False
        super().startService()  # type: ignore[no-untyped-call]

    def stopService(self) -> Deferred[None]:
        """
        Tell every client the server is going, close each connection once its
        notice is flushed, and fire when all are gone; after
        C{shutdown_timeout} seconds the stragglers (clients that stopped
        reading) are aborted.
        """
        super().stopService()  # type: ignore[no-untyped-call]
        self.stopping = True
        if not self.connections:
            return succeed(None)
        self.log.info("Shutting down: telling {count} connections", count=len(self.connections))
        drained: Deferred[None] = Deferred()
        self._drained = drained
        self._deadline = self.clock.callLater(self.shutdown_timeout, self._abort)
        for connection in list(self.connections):
            connection.shutdown()
        self.chat.close()
        return drained

    def _abort(self) -> None:
        self._deadline = None
        self.log.warn(
            "{count} connections did not close in time; aborting them",
            count=len(self.connections),
        )
        for connection in list(self.connections):
            connection.abort()

    def _finish(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        drained, self._drained = self._drained, None
        if drained is not None:
            drained.callback(None)
