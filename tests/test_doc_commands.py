"""
Every command README.md and docs/*.md show runs as written in a fresh clone
once `make run` or `make test` has made `.venv`: the shell commands of their
```sh blocks are run here (each in a folder of its own, where `.venv` is this
checkout's), but for those listed in L{NOT_RUN} with the reason; and a command
quoted in the text is written as it runs (`.venv/bin/twistd`, not `twistd`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.trial.unittest import TestCase

from chat.core.service import Settings
from chat.line.protocol import LineFactory
from chat.store import database, postgres
from chat.store.database import PUBLIC
from tests.cluster.brokers import Broker
from tests.helpers import new_service
from tests.live import ROOT, TIMEOUT, ProcessRunner, TwistdRunner, reactor
from tests.pg import fresh_database, url_of

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NOT_RUN = {
    "make run": "a server until Ctrl-C: tests/test_makefile.py runs it",
    "make test": "the whole suite, this test among them",
    "nc localhost 8888": "a person types into it; tests.live.RawClient plays netcat's part",
    "telnet -8 localhost 8888": "a person types into it; tests/line/test_protocol.py speaks telnet",
    ".venv/bin/chat-client localhost:8888 alice": (
        "a person at a terminal: tests/client/test_client_terminal.py runs the client so"
    ),
    ".venv/bin/twistd -n chat [OPTIONS]": "a synopsis: OPTIONS stands for the table below it",
    ".venv/bin/twistd -n chat --listen tcp:8888 --listen "
    "ssl:6697:privateKey=/etc/chat/key.pem:certKey=/etc/chat/fullchain.pem": (
        "needs a certificate in /etc/chat: tests/test_tls.py serves TLS with a throw-away one"
    ),
    "IRCTEST_SERVER_HOSTNAME=127.0.0.1 IRCTEST_SERVER_PORT=16667 IRCTEST_SERVER_SASL_MECHS=PLAIN "
    "pytest --controller irctest.controllers.external_server -m 'not Ergo and not deprecated "
    "and not strict and not services' --timeout=12 irctest/server_tests": (
        "needs a checkout of irctest, which is not part of the project"
    ),
    "make bench": "the benchmark: ten minutes of full load on a machine others share",
    ".venv/bin/python bench/run.py --runs 3": "the benchmark, three times over",
    ".venv/bin/python bench/run.py --only fan-out latency --runs 3": "part of the benchmark",
    '.venv/bin/python bench/run.py --only "cluster fan-out" "cluster latency" --runs 3': (
        "the cluster's part of the benchmark: minutes of load"
    ),
    ".venv/bin/python bench/run.py --irc --runs 3": (
        "the IRC benchmark: needs ngIRCd and InspIRCd, and minutes of load"
    ),
    "make bench-smoke": "what CI runs of the benchmarks: a minute of load with hundreds of clients",
    ".venv/bin/python bench/stuck_sockets.py --sockets 100": (
        "100 sockets whose buffers the kernel fills: hundreds of MB of a machine others share"
    ),
    ".venv/bin/python bench/hostile.py --only neverread --probe": (
        "an attack replayed: 1 000 clients and 20 talkers for 45 s, on a machine others share"
    ),
    ".venv/bin/python bench/hostile.py --only banlist targets hashing listings searchlane "
    "halfopen --code BEFORE AFTER": (
        "six attacks replayed against two checkouts (BEFORE and AFTER stand for them): "
        "thousands of connections for minutes, on a machine others share"
    ),
}
"""
The commands not run here, each with why.
"""

FIXED = {
    "tcp:8888": "tcp:0:interface=127.0.0.1",
    # The longer first: the shorter is part of it.
    "tcp:8080:interface=127.0.0.1": "tcp:0:interface=127.0.0.1",
    "tcp:8080": "tcp:0:interface=127.0.0.1",
    "tcp:6667": "tcp:0:interface=127.0.0.1",
    "tcp:16667:interface=127.0.0.1": "tcp:0:interface=127.0.0.1",
}
"""
The fixed ports the documents listen on, and what the servers started here
listen on instead: others share the machine, and may use those.
"""

LOCAL = "tcp:0:interface=127.0.0.1"
DOCUMENTED_DB = "postgresql://postgres@127.0.0.1:5432/chat"
DOCUMENTED_REDIS = "redis://127.0.0.1:6379/0"
PASSWORD = b"a-good-password\n"


def fresh_path() -> str:
    """
    This process's C{PATH} as a fresh machine has it: without the folders of
    an active virtualenv that has chat installed.
    """
    folders = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(
        folder
        for folder in folders
        if not any((Path(folder) / name).exists() for name in ("twistd", "chat-client"))
    )


def shell_commands(path: Path) -> list[str]:
    """
    The commands of C{path}'s ```sh blocks: one a line (a line ending in a
    backslash goes on on the next), without the comment after it.
    """
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", path.read_text("utf-8"), re.S | re.M):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            command = re.sub(r"\s+# .*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def quoted_commands(path: Path) -> list[str]:
    """
    The commands quoted in C{path}'s text (not in its blocks), as `...`
    spans that start with a program and an argument.
    """
    text = re.sub(r"^```.*?^```", "", path.read_text("utf-8"), flags=re.S | re.M)
    spans = (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", text))
    return [
        span
        for span in spans
        if re.match(r"(twistd|chat-client|python3?|pip|bench/\S+\.py)\s", span)
        # The name of what twistd runs, not a command.
        and span != "twistd chat"
    ]


class DocumentedCommandTests(TestCase):
    def folder(self) -> Path:
        """
        A fresh folder as a clone has it once make has run: this checkout's
        .venv, a database whose lobby has one message, a MOTD file.
        """
        folder = Path(self.mktemp()).resolve()
        folder.mkdir()
        (folder / ".venv").symlink_to(ROOT / ".venv")
        db = database.connect(str(folder / "chat.sqlite3"))
        database.write(db.cursor(), [(1795264496.0, PUBLIC, "lobby", "alice", None, "hello")])
        db.commit()
        db.close()
        (folder / "welcome.txt").write_text("Welcome to the lab.\n", "utf-8")
        return folder

    async def run_shell(self, command: str, folder: Path) -> str:
        """
        Run C{command} as sh runs it, in C{folder}; it must succeed.
        """
        process = ProcessRunner(PASSWORD)
        environ = {**os.environ, "HOME": str(folder), "PATH": fresh_path()}
        reactor.spawnProcess(
            process, "/bin/sh", ["sh", "-c", command], env=environ, path=str(folder)
        )
        out, err, code = await process.finished
        self.assertEqual(code, 0, f"{command}\n{out.decode()}{err.decode()}")
        return out.decode()

    async def serve(self, command: str, folder: Path) -> None:
        """
        Start the server C{command} starts, with C{FIXED}'s ports (and one
        for it to listen on, if it only has the default), and stop it once it
        listens.
        """
        for fixed, free in FIXED.items():
            command = command.replace(fixed, free)
        if "--listen" not in command:
            command += f" --listen {LOCAL}"
        process = TwistdRunner()
        reactor.spawnProcess(
            process,
            "/bin/sh",
            ["sh", "-c", "exec " + command],
            env={**os.environ, "PATH": fresh_path()},
            path=str(folder),
        )
        self.addCleanup(process.stop)
        await process.port.addTimeout(TIMEOUT, reactor)
        await process.stop()
        self.assertNotIn(b"Traceback", process.log)

    async def run_command(self, command: str) -> None:
        folder = self.folder()
        command = command.replace("/tmp/", f"{folder}/")
        # The documents' PostgreSQL database: a fresh one of the test server's.
        if DOCUMENTED_REDIS in command:
            # The documents' Redis: one of the test's own.
            command = command.replace(DOCUMENTED_REDIS, str(Broker(self).address))
        if DOCUMENTED_DB in command:
            conninfo = fresh_database(self)
            with postgres.connect(conninfo) as db, db.cursor() as cursor:
                postgres.write(cursor, [(1795264496.0, PUBLIC, "lobby", "alice", None, "hello")])
            command = command.replace(DOCUMENTED_DB, url_of(conninfo))
        if re.match(r"\.venv/bin/twistd -n chat (?!--help|--version)", command):
            await self.serve(command, folder)
            return
        port = None
        if "localhost:8888" in command:
            # A client: a server for it to talk to.
            service = new_service(reactor, Settings())
            service.startService()
            endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
            listening = await endpoint.listen(LineFactory(service))
            self.addCleanup(listening.stopListening)
            self.addCleanup(service.stopService)
            port = listening.getHost().port
            command = command.replace("localhost:8888", f"127.0.0.1:{port}")
        out = await self.run_shell(command, folder)
        if port is not None:
            self.assertIn("*** You are bot.", out)

    async def test_every_shell_command_runs(self) -> None:
        """
        Every command of the documents' ```sh blocks runs as written (but those
        listed with why they are not run here); none is listed that is not there.
        """
        found = [command for path in DOCUMENTS for command in shell_commands(path)]
        self.assertGreater(len(found), 20)
        for command in found:
            if command not in NOT_RUN:
                await self.run_command(command)
        self.assertEqual(set(NOT_RUN) - set(found), set())

    def test_quoted_commands_are_written_as_they_run(self) -> None:
        """
        A command quoted in the documents' text starts with `.venv/bin/`,
        where make installs the project, not with a bare `twistd`, `python`,
        `chat-client` or `bench/...py` that a fresh clone has not on its PATH.
        """
        wrong = [
            f"{path.name}: {command}" for path in DOCUMENTS for command in quoted_commands(path)
        ]
        self.assertEqual(wrong, [])
