"""
End-to-end tests of the terminal client: the real C{chat-client} process under
a pseudo-terminal, a real server on loopback, and the screen read back through
a terminal emulator (pyte), as a person would see it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
from collections.abc import Callable
from typing import Any

import pyte
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from chat.core.interfaces import HistoryReader
from chat.core.service import Settings
from chat.line.protocol import LineFactory
from chat.store.history import History
from tests.helpers import SyncPool, connections, new_service, stream_of
from tests.live import TIMEOUT, RawClient, hang_up, reactor

COLUMNS, ROWS = 80, 24


class TerminalUser(ProcessProtocol):
    """
    The client in a pseudo-terminal of 80x24: keys go in, and what comes out
    is drawn on an emulated screen that tests can wait on.
    """

    def __init__(self) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.ended: Deferred[int] = Deferred()
        self._waiting: list[tuple[Callable[[], bool], Deferred[None]]] = []

    @classmethod
    def start(cls, port: int, *arguments: str) -> tuple[TerminalUser, int]:
        """
        The user, and a descriptor of the terminal's master side to read its modes through.
        """
        user = cls()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        name = os.ttyname(slave)
        watcher = os.dup(master)
        environ = {key: value for key, value in os.environ.items() if key != "NO_COLOR"}
        environ["TERM"] = "xterm-256color"
        argv = [sys.executable, "-m", "chat.client", f"127.0.0.1:{port}", *arguments]
        reactor.spawnProcess(user, sys.executable, argv, env=environ, usePTY=(master, slave, name))
        return user, watcher

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.rows())

    def input_row(self) -> str:
        return self.rows()[self.screen.cursor.y]

    def type(self, keys: bytes) -> None:
        assert self.transport is not None
        self.transport.write(keys)

    def wait_until(self, shown: Callable[[], bool]) -> Deferred[None]:
        waiting: Deferred[None] = Deferred()
        if shown():
            waiting.callback(None)
            return waiting
        self._waiting.append((shown, waiting))

        def explain(failure: Failure) -> Failure:
            self._waiting = [entry for entry in self._waiting if entry[1] is not waiting]
            print("The screen was:\n" + self.text(), file=sys.stderr)
            return failure

        return waiting.addTimeout(TIMEOUT, reactor).addErrback(explain)

    def wait_for_text(self, text: str) -> Deferred[None]:
        return self.wait_until(lambda: text in self.text())

    def outReceived(self, data: bytes) -> None:
        self.stream.feed(data)
        for entry in list(self._waiting):
            if entry[0]():
                self._waiting.remove(entry)
                entry[1].callback(None)

    def processEnded(self, reason: Failure) -> None:
        status = reason.value
        assert isinstance(status, (ProcessDone, ProcessTerminated))
        self.ended.callback(-1 if status.exitCode is None else status.exitCode)


class LaterPool:
    """
    A database thread's reads, answered a moment after they are asked.
    """

    def __init__(self, pool: SyncPool) -> None:
        self.pool = pool
        self.sql = pool.sql

    def runInteraction(self, interaction: Callable[..., Any], *args: Any) -> Deferred[Any]:
        result = self.pool.runInteraction(interaction, *args)
        return deferLater(reactor, 0.05, lambda: None).addCallback(lambda _: result)

    def submit(
        self, interaction: Callable[..., Any], *args: Any, failed: Callable[[Failure], None]
    ) -> None:
        self.pool.submit(interaction, *args, failed=failed)

    def close(self) -> None:
        pass


def terminal_modes(fd: int) -> tuple[bool, bool]:
    """
    Whether the terminal echoes and edits lines itself (as a shell needs it to).
    """
    flags = termios.tcgetattr(fd)[3]
    return bool(flags & termios.ECHO), bool(flags & termios.ICANON)


class TerminalClientTests(TestCase):
    async def serve(
        self, port: int = 0, history: HistoryReader | None = None, **settings: Any
    ) -> int:
        service = new_service(reactor, Settings(server_name="pty", **settings), history=history)
        service.startService()
        endpoint = TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
        listening: IListeningPort = await endpoint.listen(LineFactory(service))
        self.service = service
        self.listening = listening
        self.addCleanup(self.stop_serving)
        return listening.getHost().port  # type: ignore[attr-defined, no-any-return]

    async def stop_serving(self) -> None:
        if self.service.running:
            await maybeDeferred(self.listening.stopListening)
            await self.service.stopService()

    async def user(self, port: int, nickname: str) -> RawClient:
        client = RawClient()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        self.addCleanup(hang_up, client)
        client.send(nickname)
        await client.wait_for(lambda line: line.startswith(f"*** You are {nickname}."))
        return client

    def kill_on_cleanup(self, user: TerminalUser) -> None:
        def kill() -> Deferred[int] | None:
            if user.ended.called:
                return None
            assert user.transport is not None
            user.transport.signalProcess("KILL")
            return user.ended

        self.addCleanup(kill)

    async def test_message_arrives_while_typing(self) -> None:
        """
        Another user's message arrives while a line is half-typed: the screen
        shows the message, and below it the intact half-typed line with the
        cursor after it. Enter sends it; Ctrl-C quits with the terminal restored.
        """
        port = await self.serve()
        alice, tty = TerminalUser.start(port, "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        self.assertEqual(terminal_modes(tty), (False, False))  # raw while it runs
        alice.type("half-typed 世界 ".encode())
        await alice.wait_until(lambda: alice.input_row().endswith("世界"))
        bob = await self.user(port, "bob")
        await alice.wait_for_text("*** bob has joined")
        bob.send("ping from bob")
        await alice.wait_for_text("<bob> ping from bob")
        rows = alice.rows()
        # Each live line has its local time in front.
        [message_row] = [i for i, row in enumerate(rows) if row.endswith("<bob> ping from bob")]
        self.assertRegex(rows[message_row], r"^\d\d:\d\d <bob> ping from bob$")
        self.assertEqual(rows[message_row + 1], "[alice@lobby] half-typed 世界")
        self.assertEqual(alice.screen.cursor.y, message_row + 1)
        self.assertEqual(alice.screen.cursor.x, len("[alice@lobby] half-typed ") + 4 + 1)
        alice.type(b"done\r")
        await bob.wait_line("<alice> half-typed 世界 done")
        await alice.wait_for_text("<alice> half-typed 世界 done")
        alice.type(b"\x03")
        self.assertEqual(await alice.ended, 0)
        await bob.wait_line("*** alice has left")
        self.assertEqual(terminal_modes(tty), (True, True))

    async def test_nickname_question_asked_once(self) -> None:
        """
        The server's question for a nickname is not shown when the client
        answered it with the nickname it was given; when the server refuses
        that one (taken), the question is shown once, and the user answers it.
        """
        port = await self.serve()
        await self.user(port, "bob")
        alice, tty = TerminalUser.start(port, "bob")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_for_text("!!! The nickname bob is taken.")
        await alice.wait_until(lambda: alice.input_row() == "[nickname?]")
        self.assertEqual(alice.text().count("*** Choose a nickname"), 1)
        self.assertLess(alice.text().index("taken"), alice.text().index("Choose a nickname"))
        alice.type(b"alice\r")
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        self.assertEqual(alice.text().count("*** Choose a nickname"), 1)
        alice.type(b"\x04")
        self.assertEqual(await alice.ended, 0)

    async def test_sigterm_restores_the_terminal(self) -> None:
        """
        A client stopped by SIGTERM leaves the terminal as it found it.
        """
        port = await self.serve()
        alice, tty = TerminalUser.start(port, "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        self.assertEqual(terminal_modes(tty), (False, False))
        assert alice.transport is not None
        alice.transport.signalProcess("TERM")
        await alice.ended
        self.assertEqual(terminal_modes(tty), (True, True))

    async def test_reconnects_to_a_restarted_server(self) -> None:
        """
        The server is stopped and started again on the same port: the client
        says so, reconnects by itself, logs in as the same nickname and goes
        back to its room.
        """
        port = await self.serve()
        alice, tty = TerminalUser.start(port, "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        alice.type(b"/join den\r")
        await alice.wait_until(lambda: alice.input_row() == "[alice@den]")
        await self.stop_serving()
        await alice.wait_for_text("*** The server is shutting down. Goodbye.")
        await alice.wait_for_text("reconnecting in")
        await alice.wait_until(lambda: alice.input_row().startswith("[offline]"))
        await self.serve(port)
        await alice.wait_until(lambda: alice.text().count("*** You are alice.") == 2)
        await alice.wait_until(lambda: alice.input_row() == "[alice@den]")
        bob = await self.user(port, "bob")
        bob.send("/join den")
        await alice.wait_for_text("*** bob has joined")
        alice.type(b"welcome back\r")
        await bob.wait_line("<alice> welcome back")
        alice.type(b"\x04")
        self.assertEqual(await alice.ended, 0)

    async def test_quit_ends_the_client(self) -> None:
        """
        /quit typed in the terminal ends the client with status 0; the room
        sees it leave once, with the reason, and never come back.
        """
        port = await self.serve()
        bob = await self.user(port, "bob")
        alice, tty = TerminalUser.start(port, "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        await bob.wait_line("*** alice has joined")
        alice.type(b"/quit bbl\r")
        self.assertEqual(await alice.ended, 0)
        await bob.wait_line("*** alice has left (bbl)")
        bob.send("/who")
        await bob.wait_line("*** 1 user in lobby: bob")
        self.assertEqual(terminal_modes(tty), (True, True))

    async def test_goodbye_is_final(self) -> None:
        """
        Closed on purpose by the server (here: idle too long), the terminal
        client says why and ends with status 1, without reconnecting.
        """
        port = await self.serve(idle_timeout=1.0)
        alice, tty = TerminalUser.start(port, "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        self.assertEqual(await alice.ended, 1)
        self.assertIn(
            "-- the server closed the connection: Idle for 1 second. Goodbye.", alice.text()
        )
        self.assertEqual(alice.text().count("*** You are alice."), 1)

    async def test_no_reconnect(self) -> None:
        """
        With --no-reconnect the client ends (status 1) when the server goes away.
        """
        port = await self.serve()
        alice, tty = TerminalUser.start(port, "--no-reconnect", "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        await self.stop_serving()
        self.assertEqual(await alice.ended, 1)
        self.assertIn("-- the connection to the server was closed.", alice.text())
        self.assertEqual(terminal_modes(tty), (True, True))

    async def test_since_you_left_is_cut_per_room(self) -> None:
        """
        Reconnected into a room other than lobby, the client shows that room's
        entry, then only what was said there since the last line it showed
        (not lobby's lines, nor the room's lines it showed already, its own included).
        """
        pool = SyncPool(self.mktemp())
        # History read a moment later, as a database thread does: the server
        # reads lobby's and the room's at once, as the client goes back.
        history = History(pool, reactor, interval=0, reader=LaterPool(pool))
        port = await self.serve(history=history)
        carol = await self.user(port, "carol")
        carol.send("an old lobby line")
        alice, tty = TerminalUser.start(port, "alice")
        self.addCleanup(os.close, tty)
        self.kill_on_cleanup(alice)
        await alice.wait_for_text("<carol> an old lobby line")
        await alice.wait_until(lambda: alice.input_row() == "[alice@lobby]")
        alice.type(b"/join games\r")
        await alice.wait_until(lambda: alice.input_row() == "[alice@games]")
        bob = await self.user(port, "bob")
        bob.send("/join games")
        await alice.wait_for_text("*** bob has joined")
        bob.send("a games line alice sees")
        await alice.wait_for_text("<bob> a games line alice sees")
        alice.type(b"my own games line\r")
        await bob.wait_line("<alice> my own games line")
        carol.send("lobby news alice never saw")
        # The server stops taking connections, and alice's is lost.
        await maybeDeferred(self.listening.stopListening)
        [connection] = [
            c
            for c in connections(self.service)
            if c.session.user and c.session.user.nickname == "alice"
        ]
        transport: Any = stream_of(connection).transport
        transport.abortConnection()
        await alice.wait_until(lambda: alice.input_row().startswith("[offline]"))
        await bob.wait_line("*** alice has left (connection lost)")
        bob.send("said while alice was away")
        endpoint = TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
        self.listening = await endpoint.listen(LineFactory(self.service))
        await alice.wait_until(lambda: alice.input_row() == "[alice@games]")
        await alice.wait_for_text("said while alice was away")
        rows = [row for row in alice.rows() if row]
        back = max(i for i, row in enumerate(rows) if "*** You are alice." in row)
        after = "\n".join(rows[back:])
        self.assertNotIn("lobby news", after)
        self.assertNotIn("old lobby line", after)
        self.assertNotIn("a games line alice sees", after)
        self.assertNotIn("my own games line", after)
        self.assertRegex(
            after,
            r"\*\*\* You are in games\. [^\n]*\n"
            r"-- since you left:\n"
            r"\[\d\d:\d\d\] <bob> said while alice was away\n\[alice@games\]$",
        )
