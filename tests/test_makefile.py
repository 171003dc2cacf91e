"""
`make run` as a newcomer runs it: make as a subprocess, in this checkout, under a
pseudo-terminal where Ctrl-C is a key.
"""

from __future__ import annotations

import os
import shutil
import signal

from twisted.trial.unittest import TestCase

from tests.live import ROOT, TIMEOUT, TwistdRunner, reactor

MAKE = shutil.which("make") or "make"


def make_environment() -> dict[str, str]:
    """
    This process's environment, less what would change how make runs: an
    outer make's flags (`make test` runs the tests) and the variables `make
    run` takes.
    """
    dropped = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "LISTEN", "IRC", "RUN_ARGS"}
    return {key: value for key, value in os.environ.items() if key not in dropped}


def make_run(*variables: str) -> list[str]:
    """
    `make run` with C{variables}, never reinstalling (the tests run from the
    install already made), and a database of its own in memory: the
    checkout's own is left alone.
    """
    return [MAKE, "-o", ".venv/.installed-stamp", "run", "RUN_ARGS=--db :memory:", *variables]


class MakeRunTests(TestCase):
    async def test_make_run(self) -> None:
        """
        `make run` says where to connect, to the line protocol, to IRC and
        to the web page; a
        second `make run` on the same port says only the server's line (no
        twistd pidfile message, no error from make); Ctrl-C ends the first
        without make's "Interrupt".
        """
        local = "tcp:0:interface=127.0.0.1"
        first = TwistdRunner()
        argv = make_run(f"LISTEN={local}", f"IRC={local}", f"WEB={local}")
        reactor.spawnProcess(first, MAKE, argv, env=make_environment(), path=str(ROOT), usePTY=True)
        self.addCleanup(self.stop, first)
        port = await first.port.addTimeout(TIMEOUT, reactor)
        await first.logged(b"Web door on ")
        log = first.log.decode()
        self.assertIn(
            f"Line protocol on {local}: connect with nc 127.0.0.1 {port} "
            f"or chat-client 127.0.0.1:{port}\r\n",
            log,
        )
        self.assertRegex(log, rf"IRC on {local}: connect an IRC client to 127\.0\.0\.1 port \d+")
        self.assertRegex(log, rf"Web door on {local}: open http://127\.0\.0\.1:\d+/ in a browser")

        busy = f"tcp:{port}:interface=127.0.0.1"
        second = self.start(f"LISTEN={busy}", f"IRC={local}", f"WEB={local}")
        second.port.addErrback(lambda _: None)
        self.assertEqual(await second.ended.addTimeout(TIMEOUT, reactor), ("exit", 0))
        said = second.log.decode()
        self.assertIn(f"chat: cannot listen on {busy}: Address already in use\r\n", said)
        self.assertNotIn("Another twistd server is running", said)
        self.assertNotIn("make:", said)

        assert first.transport is not None
        first.transport.write(b"\x03")
        await first.ended.addTimeout(TIMEOUT, reactor)
        self.assertIn("Received SIGINT, shutting down.", first.log.decode())
        self.assertNotIn("Interrupt", first.log.decode())
        self.assertNotIn("make:", first.log.decode())

    def start(self, *variables: str) -> TwistdRunner:
        """
        `make run` with C{variables}, in a terminal of its own, stopped (make,
        the shell and the server) when the test ends.
        """
        runner = TwistdRunner()
        argv = make_run(*variables)
        reactor.spawnProcess(
            runner, MAKE, argv, env=make_environment(), path=str(ROOT), usePTY=True
        )
        self.addCleanup(self.stop, runner)
        return runner

    async def stop(self, runner: TwistdRunner) -> None:
        if not runner.ended.called and runner.transport is not None:
            # The terminal's process group: make, its shell and the server.
            os.killpg(runner.transport.pid, signal.SIGTERM)
        await runner.ended.addTimeout(TIMEOUT, reactor)
