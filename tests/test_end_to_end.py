"""
End-to-end tests: real loopback TCP, several raw clients, the bundled client,
and twistd itself as a subprocess.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.interfaces import IListeningPort, IPushProducer
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat.core.service import Settings
from chat.line.protocol import LineFactory
from chat.net import backpressure
from chat.net.backpressure import DirectOutflow
from chat.net.connection import budget_for
from tests.helpers import connections, new_service, stream_of
from tests.live import (
    TIMEOUT,
    RawClient,
    TwistdRunner,
    connect_raw,
    hang_up,
    in_lobby,
    reactor,
    send_and_half_close,
    spawn_client,
    start_twistd,
)


def said_by_sender(n: int) -> Callable[[str], bool]:
    """
    Whether a line is the sender's line number C{n}.
    """
    prefix = f"<sender> {n:06d} "
    return lambda line: line.startswith(prefix)


class LoopbackTests(TestCase):
    """
    The server on a real loopback port, with real sockets.
    """

    async def start(self, **options: Any) -> int:
        self.service = new_service(reactor, Settings(server_name="loop", **options))
        self.service.startService()
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        port: IListeningPort = await endpoint.listen(LineFactory(self.service))
        self.addCleanup(port.stopListening)
        self.addCleanup(self.service.stopService)
        return port.getHost().port  # type: ignore[attr-defined, no-any-return]

    async def connect(self, port: int, nickname: str | None = None) -> RawClient:
        client = RawClient()
        await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
        self.addCleanup(hang_up, client)
        await client.wait_for(lambda line: line.startswith("*** Choose a nickname"))
        if nickname is not None:
            client.send(nickname)
            await client.wait_for(lambda line: line.startswith(f"*** You are {nickname}."))
        return client

    async def test_three_users_chat(self) -> None:
        """
        Three clients log in, broadcast, whisper, list, rename and quit over
        real TCP, and each sees exactly what the protocol promises.
        """
        port = await self.start()
        alice = await self.connect(port, "alice")
        bob = await self.connect(port, "bob")
        await alice.wait_line("*** bob has joined")
        carol = await self.connect(port, "carol")
        await bob.wait_line("*** carol has joined")

        alice.send("hello, all")
        await bob.wait_line("<alice> hello, all")
        await carol.wait_line("<alice> hello, all")

        bob.send("/msg carol secret")
        await carol.wait_line("*bob* secret")
        await bob.wait_line("-> *carol* secret")

        carol.send("/who")
        await carol.wait_line("*** 3 users in lobby: alice, bob, carol")
        carol.send("/nick caroline")
        await alice.wait_line("*** carol is now known as caroline")

        alice.send("/quit see you")
        await alice.wait_line("*** Goodbye.")
        await alice.closed
        await bob.wait_line("*** alice has left (see you)")
        await carol.wait_line("*** alice has left (see you)")
        self.assertNotIn("<alice> hello, all", alice.lines)
        self.assertNotIn("*bob* secret", alice.lines + bob.lines)
        self.assertEqual(bob.lines.count("*** alice has left (see you)"), 1)

    async def test_disconnect_announced_once(self) -> None:
        """
        A client that vanishes (socket closed without /quit) is announced once.
        """
        port = await self.start()
        alice = await self.connect(port, "alice")
        bob = await self.connect(port, "bob")
        assert bob.transport is not None
        bob.transport.loseConnection()
        await alice.wait_line("*** bob has left (connection closed)")
        alice.send("/who")
        await alice.wait_line("*** 1 user in lobby: alice")
        self.assertEqual(
            [x for x in alice.lines if "bob has left" in x],
            ["*** bob has left (connection closed)"],
        )

    async def test_tcp_nodelay_on_server_side(self) -> None:
        """
        Every server-side TCP connection has Nagle's algorithm switched off.
        """
        port = await self.start()
        await self.connect(port, "alice")
        [connection] = connections(self.service)
        self.assertTrue(stream_of(connection).transport.getTcpNoDelay())  # type: ignore[union-attr]

    async def test_shutdown_notice(self) -> None:
        """
        Stopping the service tells every connected user before closing.
        """
        port = await self.start()
        alice = await self.connect(port, "alice")
        waiting = await self.connect(port)
        await self.service.stopService()
        for client in (alice, waiting):
            await client.closed
            self.assertEqual(client.lines[-1], "*** The server is shutting down. Goodbye.")

    async def test_client_that_never_reads(self) -> None:
        """
        A client that stops reading while another sends 100 000 messages is
        dropped once its send queue is full; the others receive every message,
        in order, and are told why it went.
        """
        port = await self.start()
        stuck = await self.connect(port, "stuck")
        readers = [await self.connect(port, name) for name in ("alice", "bob")]
        sender = await self.connect(port, "sender")
        assert stuck.transport is not None and sender.transport is not None
        IPushProducer(stuck.transport).pauseProducing()  # reads nothing from here on
        [server_side] = [
            c
            for c in connections(self.service)
            if c.session.user and c.session.user.nickname == "stuck"
        ]
        peak = [0]
        server_transport: Any = stream_of(server_side).transport
        original_write = server_transport.write

        def measured_write(data: bytes) -> None:
            original_write(data)
            buffered = len(server_transport.dataBuffer) + server_transport._tempDataLen
            peak[0] = max(peak[0], buffered)

        self.patch(server_transport, "write", measured_write)
        total = 100_000
        # Paced as a chat is (and as flood control would have it): each block
        # waits until the readers have the one before.
        for start in range(0, total, 1000):
            sender.transport.write(
                b"".join(b"message %06d %s\n" % (n, b"." * 80) for n in range(start, start + 1000))
            )
            for reader in readers:
                await reader.wait_line(f"<sender> message {start + 999:06d} {'.' * 80}")
        for reader in readers:
            await reader.wait_line(f"<sender> message {total - 1:06d} {'.' * 80}")
            await reader.wait_line("*** stuck has left (too slow to keep up)")
            received = [line for line in reader.lines if line.startswith("<sender> message ")]
            self.assertEqual(len(received), total)
            self.assertEqual(received[12345], f"<sender> message 012345 {'.' * 80}")
            self.assertEqual(received, sorted(received))
        self.assertEqual(self.service.chat.online(), ["alice", "bob", "sender"])
        # What the server held for the stuck client stayed within the documented
        # bound: the send queue plus the transport's 64 KiB (plus one line).
        self.assertLessEqual(peak[0], self.service.settings.sendq + 64 * 1024 + 200)
        self.assertGreater(peak[0], self.service.settings.sendq)

    async def drop_a_stuck_client(self, port: int) -> weakref.ref[Any]:
        """
        Log in a client that stops reading, and have a sender talk until the
        server drops it; return a weak reference to the transport the server
        had for it.
        """
        stuck = await self.connect(port, "stuck")
        reader = await self.connect(port, "reader")
        sender = await self.connect(port, "sender")
        assert stuck.transport is not None and sender.transport is not None
        IPushProducer(stuck.transport).pauseProducing()  # reads nothing from here on
        transport: weakref.ref[Any] = weakref.ref(
            next(
                stream_of(c).transport
                for c in connections(self.service)
                if c.session.user and c.session.user.nickname == "stuck"
            )
        )
        sent = 0
        while "*** stuck has left (too slow to keep up)" not in reader.lines:
            self.assertLess(sent, 100_000, "the stuck client was never dropped")
            sender.transport.write(
                b"".join(b"%06d %s\n" % (n, b"." * 1000) for n in range(sent, sent + 200))
            )
            sent += 200
            await reader.wait_for(said_by_sender(sent - 1))
        await deferLater(reactor, 0)
        return transport

    async def test_dropped_client_freed_at_once(self) -> None:
        """
        What the server buffered for a client dropped for not reading is
        freed as it goes, not at a later garbage collection (which may not
        come for hours): 1 000 such clients kept 270 MB after they were gone.
        """
        gc.disable()
        self.addCleanup(gc.enable)
        port = await self.start()
        transport = await self.drop_a_stuck_client(port)
        self.assertIsNone(transport())
        self.assertEqual(budget_for(self.service).used, 0)

    async def test_memory_returned_to_the_system(self) -> None:
        """
        Once enough of what waited for slow clients is freed (here: what a
        client dropped for not reading was owed), the server has the C
        library return its free memory to the system, once for the lot.
        """
        returned: list[None] = []
        self.patch(backpressure, "GIVE_BACK_AFTER", 64 * 1024)
        self.patch(backpressure, "GIVE_BACK_DELAY", 0.0)
        self.patch(backpressure, "RETURN_FREE_MEMORY", lambda: returned.append(None))
        port = await self.start()
        await self.drop_a_stuck_client(port)
        await deferLater(reactor, 0.01)
        self.assertEqual(returned, [None])

    async def test_reader_that_falls_behind_and_catches_up(self) -> None:
        """
        A client that stops reading until the server must hold lines for it
        (the kernel's buffers full) receives every line, in order, once it reads
        again; then the server writes to its socket directly again.
        """
        port = await self.start(sendq=16 * 1024 * 1024)
        slow = await self.connect(port, "slow")
        sender = await self.connect(port, "sender")
        await slow.wait_line("*** sender has joined")
        assert slow.transport is not None and sender.transport is not None
        [server_side] = [
            c
            for c in connections(self.service)
            if c.session.user and c.session.user.nickname == "slow"
        ]
        outflow = server_side._outflow
        assert isinstance(outflow, DirectOutflow)
        IPushProducer(slow.transport).pauseProducing()
        sent = 0
        while outflow.idle is not None:
            self.assertLess(sent, 200_000, "the kernel never pushed back")
            sender.transport.write(
                b"".join(b"line %06d %s\n" % (n, b"." * 200) for n in range(sent, sent + 500))
            )
            sent += 500
            await deferLater(reactor, 0.01)
        IPushProducer(slow.transport).resumeProducing()
        await slow.wait_line(f"<sender> line {sent - 1:06d} {'.' * 200}")
        received = [line for line in slow.lines if line.startswith("<sender> line ")]
        self.assertEqual(received, [f"<sender> line {n:06d} {'.' * 200}" for n in range(sent)])
        self.assertIsNotNone(outflow.idle)
        self.assertEqual(self.service.chat.online(), ["sender", "slow"])

    async def test_bundled_client_in_a_pipe(self) -> None:
        """
        `printf 'bob\\nhello\\n' | python -m chat.client` delivers hello, shows
        the server's lines, and exits 0 after quitting.
        """
        port = await self.start()
        alice = await self.connect(port, "alice")
        out, err, code = await spawn_client(port, stdin=b"bob\nhello\n").finished
        await alice.wait_line("<bob> hello")
        await alice.wait_line("*** bob has left")
        self.assertEqual(code, 0, err)
        self.assertEqual(err, b"")
        text = out.decode()
        self.assertIn("*** Welcome to loop.\n", text)
        self.assertIn("*** You are bob. 2 users online: alice, bob\n", text)
        self.assertTrue(text.endswith("*** Goodbye.\n"), text)
        self.assertNotIn("\r", text)

    async def test_bundled_client_nickname_argument(self) -> None:
        """
        With a NICK argument, the bundled client logs in by itself.
        """
        port = await self.start()
        alice = await self.connect(port, "alice")
        _, err, code = await spawn_client(port, "dave", stdin=b"/me waves\n").finished
        await alice.wait_line("* dave waves")
        self.assertEqual(code, 0, err)

    async def test_bundled_client_server_gone(self) -> None:
        """
        When the server goes away, the client says so in one sentence and exits 1.
        """
        port = await self.start()
        alice = await self.connect(port, "alice")
        process = spawn_client(port, "eve", stdin=None)
        await alice.wait_line("*** eve has joined")
        await self.service.stopService()
        out, err, code = await process.finished
        self.assertEqual(code, 1)
        self.assertEqual(err, b"chat-client: the connection to the server was closed.\n")
        self.assertTrue(out.endswith(b"*** The server is shutting down. Goodbye.\n"), out)

    async def test_bundled_client_refused(self) -> None:
        """
        A refused connection is one sentence, no traceback, and exit status 1.
        """
        # Nothing listens on port 1 of the loopback interface.
        _, err, code = await spawn_client(1, stdin=b"").finished
        self.assertEqual(code, 1)
        self.assertNotIn(b"Traceback", err)
        self.assertTrue(err.startswith(b"chat-client: cannot connect to 127.0.0.1:1: "), err)
        self.assertEqual(err.count(b"\n"), 1)


class TwistdTests(TestCase):
    """
    `twistd -n chat`, as an operator runs it.
    """

    async def test_run_chat_and_stop_with_sigterm(self) -> None:
        """
        twistd serves chat on the endpoint it is given; on SIGTERM every user
        gets the shutdown notice before the connection closes, and twistd exits.
        """
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--name", "e2e")
        client = await connect_raw(port)
        await client.wait_line("*** Welcome to e2e.")
        client.send("alice")
        await client.wait_for(lambda line: line.startswith("*** You are alice."))
        assert process.transport is not None
        process.transport.signalProcess("TERM")
        await client.closed
        self.assertEqual(client.lines[-1], "*** The server is shutting down. Goodbye.")
        # twistd re-raises the signal that stopped it once it has shut down
        # cleanly, so that its parent sees why it ended.
        ended = await process.ended.addTimeout(TIMEOUT, reactor)
        self.assertEqual(ended, ("signal", signal.SIGTERM), process.log.decode())
        self.assertIn(b"Received SIGTERM, shutting down.", process.log)
        self.assertIn(b"Server Shut Down.", process.log)
        self.assertIn(b"127.0.0.1", process.log)
        self.assertIn(b"logged in as alice", process.log)

    async def test_sighup_reloads(self) -> None:
        """
        SIGHUP does not kill the server: it reads the MOTD and the admins
        file again (the next login sees the new MOTD), and says so in the
        log; a file that has gone leaves everything as it was.
        """
        workdir = Path(self.mktemp())
        workdir.mkdir()
        motd, admins = (workdir / "motd.txt").resolve(), (workdir / "admins.txt").resolve()
        motd.write_text("old news\n", encoding="utf-8")
        admins.write_text("root\n", encoding="utf-8")
        process, port = await start_twistd(
            workdir, "--motd", str(motd), "--admins-file", str(admins)
        )
        self.addCleanup(process.stop)
        motd.write_text("fresh news\n", encoding="utf-8")
        admins.write_text("root\nops\n", encoding="utf-8")
        assert process.transport is not None
        process.transport.signalProcess("HUP")
        await process.logged(b"SIGHUP: reloaded the MOTD (1 lines) and the admins (2)")
        client = await connect_raw(port)
        client.send("alice")
        await client.wait_line("*** fresh news")
        motd.unlink()
        process.transport.signalProcess("HUP")
        await process.logged(b"SIGHUP: nothing reloaded")
        again = await connect_raw(port)
        again.send("bob")
        await again.wait_line("*** fresh news")
        self.assertFalse(process.ended.called)

    async def test_port_in_use_is_one_line(self) -> None:
        """
        A port already in use ends twistd at once with one line that says
        which and why, and no traceback.
        """
        busy = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory())
        self.addCleanup(busy.stopListening)
        port = busy.getHost().port
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process = TwistdRunner()
        process.port.addErrback(lambda _: None)
        argv = [
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
            "--nodaemon", "--pidfile=", "chat",
            "--listen", f"tcp:{port}:interface=127.0.0.1", "--db", ":memory:",
        ]  # fmt: skip
        reactor.spawnProcess(
            process, sys.executable, argv, env=os.environ.copy(), path=str(workdir)
        )
        ended = await process.ended.addTimeout(TIMEOUT, reactor)
        self.assertEqual(ended, ("exit", 1))
        log = process.log.decode()
        self.assertNotIn("Traceback", log)
        self.assertIn(
            f"chat: cannot listen on tcp:{port}:interface=127.0.0.1: Address already in use", log
        )

    async def test_half_close_handles_everything_sent(self) -> None:
        """
        `printf 'zed\\nhello\\n/quit\\n' | nc -N HOST PORT`: the client half-closes
        as soon as it has sent, while the nickname is still being checked
        (against the database, in its thread): every line is handled in
        order and answered before the connection closes; a last line
        without a line ending counts too.
        """
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--name", "e2e")
        self.addCleanup(process.stop)
        watcher = await in_lobby(port, "watcher")
        script = await send_and_half_close(port, b"zed\nhello\n/me waves\n/quit bye")
        self.assertEqual(script.lines[-1], "*** Goodbye.")
        self.assertIn("*** You are zed. 2 users online: watcher, zed", script.lines)
        await watcher.wait_line("*** zed has left (bye)")
        said = [line for line in watcher.lines if "zed" in line]
        self.assertEqual(
            said, ["*** zed has joined", "<zed> hello", "* zed waves", "*** zed has left (bye)"]
        )
        half = await send_and_half_close(port, b"amy\nstill here\n")
        self.assertEqual(half.lines[-1], "*** Goodbye.")
        await watcher.wait_line("*** amy has left (connection closed)")
        self.assertIn("<amy> still here", watcher.lines)

    async def test_half_close_after_login_gets_every_answer(self) -> None:
        """
        A script that half-closes right after logging in, into a room with
        history, is shown that history, each room it enters and each private
        message confirmed before the goodbye; the bundled client in a pipe too.
        """
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--name", "e2e")
        self.addCleanup(process.stop)
        zed = await in_lobby(port, "zed")
        zed.send("old news")
        watcher = await in_lobby(port, "watcher")
        await watcher.wait_for(lambda line: line.endswith("<zed> old news"))
        script = await send_and_half_close(
            port, b"halfclose\n/join ops2\nhello ops2\n/msg zed hc\n"
        )
        await zed.wait_line("*halfclose* hc")
        self.assertEqual(
            [line.split("] ", 1)[-1] for line in script.lines[-7:]],
            [
                "*** You are in lobby. 3 users here: halfclose, watcher, zed",
                "*** Recent messages in lobby:",
                "<zed> old news",
                "*** End of history.",
                "*** You are in ops2. 1 user here: halfclose (room operator)",
                "-> *zed* hc",
                "*** Goodbye.",
            ],
        )
        out, err, code = await spawn_client(
            port, stdin=b"deploybot\n/msg zed deploy finished\n"
        ).finished
        self.assertEqual(code, 0, err)
        await zed.wait_line("*deploybot* deploy finished")
        text = out.decode()
        self.assertIn("<zed> old news\n", text)
        self.assertTrue(text.endswith("-> *zed* deploy finished\n*** Goodbye.\n"), text)

    async def test_paste_into_netcat_is_paced_not_cut(self) -> None:
        """
        `printf` of 100 lines into `nc -N` (with the limit at 50 lines a
        second): every line is said, in order, paced, with one notice; the
        script is told goodbye, not thrown out for flooding.
        """
        workdir = Path(self.mktemp())
        workdir.mkdir()
        process, port = await start_twistd(workdir, "--flood", "50/20", "--db", ":memory:")
        self.addCleanup(process.stop)
        watcher = await in_lobby(port, "watcher")
        paste = b"".join(b"line %d\n" % n for n in range(100))
        script = await send_and_half_close(port, b"paster\n" + paste)
        self.assertEqual(script.lines[-1], "*** Goodbye.")
        self.assertEqual(
            [line for line in script.lines if line.startswith("!!!")],
            [
                "!!! You are sending too fast (at most 50 lines a second, bursts of 20); "
                "lines over that wait their turn."
            ],
        )
        await watcher.wait_line("*** paster has left (connection closed)")
        said = [line for line in watcher.lines if line.startswith("<paster>")]
        self.assertEqual(said, [f"<paster> line {n}" for n in range(100)])
