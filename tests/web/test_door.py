"""
The web door on real loopback sockets: a third-party WebSocket client (the
C{websockets} package, which irctest uses too) speaking IRC beside a
netcat user, the page, and what a hostile client gets.

Each user's side runs as a plain blocking script in a thread (as a user's
program would), while the server runs in the reactor.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import serverFromString
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from chat.core.limits import HUMAN
from chat.core.service import ChatService, Settings
from chat.irc.protocol import IRCFactory
from chat.line.protocol import LineFactory
from chat.web import door as door_module
from chat.web.door import WebDoor
from chat.web.handshake import networks
from tests.helpers import new_service
from tests.live import ROOT, ProcessRunner
from tests.web.test_frames import masked, unframe

reactor: Any = _reactor
_T = TypeVar("_T")
WAIT = 10.0
TEXT, BINARY = Subprotocol("text.ircv3.net"), Subprotocol("binary.ircv3.net")
TEXT_OP = 0x1


class Netcat:
    """
    A line user on a blocking socket.
    """

    def __init__(self, port: int, nickname: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""
        self.sock.sendall(nickname.encode() + b"\n")
        self.until(lambda line: line.startswith("*** You are in"))

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\n")

    def until(self, done: Callable[[str], bool]) -> list[str]:
        """
        The lines up to the first that is C{done}, which must come.
        """
        got: list[str] = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            while b"\r\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\r\n", 1)
                got.append(raw.decode())
                if done(got[-1]):
                    return got
            try:
                self.buffer += self.sock.recv(65536)
            except TimeoutError:
                break
        raise AssertionError(f"not seen; got {got}")

    def close(self) -> None:
        self.sock.close()


def register(ws: ClientConnection, nickname: str) -> list[str | bytes]:
    ws.send(f"NICK {nickname}")
    ws.send(f"USER {nickname} 0 * :{nickname}")
    return until(ws, lambda m: " 376 " in str(m) or " 422 " in str(m))


def until(ws: ClientConnection, done: Callable[[str | bytes], bool]) -> list[str | bytes]:
    """
    The messages up to the first that is C{done}, which must come.
    """
    got: list[str | bytes] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        got.append(ws.recv(timeout=WAIT))
        if done(got[-1]):
            return got
    raise AssertionError(f"not seen; got {got}")


def upgrade_request(port: int, extra: bytes = b"", method: bytes = b"GET") -> bytes:
    """
    A request to open a WebSocket, with C{extra} header lines (each ending in CRLF).
    """
    key = base64.b64encode(os.urandom(16))
    return (
        method + b" / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
        b"Sec-WebSocket-Version: 13\r\n%s\r\n" % (port, key, extra)
    )


def handshake(
    port: int, extra: bytes = b"", source: str = "127.0.0.1"
) -> tuple[socket.socket, bytes]:
    """
    A raw socket that has opened a WebSocket by hand (from C{source}), for
    what no client library would send, and what came after the server's answer.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT, source_address=(source, 0))
    sock.sendall(upgrade_request(port, extra))
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    head, rest = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock, rest


