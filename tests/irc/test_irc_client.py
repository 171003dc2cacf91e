"""
A real IRC client from Debian's packages, WeeChat (weechat-headless, which
`make test` installs), in the same room as a netcat-style line user.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat.core.service import Settings
from chat.irc.protocol import IRCFactory
from chat.line.protocol import LineFactory
from tests.helpers import new_service
from tests.live import RawClient

WEECHAT = shutil.which("weechat-headless")
TIMEOUT = 30.0


class WeeChatTests(TestCase):
    timeout = 60

    async def listen(self, factory: Factory) -> int:
        port: IListeningPort = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            factory
        )
        self.addCleanup(port.stopListening)
        return port.getHost().port  # type: ignore[attr-defined, no-any-return]

    async def test_weechat_and_a_line_user(self) -> None:
        """
        WeeChat registers, joins #lobby and says hello; the line user in
        lobby sees it, answers, and the answer is in WeeChat's own log of
        #lobby; when WeeChat quits, the line user sees it leave.
        """
        self.assertIsNotNone(WEECHAT, "weechat-headless is missing: make test installs it")
        assert WEECHAT is not None
        service = new_service(reactor, Settings(server_name="irc.test"))
        service.startService()
        self.addCleanup(service.stopService)
        irc_port = await self.listen(IRCFactory(service))
        line_port = await self.listen(LineFactory(service))
        liner = RawClient()
        await TCP4ClientEndpoint(reactor, "127.0.0.1", line_port).connect(
            Factory.forProtocol(lambda: liner)
        )
        self.addCleanup(lambda: liner.transport.loseConnection())  # type: ignore[union-attr]
        liner.send("netcat")
        await liner.wait_for(lambda line: line.startswith("*** You are in lobby"))
        home = Path(self.mktemp())
        home.mkdir()
        commands = ";".join(
            [
                "/set logger.file.flush_delay 0",
                "/set irc.server_default.nicks wee",
                "/set irc.server_default.autojoin #lobby",
                f"/server add chat 127.0.0.1/{irc_port} -notls",
                "/connect chat",
            ]
        )
        weechat = subprocess.Popen(
            [WEECHAT, "--dir", str(home), "--stdout", "-r", commands],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.addCleanup(weechat.kill)
        await liner.wait_line("*** wee has joined")
        # WeeChat has joined: tell it, through its FIFO, to speak.
        fifo = await self.wait_for_file(home, "weechat_fifo*")
        fifo.write_text("irc.server.chat */msg #lobby hello from weechat\n")
        await liner.wait_line("<wee> hello from weechat")
        liner.send("hello weechat")
        log = await self.wait_for_file(home, "logs/irc.chat.#lobby.weechatlog")
        await self.wait_until(lambda: "hello weechat" in log.read_text("utf-8", "replace"))
        self.assertRegex(log.read_text("utf-8"), r"netcat\thello weechat")
        weechat.send_signal(signal.SIGTERM)
        await liner.wait_for(lambda line: line.startswith("*** wee has left"))

    async def wait_for_file(self, home: Path, pattern: str) -> Path:
        found: list[Path] = []

        def exists() -> bool:
            found[:] = sorted(home.rglob(pattern))
            return bool(found)

        await self.wait_until(exists)
        return found[0]

    async def wait_until(self, check: object) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not check():  # type: ignore[operator]
            if time.monotonic() > deadline:
                self.fail("timed out")
            await deferLater(reactor, 0.05, lambda: None)
