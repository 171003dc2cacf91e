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
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from chat.core.service import Settings
from chat.line.protocol import LineFactory
from tests.helpers import new_service
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


def terminal_modes(fd: int) -> tuple[bool, bool]:
    """
    Whether the terminal echoes and edits lines itself (as a shell needs it to).
    """
    flags = termios.tcgetattr(fd)[3]
    return bool(flags & termios.ECHO), bool(flags & termios.ICANON)


class TerminalClientTests(TestCase):
    async def serve(self, port: int = 0, **settings: Any) -> int:
        service = new_service(reactor, Settings(server_name="pty", **settings))
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
            "-- the server closed the connection: Idle for 1 seconds. Goodbye.", alice.text()
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
