"""
The line front-end: one line in, one domain call; one domain event out, one line.

This module parses and dispatches; the rules live in L{chat.domain} and the
wording of every line in L{chat.wire}.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IConsumer, IDelayedCall, ITCPTransport
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from chat import wire
from chat.accounts import Accounts, AlreadyRegistered, password_problem
from chat.archive import History
from chat.backpressure import Outflow, outflow_for
from chat.bans import ADDRESS, NICK, Bans, parse_duration
from chat.database import Entry
from chat.domain import User
from chat.errors import ChatError, NoSuchUser
from chat.events import Event
from chat.framing import LineBuffer, TelnetFilter, TooLong
from chat.limits import TokenBucket
from chat.service import LOBBY, ChatService
from chat.text import clean

_T = TypeVar("_T")

MAX_LINE_BYTES = 2048
HISTORY_DEFAULT = 50
HISTORY_MAX = 500
SEARCH_RESULTS = 20
PASSWORD_TRIES = 3
CLOSE_GRACE = 10.0
"""
Seconds a closing connection has to take its last lines before it is aborted.
"""


class Usage(Exception):
    """
    A command was given the wrong arguments; the message is the usage line.
    """


class Refused(Exception):
    """
    A request the protocol turned down (a rate limit, say); the message says why.
    """


@dataclass(frozen=True)
class Command:
    """
    One slash command: its names (the first is the one to show), its usage and
    what it does, in one line for C{/help}.
    """

    names: tuple[str, ...]
    usage: str
    summary: str
    run: Callable[[ChatProtocol, User, str], None]


def describe_peer(address: IAddress) -> str:
    """
    A short, loggable form of a peer address ("host:port" for TCP).
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    return type(address).__name__


