"""
The client's connection to the server, independent of how it is shown.

A L{Session} connects, logs in, relays lines both ways, and when the server
goes away either ends (status 1) or reconnects with exponential backoff and
jitter, logging in again as the same nickname (with the password typed
earlier, if the server asks for it) and going back to the same room. What
the user sees is up to a L{Display}: plain lines in a pipe, a screen in a
terminal.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any, Protocol

from OpenSSL import SSL
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as ConnectTimeout
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat.client.reading import LOBBY, Tracker, is_nickname_question
from chat.core.limits import HUMAN, Rate, TokenBucket
from chat.net.framing import LineBuffer

QUIT_GRACE_SECONDS = 5.0

assert HUMAN.lines is not None
PACE = Rate(HUMAN.lines.rate * 0.9, HUMAN.lines.burst - 1)
"""
How fast the client sends: a little under the server's default flood limit
(5 lines a second, bursts of 20), so that a paste is never cut or kicked; a
server that says its limit is other (in its "sending too fast" notice) is
followed instead.
"""

_TOO_FAST = re.compile(
    r"!!! You are sending too fast \(at most ([\d.]+) lines? a second, bursts of (\d+)\)"
)

CONNECTING = "connecting"
ONLINE = "online"
OFFLINE = "offline"


class Display(Protocol):
    """
    Where a session shows what happens.
    """

    def server_line(self, line: bytes) -> None:
        """
        A line from the server, without its terminator.
        """

    def failed(self, sentence: str) -> None:
        """
        The session could not go on: why, in one sentence.
        """

    def note(self, sentence: str) -> None:
        """
        Something the client itself has to say (reconnecting, ...).
        """

    def sent(self, line: bytes) -> None:
        """
        A line the user typed has gone to the server (pasted lines go at
        the server's pace, so this may be a while after it was typed).
        """

    def state_changed(self) -> None:
        """
        The session's state, nickname or room changed.
        """


class Backoff:
    """
    Delays between reconnection attempts: doubling from C{initial} up to
    C{cap}, each multiplied by a random factor between 0.5 and 1 so that
    clients dropped together do not come back together.
    """

    def __init__(
        self,
        initial: float = 0.5,
        cap: float = 30.0,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.initial = initial
        self.cap = cap
        self._uniform = uniform
        self._attempts = 0

    def next(self) -> float:
        base = min(self.cap, self.initial * 2**self._attempts)
        self._attempts = min(self._attempts + 1, 32)
        return float(base * self._uniform(0.5, 1.0))

    def reset(self) -> None:
        self._attempts = 0


Connector = Callable[["ServerConnection"], "Deferred[Any]"]


class Session:
    """
    Joins a display to the server and decides how the client ends.

    @ivar state: L{CONNECTING}, L{ONLINE} or L{OFFLINE}.
    @ivar tracker: what the server has told us about ourselves.
    @ivar finished: fires with the exit status.
    """

    log = Logger()

    def __init__(
        self,
        clock: IReactorTime,
        connect: Connector,
        nickname: str | None,
        backoff: Backoff | None = None,
        address: str = "the server",
    ) -> None:
        self.clock = clock
        self._connect = connect
        self.nickname = nickname
        self.backoff = backoff
        self.address = address
        self.tracker = Tracker()
        self.state = CONNECTING
        self.finished: Deferred[int] = Deferred()
        self.server: ServerConnection | None = None
        self.display: Display | None = None
        self._quitting = False
        self._grace: IDelayedCall | None = None
        self._retry: IDelayedCall | None = None
        self._was_online = False
        # Replayed on reconnection only: a password the server accepted for
        # a nickname (typed at its prompt, or given to /register or
        # /password), and the room. One the server refused is never sent
        # again: wrong passwords lock out a nickname, then its address.
        self._password: tuple[str, bytes] | None = None
        # A password given and not yet accepted or refused.
        self._offered: tuple[str, bytes] | None = None
        self._rejoin: str | None = None
        self._relogging = False
        # Lines typed before the first connection is made wait for it.
        self._early: list[bytes] = []
        # Lines over the pace wait here, each with whether to show it as sent.
        self._pace = TokenBucket(PACE, clock)
        self._outgoing: list[tuple[bytes, bool]] = []
        self._pacing: IDelayedCall | None = None
        # The server's last word when it closed the connection on purpose.
        self._goodbye: str | None = None
        # Whether the server has said anything yet (on any connection).
        self._heard = False
        # Whether the nickname was sent as the connection was made, so that
        # the server's first question for one is answered already (a
        # terminal need not show it: only the question asked again).
        self.nickname_sent = False

    def attach(self, display: Display) -> None:
        self.display = display

    def start(self) -> Deferred[int]:
        """
        Connect; a first connection that fails ends the session with status 1.
        """
        self._attempt()
        return self.finished

    def _attempt(self) -> None:
        self._retry = None
        self._set_state(CONNECTING)
        self._connect(ServerConnection(self)).addErrback(self._not_connected)

    def _not_connected(self, reason: Failure) -> None:
        if self.finished.called:
            return
        if not self._was_online:
            why = reason.getErrorMessage().rstrip(".")
            self._fail(f"cannot connect to {self.address}: {why}.")
        elif not self._quitting:
            # One short line an attempt: the server's address was said before.
            delay = self._retry_later()
            self._say(f"cannot reconnect ({_briefly(reason)}); trying again in {delay:.1f} s.")
        else:
            self._finish(0)

    def connected(self, server: ServerConnection) -> None:
        self.server = server
        self._relogging = self._was_online
        self._was_online = True
        self._set_state(ONLINE)
        nickname = self.tracker.nickname or self.nickname
        if nickname:
            self._send(nickname.encode("utf-8"))
            self.nickname_sent = True
        early, self._early = self._early, []
        for line in early:
            self._send(line)
        if self._quitting:
            self._say_goodbye()

    def typed(self, line: bytes) -> bool:
        """
        A line the user typed goes to the server as it is. Returns whether it
        was taken: lines typed before the first connection wait for it, but
        none is taken while reconnecting, nor after quitting.
        """
        if self._quitting:
            return False
        if self.server is None:
            if self._was_online:
                return False
            self._early.append(line)
            return True
        secret = False
        if self.tracker.password_for is not None:
            self._offered = (self.tracker.password_for, line)
            self.tracker.password_for = None
            secret = True
        elif self.tracker.nickname is not None and (match := _NEW_PASSWORD.match(line)):
            self._offered = (self.tracker.nickname, match.group(1) or match.group(2))
        self._send(line, shown=not secret)
        if _QUIT.match(line):
            # The user asked to leave: once the server lets go, the client ends.
            self._quitting = True
            self._start_grace()
        return True

    def server_line(self, line: bytes) -> None:
        self._heard = True
        text = line.decode("utf-8", "replace")
        if match := _TOO_FAST.match(text):
            # The server's own limit: keep under it from now on.
            rate, burst = float(match.group(1)), int(match.group(2))
            self._pace = TokenBucket(Rate(rate * 0.9, max(1, burst - 1)), self.clock)
            self._pace.tokens = 0.0
        if text.startswith("!!! ") and text.endswith("Goodbye."):
            # The server's last word before it closes on purpose (docs/protocol.md).
            self._goodbye = text[4:]
        self._password_answered(text)
        before = (self.tracker.nickname, self.tracker.room)
        self.tracker.read(text)
        if self.display is not None:
            self.display.server_line(line)
        if self.nickname_sent and is_nickname_question(text):
            self.nickname_sent = False
        if self._relogging:
            self._log_in_again(text)
        if (self.tracker.nickname, self.tracker.room) != before:
            self._state_changed()

    def _password_answered(self, text: str) -> None:
        """
        Keep the password offered once the server accepts it; forget it (and
        any kept for that nickname) once the server refuses it.
        """
        offered = self._offered
        if offered is None:
            return
        if text.startswith("!!! Wrong password"):
            self._offered = None
            if offered is self._password:
                # The kept one, replayed, is wrong now (changed elsewhere).
                self._password = None
        elif (
            text.startswith(f"*** You are {offered[0]}.")
            or text.startswith(f"*** {offered[0]} is now registered")
            or text == "*** Your password is changed."
        ):
            self._password, self._offered = offered, None

    def _log_in_again(self, text: str) -> None:
        """
        After a reconnection: give the password the user typed before, when
        asked for it, and go back to the room the user was in.
        """
        asked = self.tracker.password_for
        if asked is not None and self._password is not None and self._password[0] == asked:
            self.tracker.password_for = None
            self._offered = self._password
            self._send(self._password[1])
        elif text.startswith("*** You are in "):
            self._relogging = False
            if self.backoff is not None:
                self.backoff.reset()
            if self._rejoin not in (None, LOBBY, self.tracker.room):
                self._send(b"/join " + self._rejoin.encode("utf-8"))

    def quit(self) -> None:
        """
        The user is leaving: say goodbye to the server and wait for its
        answer (not for ever); while disconnected, just stop trying.
        """
        if self.finished.called or self._quitting:
            return
        self._quitting = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self.server is not None:
            self._say_goodbye()
        elif self.state == OFFLINE:
            self._finish(0)

    def _say_goodbye(self) -> None:
        self._send(b"/quit")
        self._start_grace()

    def _start_grace(self) -> None:
        """
        Wait for the server to let go after /quit: not for ever, but long
        enough for the lines still waiting their turn to go before it.
        """
        behind = len(self._outgoing) / self._pace.limit.rate
        self._grace = self.clock.callLater(QUIT_GRACE_SECONDS + behind, self._give_up_waiting)

    def _give_up_waiting(self) -> None:
        self._grace = None
        if self.server is not None and self.server.transport is not None:
            self.server.transport.loseConnection()

    def server_gone(self, reason: Failure) -> None:
        self.server = None
        unsent = sum(1 for _, shown in self._outgoing if shown)
        self._outgoing = []
        if self._pacing is not None and self._pacing.active():
            self._pacing.cancel()
        if unsent and not self._quitting:
            lines = "1 line" if unsent == 1 else f"{unsent} lines"
            self._say(f"{lines} you typed could not be sent before the connection ended.")
        if self.tracker.room is not None:
            self._rejoin = self.tracker.room
        self.tracker.logged_out()
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self.finished.called:
            return
        # Checked before quitting: a pipe whose input has ended is quitting,
        # and must still say why it never got to talk.
        if reason.check(SSL.Error):
            self._fail(_tls_problem(str(reason.value), self.address))
            return
        if not self._heard:
            self._fail(
                f"{self.address} closed the connection without a word (a TLS port? then use --tls)."
            )
            return
        if self._quitting:
            self._finish(0)
            return
        if self._goodbye is not None:
            # Kicked, banned, timed out, refused: coming back at once would
            # only be refused again (or annoy the room); say so and end.
            self._fail(f"the server closed the connection: {self._goodbye}")
            return
        how = "closed" if reason.check(ConnectionDone) else "lost"
        if self.backoff is None:
            self._fail(f"the connection to the server was {how}.")
        else:
            self._wait_and_retry(f"the connection to the server was {how}")

    def _wait_and_retry(self, what: str) -> None:
        delay = self._retry_later()
        self._say(f"{what}; reconnecting in {delay:.1f} s (Ctrl-C to quit).")

    def _retry_later(self) -> float:
        """
        Try to connect again after the backoff's next delay, which is returned.
        """
        assert self.backoff is not None
        delay = self.backoff.next()
        self._set_state(OFFLINE)
        self._retry = self.clock.callLater(delay, self._attempt)
        return delay

    def _send(self, line: bytes, shown: bool = False) -> None:
        """
        Send C{line} now, or (over the pace: a paste) once its turn comes;
        C{shown}: the display is told when it goes, to show it as sent.
        """
        if self._outgoing or not self._pace.take():
            self._outgoing.append((line, shown))
            self._pace_next()
            return
        self._write(line, shown)

    def _write(self, line: bytes, shown: bool) -> None:
        assert self.server is not None
        self.server.sendLine(line)  # type: ignore[no-untyped-call]
        if shown and self.display is not None:
            self.display.sent(line)

    def _pace_next(self) -> None:
        if self._pacing is None or not self._pacing.active():
            self._pacing = self.clock.callLater(max(self._pace.wait(), 0.001), self._paced)

    def _paced(self) -> None:
        self._pacing = None
        while self._outgoing and self.server is not None and self._pace.take():
            self._write(*self._outgoing.pop(0))
        if self._outgoing:
            self._pace_next()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._state_changed()

    def _state_changed(self) -> None:
        if self.display is not None:
            self.display.state_changed()

    def _say(self, sentence: str) -> None:
        if self.display is not None:
            self.display.note(sentence)

    def _fail(self, sentence: str) -> None:
        if self.display is not None:
            self.display.failed(sentence)
        self._finish(1)

    def _finish(self, status: int) -> None:
        if not self.finished.called:
            self.finished.callback(status)


def _briefly(reason: Failure) -> str:
    """
    Why a connection could not be made, in a few words (Twisted's messages
    run to a line: "Connection was refused by other side: 111: Connection
    refused.").
    """
    if reason.check(DNSLookupError):
        return "unknown host"
    if reason.check(ConnectTimeout, TCPTimedOutError):
        return "no answer"
    last = reason.getErrorMessage().rstrip(". ").rsplit(": ", 1)[-1]
    return last[:1].lower() + last[1:] if last else "failed"


def _tls_problem(error: str, address: str) -> str:
    """
    What went wrong with TLS, in one sentence: a certificate that cannot be
    verified, or (anything else, "wrong version number" above all) a server
    that does not speak TLS there.
    """
    if "certificate" in error:
        return "the server's TLS certificate could not be verified; not connecting."
    return f"{address} does not speak TLS (without --tls the client connects in plain text)."


_NEW_PASSWORD = re.compile(rb"\s*/(?:register\s+(\S+)|password\s+\S+\s+(\S+))\s*$", re.IGNORECASE)
"""
A line that sets the password of the user's nickname: /register PASSWORD, /password OLD NEW.
"""

_QUIT = re.compile(rb"\s*/quit(\s|$)", re.IGNORECASE)
"""
A line that asks the server to end the session.
"""


class ServerConnection(LineReceiver):
    """
    The connection to the chat server: whole lines to the session, and a
    mistake of ours in handling one is logged, not a lost connection.
    """

    delimiter = b"\r\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lines = LineBuffer(self.MAX_LENGTH)

    def connectionMade(self) -> None:
        self.session.connected(self)

    def dataReceived(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            if isinstance(line, bytes):
                try:
                    self.session.server_line(line)
                except Exception:
                    self.session.log.failure("Could not show a line from the server")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.session.server_gone(reason)