def answer_to(port: int, request: bytes) -> bytes:
    """
    What the server answers C{request} with, up to its closing the
    connection or a second's silence.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
        sock.sendall(request)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return data


def read_all(sock: socket.socket, data: bytes = b"") -> bytes:
    """
    Everything the server sends until it closes.
    """
    while chunk := sock.recv(65536):
        data += chunk
    return data


class WebDoorTests(TestCase):
    async def serve(
        self,
        settings: Settings | None = None,
        origins: Sequence[str] = (),
        proxies: Sequence[str] = (),
    ) -> ChatService:
        service = new_service(reactor, settings or Settings(server_name="chat.test"))
        service.startService()
        self.addCleanup(service.stopService)
        door = self.door = WebDoor(service, IRCFactory(service), origins, networks(proxies))
        web = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(door)
        self.addCleanup(web.stopListening)
        line = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(
            LineFactory(service)
        )
        self.addCleanup(line.stopListening)
        self.web_port = web.getHost().port
        self.line_port = line.getHost().port
        self.url = f"ws://127.0.0.1:{self.web_port}/"
        return service

    async def as_user(self, script: Callable[[], _T]) -> _T:
        """
        C{script} in a thread, as a user's own program, while the server runs.
        """
        result: _T = await deferToThread(script)
        return result

    async def test_browser_and_netcat_in_one_room(self) -> None:
        """
        An IRC client over a WebSocket (text.ircv3.net) joins the lobby and
        talks with a netcat user both ways, publicly and privately; every
        message it gets is one IRC line, as text, without CRLF.
        """
        await self.serve()

        def script() -> tuple[list[str | bytes], list[str], str | None]:
            with connect(self.url, subprotocols=[TEXT]) as ws:
                got = register(ws, "web")
                ws.send("JOIN #lobby")
                got += until(ws, lambda m: " 366 " in str(m))
                nc = Netcat(self.line_port, "nc")
                got += until(ws, lambda m: "JOIN" in str(m) and "nc!" in str(m))
                ws.send("PRIVMSG #lobby :hello from the browser")
                seen = nc.until(lambda line: "hello from the browser" in line)
                nc.send("hi web")
                got += until(ws, lambda m: "hi web" in str(m))
                nc.send("/msg web just you")
                got += until(ws, lambda m: "just you" in str(m))
                ws.send("PRIVMSG nc :psst")
                seen += nc.until(lambda line: "psst" in line)
                nc.close()
                return got, seen, ws.subprotocol

        got, seen, subprotocol = await self.as_user(script)
        self.assertEqual(subprotocol, "text.ircv3.net")
        self.assertTrue(all(isinstance(m, str) and "\r" not in m and "\n" not in m for m in got))
        self.assertIn(":nc!nc@chat PRIVMSG #lobby :hi web", got)
        self.assertIn(":nc!nc@chat PRIVMSG web :just you", got)
        self.assertEqual(seen[-1], "*web* psst")
        self.assertIn("<web> hello from the browser", seen)

    async def test_binary_subprotocol(self) -> None:
        """
        A client that asks for binary.ircv3.net first gets it: its messages
        come as binary, one line each.
        """
        await self.serve()

        def script() -> tuple[str | None, list[str | bytes]]:
            with connect(self.url, subprotocols=[BINARY, TEXT]) as ws:
                return ws.subprotocol, register(ws, "bin")

        subprotocol, got = await self.as_user(script)
        self.assertEqual(subprotocol, "binary.ircv3.net")
        self.assertTrue(all(isinstance(m, bytes) and not m.endswith(b"\r\n") for m in got))
        self.assertTrue(str(got[0]).startswith("b':chat.test 001 bin "), got[0])

    async def test_ping_close_and_leaving(self) -> None:
        """
        A WebSocket ping is answered; a client that closes is answered with
        a close frame (1000), and the room is told it left.
        """
        await self.serve()

        def script() -> tuple[bool, int | None, list[str]]:
            nc = Netcat(self.line_port, "nc")
            with connect(self.url, subprotocols=[TEXT]) as ws:
                register(ws, "web")
                ws.send("JOIN #lobby")
                until(ws, lambda m: " 366 " in str(m))
                ponged = ws.ping(b"are you there").wait(WAIT)
            seen = nc.until(lambda line: "web" in line and "left" in line)
            nc.close()
            return ponged, ws.close_code, seen

        ponged, code, seen = await self.as_user(script)
        self.assertTrue(ponged)
        self.assertEqual(code, 1000)
        self.assertEqual(seen[-1], "*** web has left (connection closed)")

    async def test_too_long_and_not_utf8(self) -> None:
        """
        A message over IRC's limit (8191 bytes of tags and 512 of message)
        is refused with 417 and one not in UTF-8 with FAIL; the connection
        goes on.
        """
        await self.serve()

        def script() -> list[str | bytes]:
            with connect(self.url, subprotocols=[TEXT]) as ws:
                register(ws, "web")
                ws.send("PRIVMSG #lobby :" + "x" * 20000)
                got = until(ws, lambda m: " 417 " in str(m))
                ws.send(b"PRIVMSG #lobby :caf\xe9")
                got += until(ws, lambda m: "FAIL" in str(m))
                ws.send("PING :still here")
                got += until(ws, lambda m: "PONG" in str(m))
                return got

        got = await self.as_user(script)
        self.assertIn(":chat.test 417 web :Input line was too long", got)
        refused = ":chat.test FAIL PRIVMSG INVALID_UTF8 :Message rejected: it is not UTF-8"
        self.assertIn(refused, got)
        self.assertIn(":chat.test PONG chat.test :still here", got)

    async def test_protocol_error_closes_that_connection_only(self) -> None:
        """
        A client that breaks the protocol (an unmasked frame) is closed with
        1002; what it sent before is handled; everyone else goes on.
        """
        await self.serve()

        def script() -> tuple[list[tuple[int, bytes]], list[str]]:
            nc = Netcat(self.line_port, "nc")
            sock, rest = handshake(self.web_port)
            sock.sendall(
                masked(1, b"NICK raw")
                + masked(1, b"USER raw 0 * :raw")
                + masked(1, b"JOIN #lobby")
                + masked(1, b"PRIVMSG #lobby :before the error")
                + bytes((0x81, 2))
                + b"hi"
            )
            frames = unframe(read_all(sock, rest))
            sock.close()
            seen = nc.until(lambda line: "raw has left" in line)
            with connect(self.url) as ws:
                register(ws, "web")
                ws.send("JOIN #lobby")
                until(ws, lambda m: " 366 " in str(m))
                nc.send("still here")
                heard = until(ws, lambda m: "still here" in str(m))
            nc.close()
            return frames, [*seen, str(heard[-1])]

        frames, seen = await self.as_user(script)
        self.assertEqual(frames[-1][0], 0x8)
        self.assertEqual(int.from_bytes(frames[-1][1][:2], "big"), 1002)
        self.assertIn("<raw> before the error", seen)
        self.assertEqual(seen[-1], ":nc!nc@chat PRIVMSG #lobby :still here")

    async def test_origin(self) -> None:
        """
        A page from another site cannot open a WebSocket (403), unless the
        operator allows it; the server's own page can.
        """
        await self.serve(origins=["https://friends.example"])
        own = f"http://127.0.0.1:{self.web_port}"

        def script() -> list[object]:
            results: list[object] = []
            for origin in ("https://evil.example", "https://friends.example", own):
                try:
                    with connect(self.url, origin=Origin(origin)) as ws:
                        results.append(ws.subprotocol)
                except InvalidStatus as e:
                    results.append(e.response.status_code)
            return results

        self.assertEqual(await self.as_user(script), [403, None, None])

    async def test_page(self) -> None:
        """
        A plain GET is the page, which allows no script but its own; other
        paths are not found.
        """
        await self.serve()

        def script() -> tuple[int, str, str, bytes, int]:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/", timeout=WAIT) as r:
                status, kind, policy, body = (
                    r.status,
                    r.headers["content-type"],
                    r.headers["content-security-policy"],
                    r.read(),
                )
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/secret", timeout=WAIT)
                missing = 200
            except urllib.error.HTTPError as e:
                missing = e.code
            return status, kind, policy, body, missing

        status, kind, policy, body, missing = await self.as_user(script)
        self.assertEqual((status, kind, missing), (200, "text/html; charset=utf-8", 404))
        self.assertIn("script-src 'self'", policy)
        self.assertIn(b'<script type="module" src="chat.js">', body)

    async def test_forwarded_address_counts_for_limits(self) -> None:
        """
        Behind a proxy the operator trusts, the address it forwards for is
        the one limited: a second connection from it is refused, one from
        another address is not; from anyone else, the header is ignored.
        """
        await self.serve(
            Settings(server_name="chat.test", max_per_host=1, limits=HUMAN),
            proxies=["127.0.0.1"],
        )

        def script() -> list[str]:
            said: list[str] = []
            forwarded = {"X-Forwarded-For": "203.0.113.5"}
            with connect(self.url, additional_headers=forwarded) as first:
                register(first, "first")
                with connect(self.url, additional_headers=forwarded) as second:
                    try:
                        said.append(str(second.recv(timeout=WAIT)))
                        second.recv(timeout=WAIT)
                    except ConnectionClosed as e:
                        said.append(f"closed {e.rcvd.code if e.rcvd else None}")
                other = {"X-Forwarded-For": "203.0.113.6"}
                with connect(self.url, additional_headers=other) as third:
                    said.append(str(register(third, "third")[0]))
            return said

        said = await self.as_user(script)
        self.assertEqual(said[0], "ERROR :Closing link: Too many connections from 203.0.113.5 (1)")
        self.assertEqual(said[1], "closed 1000")
        self.assertTrue(said[2].startswith(":chat.test 001 third "), said)

    async def test_forwarded_for_from_anyone_else_is_ignored(self) -> None:
        """
        X-Forwarded-For from a trusted proxy is read whole, however many
        header lines carry it (the right-most address wins); from any other
        address it is ignored, and the peer's own address is the one limited.
        """
        service = await self.serve(proxies=["127.0.0.1"])
        # Two lines, as two proxies in a row may write them: the client's
        # address, then the first proxy's (trusted too), added by the second.
        forwarded = b"X-Forwarded-For: 198.51.100.7\r\nX-Forwarded-For: 127.0.0.1\r\n"

        def script() -> list[socket.socket]:
            socks = []
            for number, source in enumerate(("127.0.0.1", "127.0.0.2")):
                sock, rest = handshake(self.web_port, forwarded, source)
                sock.sendall(masked(TEXT_OP, b"NICK user%d" % number))
                sock.sendall(masked(TEXT_OP, b"USER u 0 * :u"))
                while b" 376 " not in rest and b" 422 " not in rest:
                    rest += sock.recv(65536)
                socks.append(sock)
            return socks

        socks = await self.as_user(script)
        hosts = sorted(str(session.host) for session in service.sessions)
        for sock in socks:
            sock.close()
        self.assertEqual(hosts, ["127.0.0.2", "198.51.100.7"])

    async def test_hostile_http(self) -> None:
        """
        A request body is refused (413) as soon as its headers end, before
        a byte of it is kept; a header that is not UTF-8 is refused as any
        wrong header is, not with a server error; HEAD never opens a
        WebSocket.
        """
        await self.serve()
        port = self.web_port

        def script() -> list[bytes]:
            return [
                answer_to(
                    port,
                    b"POST / HTTP/1.1\r\nHost: chat\r\nContent-Length: 100000000\r\n\r\n"
                    + b"x" * 100_000,
                ),
                answer_to(
                    port,
                    b"PUT / HTTP/1.1\r\nHost: chat\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"10\r\n0123456789abcdef\r\n",
                ),
                answer_to(port, upgrade_request(port, b"Origin: http://\xff\xfe.example\r\n")),
                answer_to(port, upgrade_request(port, method=b"HEAD")),
            ]

        body, chunked, origin, head = await self.as_user(script)
        self.assertTrue(body.startswith(b"HTTP/1.1 413 "), body[:100])
        self.assertIn(b"Requests here may have no body.", body)
        self.assertTrue(chunked.startswith(b"HTTP/1.1 413 "), chunked[:100])
        self.assertTrue(origin.startswith(b"HTTP/1.1 403 "), origin[:100])
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:100])
        self.assertIn(b"content-security-policy", head.lower())
        self.assertNotIn(b"<html", head)
        self.flushLoggedErrors()
        self.assertEqual(self.flushLoggedErrors(), [])

    async def test_http_connection_lifetime_and_total(self) -> None:
        """
        An HTTP connection that trickles its headers a byte at a time, never
        silent, is closed once its lifetime is up; and no more HTTP
        connections are open at once than --max-clients.
        """
        self.patch(door_module, "HTTP_LIFETIME", 1.0)
        await self.serve(Settings(server_name="chat.test", max_clients=2))
        port = self.web_port

        def script() -> tuple[float, bool]:
            slow = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            other = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            # The third, from another address, over the server's total.
            try:
                third = socket.create_connection(
                    ("127.0.0.1", port), timeout=WAIT, source_address=("127.0.0.3", 0)
                )
                refused = third.recv(100) == b""
                third.close()
            except ConnectionResetError:
                refused = True
            other.close()
            started = time.monotonic()
            slow.settimeout(0.2)
            for byte in b"GET / HTTP/1.1\r\nHost: chat\r\nX-Slow: " + b"a" * 100:
                try:
                    slow.sendall(bytes([byte]))
                    if slow.recv(100) == b"":
                        break
                except TimeoutError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    break
            lasted = time.monotonic() - started
            slow.close()
            return lasted, refused

        lasted, refused = await self.as_user(script)
        self.assertTrue(refused)
        self.assertLess(lasted, 5.0)
        self.assertGreater(lasted, 0.5)

    async def test_idle_http_connections_per_address(self) -> None:
        """
        One address may hold only so many HTTP connections that are not
        WebSockets (four times --max-per-ip): the next is closed before a
        byte is read; once one goes, another may come.
        """
        await self.serve(Settings(server_name="chat.test", max_per_host=1))

        def script() -> tuple[bool, bytes]:
            held = [
                socket.create_connection(("127.0.0.1", self.web_port), timeout=WAIT)
                for _ in range(4)
            ]
            # The refusal is a reset, which may come before connect() has
            # even returned (it reads the socket's error after the reactor
            # has accepted and aborted): either way, nothing is served.
            try:
                extra = socket.create_connection(("127.0.0.1", self.web_port), timeout=WAIT)
                refused = extra.recv(100) == b""
                extra.close()
            except ConnectionResetError:
                refused = True
            held.pop().close()
            deadline = time.monotonic() + WAIT
            answer = b""
            while not answer and time.monotonic() < deadline:
                try:
                    with socket.create_connection(
                        ("127.0.0.1", self.web_port), timeout=WAIT
                    ) as again:
                        again.sendall(b"GET / HTTP/1.1\r\nHost: chat\r\n\r\n")
                        answer = again.recv(100)
                except ConnectionResetError:
                    time.sleep(0.05)
            for sock in held:
                sock.close()
            return refused, answer[:15]

        refused, answer = await self.as_user(script)
        self.assertTrue(refused)
        self.assertEqual(answer, b"HTTP/1.1 200 OK")
        # Every socket closed on the client's side is closed on the server's, and counted out.
        deadline = reactor.seconds() + WAIT
        while self.door.opening and reactor.seconds() < deadline:
            await deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(self.door.opening, {})

    async def test_irc_framework(self) -> None:
        """
        irc-framework (npm; the library Kiwi IRC is built on), with its
        WebSocket transport, registers, joins the lobby, talks with a
        netcat user and leaves, as it would on Ergo or InspIRCd.
        """
        await self.serve()
        node = shutil.which("node")
        self.assertIsNotNone(node, "node is missing: make test installs it (apt-get)")
        assert node is not None
        folder = ROOT / "tests" / "web" / "node"
        self.assertTrue(
            (folder / "node_modules" / "irc-framework").is_dir(),
            "irc-framework is missing: make test installs it (npm ci)",
        )
        nc = await self.as_user(lambda: Netcat(self.line_port, "nc"))
        client = ProcessRunner(None)
        argv = [node, "--experimental-websocket", "irc_framework_client.js", str(self.web_port)]
        reactor.spawnProcess(client, node, argv, env=os.environ.copy(), path=str(folder))

        def netcat() -> list[str]:
            heard = nc.until(lambda line: "hello from irc-framework" in line)
            nc.send("hi kiwi")
            heard += nc.until(lambda line: "kiwi has left" in line)
            nc.close()
            return heard

        heard = await self.as_user(netcat)
        out, err, code = await client.finished.addTimeout(WAIT * 3, reactor)
        said = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual(code, 0, (said, err))
        self.assertEqual(said[0], {"registered": "kiwi"})
        self.assertIn({"joined": "#lobby"}, said)
        self.assertIn({"message": "hi kiwi", "from": "nc", "target": "#lobby"}, said)
        self.assertEqual(said[-1], {"closed": True})
        self.assertIn("<kiwi> hello from irc-framework", heard)
        self.assertEqual(heard[-1], "*** kiwi has left (bye)")