class ChatProtocol(TimeoutMixin, LineReceiver):
    """
    One client connection speaking the line protocol described in docs/protocol.md.

    Lines end in LF, with or without CR, on the way in (netcat sends bare LF)
    and in CRLF on the way out. C{dataReceived} is replaced so that an
    over-long line costs its sender an error instead of the connection and the
    lines after it; see L{chat.framing}.
    """

    MAX_LENGTH = MAX_LINE_BYTES
    delimiter = wire.EOL
    log = Logger()

    # Thousands of these live at once. Slots keep this class's state out of
    # the instance dict, which then holds only what Twisted's base classes
    # set: small enough for CPython to share its keys between instances
    # (past about 30 attributes it stops, and each dict costs 1.5 KiB).
    __slots__ = (
        "_claim",
        "_closing",
        "_dropped",
        "_encode",
        "_excess",
        "_held",
        "_join_meter",
        "_line_meter",
        "_lines",
        "_nick_meter",
        "_outbox",
        "_outflow",
        "_pending",
        "_queue",
        "_reads",
        "_telnet",
        "_tries",
        "_waiting",
        "account",
        "chat",
        "host",
        "operator",
        "peer",
        "room",
        "service",
        "user",
    )

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.chat = service.chat
        self.user: User | None = None
        # The line protocol's rule: a logged-in user is in exactly one room.
        self.room = LOBBY
        self.peer = "?"
        self._telnet = TelnetFilter()
        self._lines = LineBuffer(self.MAX_LENGTH)
        self._encode = service.encoder
        self._closing = False
        # Set once connected; see chat.backpressure.
        self._outflow: Outflow
        self._outbox = service.outbox
        # What this connection was told while the outbox was held.
        self._pending: list[bytes] = []
        self.host: str | None = None
        limits = service.limits
        clock = service.clock
        self._line_meter = TokenBucket(limits.lines, clock) if limits.lines else None
        self._nick_meter = TokenBucket(limits.nick_changes, clock) if limits.nick_changes else None
        self._join_meter = TokenBucket(limits.joins, clock) if limits.joins else None
        self._excess = 0
        # Why the server dropped this connection, when it did.
        self._dropped: str | None = None
        # While history is being read, live lines wait here, so that what
        # happened before comes before what happens now.
        self._held: list[bytes] | None = None
        self._reads = 0
        # While a step waits on the database or a password check, the lines
        # that arrive meanwhile wait here, in order.
        self._queue: list[bytes | TooLong] = []
        self._waiting = False
        # A registered nickname this connection is proving it owns, the tries
        # so far, and the account it has proven (or registered).
        self._claim: str | None = None
        self._tries = 0
        self.account: str | None = None
        # Only a password login makes an operator: registering an admin's
        # nickname in this session (one nobody had registered) does not.
        self.operator = False

    # Connection life cycle.

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        if ITCPTransport.providedBy(transport):
            tcp = ITCPTransport(transport)
            # Without it, a small write waits for the peer's delayed ACK of the
            # previous one: tens of milliseconds of chat latency.
            tcp.setTcpNoDelay(True)
            # So that the kernel notices peers that vanished without a word.
            tcp.setTcpKeepAlive(True)
        self._outflow = outflow_for(transport, self.service.sendq)
        address = transport.getPeer()
        self.peer = describe_peer(address)
        self.host = getattr(address, "host", None)
        refusal = self.service.admit(self, self.host)
        if refusal == "stopping":
            self.shutdown()
            return
        if refusal is not None:
            self.log.info("Refused {peer}: {why}", peer=self.peer, why=refusal)
            self._send(wire.error(refusal))
            self._close()
            return
        self.log.info("Connection from {peer}", peer=self.peer)
        self._timer(self.service.login_timeout)
        self._outbox.batch(self._greet)

    def _greet(self) -> None:
        self._send(wire.notice(f"Welcome to {self.service.server_name}."))
        self._prompt()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        # A database answer may still arrive for this connection; nothing it
        # would start (a login above all) may happen now.
        self._closing = True
        self._timer(0)
        self.service.closed(self, self.host)
        user, self.user = self.user, None
        if user is None:
            self.log.info("Connection from {peer} closed", peer=self.peer)
            return
        if self._dropped is not None:
            why = self._dropped
        elif reason.check(ConnectionDone):
            why = "connection closed"
        else:
            why = "connection lost"
        self.log.info(
            "{nickname} ({peer}) left: {why}", nickname=user.nickname, peer=self.peer, why=why
        )
        self.chat.logout(user, why)

    # Timeouts (TimeoutMixin): the login timeout until login, then the idle one.

    def callLater(self, period: float, func: Callable[[], object]) -> IDelayedCall:
        """
        TimeoutMixin's hook: its timers run on the service's clock (a task.Clock in tests).
        """
        return self.service.clock.callLater(period, func)

    def _timer(self, period: float) -> None:
        """
        (Re)start the timeout with C{period} seconds; 0 stops it.
        """
        self.setTimeout(period or None)  # type: ignore[no-untyped-call]

    def timeoutConnection(self) -> None:
        if self._closing:
            # Told goodbye, but not taking its last lines: let go of it.
            self.abort()
            return
        if self.user is None:
            why = f"No nickname chosen in {self.service.login_timeout:g} seconds. Goodbye."
        else:
            why = f"Idle for {self.service.idle_timeout:g} seconds. Goodbye."
        self.log.info("Timed out {peer}: {why}", peer=self.peer, why=why)
        self._send(wire.error(why))
        self._close()

    def shutdown(self) -> None:
        """
        Say the server is going and close the connection once that is flushed.
        """
        self._send(wire.notice("The server is shutting down. Goodbye."))
        self._close()

    def abort(self) -> None:
        """
        Drop the connection at once, written data or not.
        """
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    # Bytes in.

    def dataReceived(self, data: bytes) -> None:
        # What these lines make the server say is written once they are all handled.
        self._outbox.batch(lambda: self._take(data))

    def _take(self, data: bytes) -> None:
        if self.user is not None:
            # Only a logged-in user's input counts as activity: a client
            # cannot put off the login timeout by sending lines.
            self.resetTimeout()  # type: ignore[no-untyped-call]
        lines = self._lines.feed(self._telnet.feed(data))
        if self._line_meter is not None:
            lines = self._meter(lines, self._line_meter)
        if self._waiting:
            self._queue.extend(lines)
        else:
            self._handle(lines)

    def _handle(self, lines: list[bytes | TooLong]) -> None:
        for index, line in enumerate(lines):
            if self._closing:
                return
            if self._waiting:
                self._queue[:0] = lines[index:]
                return
            if isinstance(line, bytes):
                self.lineReceived(line)
            else:
                self.lineLengthExceeded(b"")

    def _meter(self, lines: list[bytes | TooLong], meter: TokenBucket) -> list[bytes | TooLong]:
        """
        The lines within the flood limit. Over it, the first line dropped
        brings a warning; a client still flooding a burst later is closed.
        """
        admitted = []
        for line in lines:
            if meter.take():
                self._excess = 0
                admitted.append(line)
                continue
            self._excess += 1
            if self._excess == 1:
                self._send(
                    wire.error(
                        f"You are sending too fast (at most {meter.limit.rate:g} lines a second, "
                        f"bursts of {meter.limit.burst}); lines over that are dropped."
                    )
                )
            elif self._excess > meter.limit.burst:
                self._send(wire.error("Still flooding. Goodbye."))
                self._dropped = "flooding"
                self.log.warn("Dropping {peer}: flooding", peer=self.peer)
                self._close()
                break
        return admitted

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
        line handler may (L{Usage}, a L{ChatError}): it is reported the same
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
                self._report(e, Failure())
            self._waiting = False
            queue, self._queue = self._queue, []
            self._handle(queue)

        self._settle(step, settle)

    def _settle(self, step: Deferred[_T], settle: Callable[[_T | Failure], None]) -> None:
        """
        Once C{step} is done, call C{settle} with its result or failure, and
        write what that makes the server say as one batch.
        """
        step.addBoth(lambda result: self._outbox.batch(lambda: settle(result)))

    def lineLengthExceeded(self, line: bytes) -> None:
        self._send(wire.error(f"Line too long (over {self.MAX_LENGTH} bytes); it was dropped."))

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        try:
            if self.user is None:
                self._login_line(text)
            else:
                self._chat_line(self.user, text)
        except Exception as e:
            self._report(e, Failure())

    def _report(self, error: BaseException, failure: Failure) -> None:
        """
        Tell the user why what it asked for was refused; a bug is logged too.
        """
        if isinstance(error, Usage):
            self._send(wire.error(f"Usage: {error}"))
        elif isinstance(error, Refused):
            self._send(wire.error(str(error)))
        elif isinstance(error, ChatError):
            self._send(wire.error(wire.describe(error)))
            if self.user is None and self._claim is None and not self._closing:
                self._prompt()
        else:
            self.log.failure("Error handling a line from {peer}", failure, peer=self.peer)
            self._send(wire.error("Internal server error; that line was not processed."))

    # Events out.

    def receive(self, event: Event) -> None:
        """
        Show a domain event to this client (L{chat.domain.Participant}).
        """
        if self._closing:
            return
        if self._held is not None:
            self._held.append(self._encode(event))
        else:
            self._send(self._encode(event))

    # Before login: the first non-empty line is the nickname.

    def _login_line(self, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            return
        if self._claim is not None and not stripped.startswith("/"):
            self._check_password(self._claim, text)
            return
        nickname = stripped
        if stripped.startswith("/"):
            name, argument = _split_command(stripped)
            name = name.lower()
            if name == "nick":
                nickname = argument.strip()
                if not nickname:
                    raise Usage("/nick NICK")
            elif name == "login" and self._claim is not None:
                if not argument:
                    raise Usage("/login PASSWORD")
                self._check_password(self._claim, argument)
                return
            elif name == "quit":
                self._quit(None, argument)
                return
            elif name == "help":
                self._help(None, argument)
                return
            else:
                self._send(
                    wire.error(
                        "Choose a nickname first; until then only /nick, /help and /quit work."
                    )
                )
                return
        self._claim = None
        bans = self.service.bans
        banned = bans.find(NICK, nickname) if bans is not None else None
        if banned is not None:
            self._send(wire.error(f"The nickname {nickname} is banned{wire.ban(banned)}."))
            self._prompt()
            return
        accounts = self.service.accounts
        if accounts is None:
            self._log_in(nickname)
            return
        # Refuse what can be refused at once; then ask whether it is registered.
        self.chat.check_available(nickname)

        def registered(yes: bool) -> None:
            if yes:
                self._claim = nickname
                self._tries = 0
                self._ask_password(nickname)
            else:
                self._log_in(nickname)

        self._await(accounts.is_registered(nickname), registered)

    def _ask_password(self, nickname: str) -> None:
        self._send(
            wire.notice(f"{nickname} is registered. Send its password (or /login PASSWORD):")
        )

    def _check_password(self, nickname: str, password: str) -> None:
        accounts = self.service.accounts
        assert accounts is not None
        if not self.service.passwords_allowed(self.host):
            self._send(
                wire.error(f"Too many wrong passwords from {self.host}; try again later. Goodbye.")
            )
            self._close()
            return

        def right(registered: str) -> None:
            self._claim = None
            self.account = registered
            self.operator = registered.lower() in self.service.admins
            if self.operator:
                self.log.info("Operator {nickname} logged in", nickname=registered)
            self._log_in(registered)

        def wrong(failure: Failure) -> None:
            failure.trap(UnauthorizedLogin)
            self._tries += 1
            self.service.wrong_password(self.host)
            self.log.info(
                "Wrong password for {nickname} from {peer} (try {tries})",
                nickname=nickname,
                peer=self.peer,
                tries=self._tries,
            )
            left = PASSWORD_TRIES - self._tries
            if left <= 0:
                self._send(wire.error("Wrong password. Goodbye."))
                self._close()
                return
            self._send(
                wire.error(f"Wrong password; {left} {'try' if left == 1 else 'tries'} left.")
            )
            self._ask_password(nickname)

        self._await(accounts.authenticate(nickname, password), right, wrong)

    def _log_in(self, nickname: str) -> None:
        if self._closing:
            return
        user = self.user = self.chat.login(nickname, self)
        self._timer(self.service.idle_timeout)
        self.log.info("{peer} logged in as {nickname}", peer=self.peer, nickname=nickname)
        for line in self.service.motd:
            self._send(wire.notice(line))
        self._send(wire.notice("Type /help for the list of commands."))
        self._enter(self.chat.join(user, LOBBY).name)
        if self.account is not None and self.service.accounts is not None:
            self._read(
                self.service.accounts.collect(self.account),
                "Messages that came while you were away:",
                None,
                wire.kept_line,
                "End of messages.",
            )

    def _enter(self, room: str) -> None:
        self.room = room
        history = self.service.history
        if history is not None and self.service.history_lines > 0:
            self._read(
                history.recent(room, self.service.history_lines),
                f"Recent messages in {room}:",
                None,
            )

    def _read(
        self,
        entries: Deferred[list[Entry]],
        header: str,
        empty: str | None,
        render: Callable[[Entry], str] = wire.history_line,
        end: str = "End of history.",
    ) -> None:
        """
        Show stored messages once they are read, between C{header} and C{end}
        (or C{empty} alone, if there are none), holding live lines meanwhile.
        """
        self._reads += 1
        if self._held is None:
            self._held = []

        def show(found: list[Entry]) -> None:
            if found:
                self._send(wire.notice(header))
                for entry in found:
                    self._send(wire.encode(render(entry)))
                self._send(wire.notice(end))
            elif empty is not None:
                self._send(wire.notice(empty))

        def failed(failure: Failure) -> None:
            self.log.failure("Reading history for {peer}", failure, peer=self.peer)
            self._send(wire.error("History is unavailable right now."))

        def release() -> None:
            self._reads -= 1
            if self._reads == 0 and self._held is not None:
                held, self._held = self._held, None
                if not self._closing:
                    for data in held:
                        self._send(data)

        def settle(result: list[Entry] | Failure) -> None:
            try:
                if isinstance(result, Failure):
                    failed(result)
                else:
                    show(result)
            finally:
                release()

        # The history, and the live lines held meanwhile, go out as one write.
        self._settle(entries, settle)

    def _prompt(self) -> None:
        self._send(wire.notice(f"Choose a nickname ({wire.NICKNAME_RULES}):"))

    # After login.

    def _chat_line(self, user: User, text: str) -> None:
        if text.startswith("/") and not text.startswith("//"):
            name, argument = _split_command(text)
            command = _COMMANDS.get(name.lower())
            if command is None:
                self._send(wire.error(f"Unknown command /{name}; type /help for the list."))
                return
            command.run(self, user, argument)
            return
        if text.startswith("//"):
            text = text[1:]
        if self.service.log_messages:
            self.log.info("<{nickname}> {text}", nickname=user.nickname, text=text, room=self.room)
        self.chat.say(user, self.room, text)

    def _msg(self, user: User, argument: str) -> None:
        recipient, _, text = argument.strip().partition(" ")
        if not recipient or not clean(text).strip():
            raise Usage("/msg NICK TEXT")
        if self.service.log_messages:
            self.log.info(
                "*{nickname}* -> {recipient}: {text}",
                nickname=user.nickname,
                recipient=recipient,
                text=text,
            )
        try:
            self.chat.whisper(user, recipient, text)
        except NoSuchUser:
            accounts = self.service.accounts
            if accounts is None:
                raise
            text = clean(text)
            self._await(
                accounts.keep(user.nickname, recipient, text),
                lambda kept: self._kept(kept, recipient, text),
            )

    def _kept(self, kept: bool, recipient: str, text: str) -> None:
        if not kept:
            raise NoSuchUser(recipient)
        self._send(wire.notice(f"{recipient} is away; this will be delivered when they log in:"))
        self._send(wire.encode(f"-> *{recipient}* {text}"))

    def _me(self, user: User, argument: str) -> None:
        if not argument.strip():
            raise Usage("/me ACTION")
        if self.service.log_messages:
            self.log.info("* {nickname} {text}", nickname=user.nickname, text=argument)
        self.chat.act(user, self.room, argument)

    def _who(self, user: User, argument: str) -> None:
        if argument.strip() == "*":
            self._send(wire.notice(wire.who(self.chat.online())))
        elif argument.strip():
            raise Usage("/who [*]")
        else:
            self._send(wire.notice(wire.who(self.chat.members(self.room), f"in {self.room}")))

    def _join(self, user: User, argument: str) -> None:
        name = argument.strip()
        if not name:
            raise Usage("/join ROOM")
        if self._join_meter is not None and not self._join_meter.take():
            raise Refused("Too many room changes; wait a little.")
        self._enter(self.chat.move(user, self.room, name).name)
        self.log.info("{nickname} joined {room}", nickname=user.nickname, room=self.room)

    def _history(self, user: User, argument: str) -> None:
        count = HISTORY_DEFAULT
        if argument.strip():
            try:
                count = int(argument)
            except ValueError:
                raise Usage("/history [N]") from None
            if not 1 <= count <= HISTORY_MAX:
                raise Usage(f"/history [N], with N from 1 to {HISTORY_MAX}")
        history = self._history_or_error()
        self._read(
            history.recent(self.room, count),
            f"Last {count} messages in {self.room}:",
            f"No messages in {self.room} yet.",
        )

    def _search(self, user: User, argument: str) -> None:
        text = clean(argument).strip()
        if not text:
            raise Usage("/search TEXT")
        history = self._history_or_error()
        self._read(
            history.search(self.room, text, SEARCH_RESULTS),
            f"Messages in {self.room} matching {text!r}:",
            f"No messages in {self.room} match {text!r}.",
        )

    def _history_or_error(self) -> History:
        if self.service.history is None:
            raise Refused("This server keeps no history.")
        return self.service.history

    def _rooms(self, user: User, argument: str) -> None:
        for line in wire.rooms(self.chat.rooms()):
            self._send(wire.notice(line))

    def _topic(self, user: User, argument: str) -> None:
        if argument.strip():
            self.chat.set_topic(user, self.room, argument)
        else:
            self._send(wire.notice(wire.topic(self.room, self.chat.room(self.room).topic)))

    def _nick(self, user: User, argument: str) -> None:
        nickname = argument.strip()
        if not nickname:
            raise Usage("/nick NICK")
        if self._nick_meter is not None and not self._nick_meter.take():
            raise Refused("Too many nickname changes; wait a little.")
        accounts = self.service.accounts
        if accounts is None or (self.account or "").lower() == nickname.lower():
            self._rename(user, nickname)
            return
        if nickname.lower() != user.nickname.lower():
            self.chat.check_available(nickname)

        def registered(yes: bool) -> None:
            if yes:
                self._send(wire.error(f"{nickname} is registered; log in as {nickname} to use it."))
            else:
                self._rename(user, nickname)

        self._await(accounts.is_registered(nickname), registered)

    def _rename(self, user: User, nickname: str) -> None:
        old = user.nickname
        self.chat.rename(user, nickname)
        self.log.info("{old} is now {new}", old=old, new=nickname)

    def _register(self, user: User, argument: str) -> None:
        password = argument
        accounts = self._accounts_or_error()
        if not password.strip():
            raise Usage("/register PASSWORD")
        self._check_new_password(password)
        nickname = user.nickname

        def done(_: object) -> None:
            self.account = nickname
            self.log.info("{nickname} registered", nickname=nickname)
            self._send(
                wire.notice(
                    f"{nickname} is now registered: logging in as {nickname} "
                    "will ask for this password."
                )
            )

        def taken(failure: Failure) -> None:
            failure.trap(AlreadyRegistered)
            self._send(wire.error(f"{nickname} is registered already."))

        self._await(accounts.register(nickname, password), done, taken)

    def _password(self, user: User, argument: str) -> None:
        accounts = self._accounts_or_error()
        old, _, new = argument.partition(" ")
        if not old or not new:
            raise Usage("/password OLD NEW")
        self._check_new_password(new)
        nickname = user.nickname

        def done(_: object) -> None:
            self.log.info("{nickname} changed password", nickname=nickname)
            self._send(wire.notice("Your password is changed."))

        self._await(accounts.change_password(nickname, old, new), done, self._refused)

    def _unregister(self, user: User, argument: str) -> None:
        accounts = self._accounts_or_error()
        if not argument:
            raise Usage("/unregister PASSWORD")
        nickname = user.nickname

        def done(_: object) -> None:
            self.account = None
            self.log.info("{nickname} unregistered", nickname=nickname)
            self._send(wire.notice(f"{nickname} is no longer registered."))

        self._await(accounts.unregister(nickname, argument), done, self._refused)

    def _check_new_password(self, password: str) -> None:
        """
        Refuse, saying why, a new password that breaks the rules.
        """
        problem = password_problem(password)
        if problem is not None:
            raise Refused(f"Choose another password: {problem}.")

    def _refused(self, failure: Failure) -> None:
        failure.trap(UnauthorizedLogin)
        self._send(wire.error("Wrong password, or your nickname is not registered."))

    def _operator_only(self, command: str) -> None:
        if not self.operator:
            raise Refused(f"Only operators can use /{command}.")

    def _kick(self, user: User, argument: str) -> None:
        self._operator_only("kick")
        nickname, _, reason = argument.strip().partition(" ")
        if not nickname:
            raise Usage("/kick NICK [REASON]")
        target = self.chat.find(nickname)
        reason = clean(reason).strip()
        why = f"kicked by {user.nickname}" + (f": {reason}" if reason else "")
        self.log.info(
            "Operator {operator} kicked {target} ({reason})",
            operator=user.nickname,
            target=target.nickname,
            reason=reason or None,
        )
        if isinstance(target.participant, ChatProtocol):
            target.participant.kick(why)
        else:  # pragma: no cover (another front-end)
            self.chat.logout(target, why)
        self._send(wire.notice(f"{target.nickname} is kicked."))

    def kick(self, why: str) -> None:
        """
        Tell this user it is thrown out, and why; its room is told the same.
        """
        self._send(wire.error(f"You were {why}. Goodbye."))
        self._dropped = why
        self._close()

    def _ban(self, user: User, argument: str) -> None:
        self._operator_only("ban")
        bans = self._bans_or_error()
        target, _, rest = argument.strip().partition(" ")
        if not target:
            raise Usage("/ban NICK|ADDRESS [DURATION] [REASON]")
        first, _, more = rest.strip().partition(" ")
        duration = parse_duration(first)
        reason = clean(more if duration is not None else rest).strip() or None
        if _is_address(target):
            kind, shut_out = ADDRESS, [c for c in self.service.connections if c.host == target]
        else:
            kind, shut_out = NICK, []
            with contextlib.suppress(NoSuchUser):
                online = self.chat.find(target)
                target = online.nickname
                if isinstance(online.participant, ChatProtocol):
                    shut_out = [online.participant]
                    host = online.participant.host
                    if host is not None:
                        address = bans.add(ADDRESS, host, duration, reason, user.nickname)
                        self._send(wire.notice(f"{host} is banned{wire.ban(address)}."))
        ban = bans.add(kind, target, duration, reason, user.nickname)
        self.log.info(
            "Operator {operator} banned {kind} {target}{extent}",
            operator=user.nickname,
            kind=kind,
            target=target,
            extent=wire.ban(ban),
        )
        self._send(wire.notice(f"{target} is banned{wire.ban(ban)}."))
        for connection in shut_out:
            connection.kick(f"banned by {user.nickname}" + (f": {reason}" if reason else ""))

    def _unban(self, user: User, argument: str) -> None:
        self._operator_only("unban")
        bans = self._bans_or_error()
        target = argument.strip()
        if not target:
            raise Usage("/unban NICK|ADDRESS")
        if not bans.remove(ADDRESS if _is_address(target) else NICK, target):
            raise Refused(f"{target} is not banned.")
        self.log.info(
            "Operator {operator} lifted the ban on {target}", operator=user.nickname, target=target
        )
        self._send(wire.notice(f"{target} is no longer banned."))

    def _list_bans(self, user: User, argument: str) -> None:
        self._operator_only("bans")
        found = self._bans_or_error().all()
        self._send(wire.notice(f"{len(found)} ban{'' if len(found) == 1 else 's'}:"))
        for ban in found:
            self._send(wire.notice(f"  {ban.target} (by {ban.by}){wire.ban(ban)}"))

    def _bans_or_error(self) -> Bans:
        if self.service.bans is None:
            raise Refused("This server keeps no bans.")
        return self.service.bans

    def _wall(self, user: User, argument: str) -> None:
        self._operator_only("wall")
        if not clean(argument).strip():
            raise Usage("/wall TEXT")
        self.log.info(
            "Operator {operator} announced: {text}", operator=user.nickname, text=argument
        )
        self.chat.announce(user, argument)

    def _login(self, user: User, argument: str) -> None:
        self._send(wire.error("You are logged in already."))

    def _accounts_or_error(self) -> Accounts:
        if self.service.accounts is None:
            raise Refused("This server has no accounts.")
        return self.service.accounts

    def _help(self, user: User | None, argument: str) -> None:
        self._send(wire.notice("Commands:"))
        for command in _COMMAND_LIST:
            self._send(wire.notice(f"  {command.usage:<21} {command.summary}"))
        self._send(
            wire.notice(
                "  Any other line is sent to this room; start it with // to send a leading /."
            )
        )

    def _quit(self, user: User | None, argument: str) -> None:
        reason = argument.strip() or None
        self.user = None
        if user is not None:
            self.log.info("{nickname} ({peer}) quit", nickname=user.nickname, peer=self.peer)
            self.chat.logout(user, reason)
        self._send(wire.notice("Goodbye."))
        self._close()

    # Plumbing.

    def _send(self, data: bytes) -> None:
        # On every write to every recipient: keep it short.
        if self._closing:
            # Said on the way out: Twisted writes it before it closes.
            assert self.transport is not None
            self.transport.write(data)
        elif self._outbox.held:
            pending = self._pending
            if not pending:
                self._outbox.dirty.append(self)
            pending.append(data)
        elif not self._outflow.write(data):
            self._drop("too slow to keep up")

    def flush(self) -> None:
        """
        Write, as one piece, what this connection was told while the outbox was held.
        """
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if self._closing:
            # Dropped meanwhile: nobody is there to read it.
            return
        if not self._outflow.write(data):
            self._drop("too slow to keep up")

    def _drop(self, why: str) -> None:
        """
        Cut the connection at once; C{why} is what the others are told.
        """
        self._dropped = why
        self.log.warn(
            "Dropping {peer} ({nickname}): {why}",
            peer=self.peer,
            nickname=self.user.nickname if self.user else None,
            why=why,
        )
        self._closing = True
        self.abort()

    def _close(self) -> None:
        assert self.transport is not None
        # What was said before the goodbye goes out before it.
        self.flush()
        if not self._closing:
            # A TLS transport does not begin to close while a producer is registered.
            IConsumer(self.transport).unregisterProducer()
        self._closing = True
        self.transport.loseConnection()
        # loseConnection waits until everything is written: a client that
        # does not read would hold the connection open for ever.
        self._timer(CLOSE_GRACE)


class ChatFactory(Factory):
    """
    Builds a L{ChatProtocol} for each connection, all sharing one L{ChatService}.
    """

    # The service logs connections itself; "Starting factory <object at 0x...>" helps nobody.
    noisy = False

    def __init__(self, service: ChatService) -> None:
        self.service = service

    def buildProtocol(self, addr: IAddress | None) -> ChatProtocol:
        return ChatProtocol(self.service)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _split_command(text: str) -> tuple[str, str]:
    """
    Split C{"/name argument..."} into the name as typed and the argument; any
    white space (a telnet user's tab, say) ends the name.
    """
    parts = text[1:].split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


_COMMAND_LIST = (
    Command(
        ("msg", "whisper", "w", "tell"),
        "/msg NICK TEXT",
        "send TEXT to NICK only (also /whisper, /w, /tell)",
        ChatProtocol._msg,
    ),
    Command(("me",), "/me ACTION", "show this room what you do: * you ACTION", ChatProtocol._me),
    Command(
        ("who", "list", "users"),
        "/who [*]",
        "who is in this room; with *, everyone online (also /list, /users)",
        ChatProtocol._who,
    ),
    Command(("join",), "/join ROOM", "go to ROOM, creating it if need be", ChatProtocol._join),
    Command(("rooms",), "/rooms", "list the rooms, their sizes and topics", ChatProtocol._rooms),
    Command(("topic",), "/topic [TEXT]", "show this room's topic, or set it", ChatProtocol._topic),
    Command(
        ("history",),
        "/history [N]",
        f"show this room's last N messages (default {HISTORY_DEFAULT})",
        ChatProtocol._history,
    ),
    Command(
        ("search",), "/search TEXT", "find this room's messages with TEXT", ChatProtocol._search
    ),
    Command(
        ("register",),
        "/register PASSWORD",
        "protect your nickname with a password",
        ChatProtocol._register,
    ),
    Command(("password",), "/password OLD NEW", "change your password", ChatProtocol._password),
    Command(
        ("unregister",),
        "/unregister PASSWORD",
        "give up your nickname's registration",
        ChatProtocol._unregister,
    ),
    Command(
        ("login",), "/login PASSWORD", "prove a registered nickname is yours", ChatProtocol._login
    ),
    Command(("kick",), "/kick NICK [REASON]", "operators: throw NICK out", ChatProtocol._kick),
    Command(("wall",), "/wall TEXT", "operators: tell everyone, in every room", ChatProtocol._wall),
    Command(
        ("ban",),
        "/ban WHO [TIME] [WHY]",
        "operators: shut out a nickname or address (TIME: 30m, 2h, 7d...)",
        ChatProtocol._ban,
    ),
    Command(("unban",), "/unban WHO", "operators: lift a ban", ChatProtocol._unban),
    Command(("bans",), "/bans", "operators: list the bans", ChatProtocol._list_bans),
    Command(("nick",), "/nick NICK", "change your nickname", ChatProtocol._nick),
    Command(("help",), "/help", "show this list", ChatProtocol._help),
    Command(("quit",), "/quit [REASON]", "leave the chat", ChatProtocol._quit),
)
_COMMANDS = {name: command for command in _COMMAND_LIST for name in command.names}
