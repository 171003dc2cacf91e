"""
What `make bench` tells and where it writes (bench/run.py, bench/report.py),
with the measurements stood in for: no benchmark is run.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from tests.live import ROOT

BENCH = ROOT / "bench"

_TIMES = {"p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 3.0}

MEASURED = [
    {"scenario": "latency", "server": "chat", "history": True, "clients": 100, "lost": 0, **_TIMES},
    {
        "scenario": "latency",
        "server": "threaded",
        "history": True,
        "clients": 100,
        "lost": 39159,
        **_TIMES,
    },
    {
        "scenario": "fan-out",
        "server": "chat",
        "history": True,
        "clients": 200,
        "lost": 12,
        "deliveries_per_s": 1_000_000,
    },
]
"""
Records as bench/run.py's scenarios make them (with every field the report
and its plots read, since the plots are drawn when matplotlib is installed,
as C{make bench} installs it): the threaded baseline lost 39 159
deliveries, chat 12 in another scenario.
"""


def bench_module(name: str) -> Any:
    """
    A module of bench/, imported as bench/run.py imports its neighbours.
    """
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


class BenchTests(SynchronousTestCase):
    def test_loss_lines_say_whose(self) -> None:
        """
        Each measurement that lost deliveries is a line naming the server that
        lost them, a baseline's loss said not to be chat's, on standard error
        and in the report.
        """
        run = bench_module("run")

        async def suite(arguments: object) -> list[dict[str, Any]]:
            return MEASURED

        self.patch(run, "suite", suite)
        errors = io.StringIO()
        self.patch(sys, "stderr", errors)
        self.patch(sys, "stdout", io.StringIO())
        out = Path(self.mktemp())
        self.patch(sys, "argv", ["bench/run.py", "--out", str(out)])
        self.assertEqual(run.main(), 0)
        lines = [
            "LOST: 39159 deliveries by threaded, a baseline, not chat (latency, 100 clients)",
            "LOST: 12 deliveries by chat (fan-out, 200 clients)",
        ]
        self.assertEqual(errors.getvalue().splitlines(), lines)
        [report] = out.glob("*.md")
        text = report.read_text("utf-8")
        for line in lines:
            self.assertIn(f"- {line}\n", text)

    def test_missing_peer_servers_are_named_before_anything_runs(self) -> None:
        """
        --irc without ngIRCd or InspIRCd installed says in one line what to
        install, before the suite starts, instead of a traceback minutes in;
        with them present the suite runs.
        """
        run = bench_module("run")
        ran: list[object] = []

        async def suite(arguments: object) -> list[dict[str, Any]]:
            ran.append(arguments)
            return MEASURED[:1]

        self.patch(run, "suite", suite)
        errors = io.StringIO()
        self.patch(sys, "stderr", errors)
        self.patch(sys, "stdout", io.StringIO())
        self.patch(run, "PEERS", {"ngircd": self.mktemp(), "inspircd": self.mktemp()})
        self.patch(sys, "argv", ["bench/run.py", "--irc", "--out", self.mktemp()])
        self.assertEqual(run.main(), 2)
        self.assertEqual(ran, [])
        self.assertEqual(
            errors.getvalue().splitlines(),
            [
                "bench/run.py --irc measures chat against inspircd and ngircd, not installed"
                " here: apt-get install inspircd ngircd"
            ],
        )
        self.patch(run, "PEERS", {"ngircd": sys.executable, "inspircd": self.mktemp()})
        self.patch(sys, "argv", ["bench/run.py", "--irc", "--only", "idle", "--out", self.mktemp()])
        errors.truncate(0)
        errors.seek(0)
        self.assertEqual(run.main(), 2)
        self.assertIn("apt-get install inspircd\n", errors.getvalue())
        self.patch(run, "PEERS", {"ngircd": sys.executable, "inspircd": sys.executable})
        self.assertEqual(run.main(), 0)
        self.assertEqual(len(ran), 1)

    def test_code_runs_that_checkout(self) -> None:
        """
        --code DIR runs the chat of DIR, wherever the benchmark is started
        (with DIR only on PYTHONPATH, ``python -c`` found the chat of the
        directory it was started in first, and both sides of a before and
        after ran the same code).
        """
        run = bench_module("run")
        other = Path(self.mktemp()).resolve()
        (other / "chat").mkdir(parents=True)
        (other / "chat" / "__init__.py").write_text("")
        launched: list[dict[str, Any]] = []
        self.patch(run.Server, "launch", lambda self, argv, what, **popen: launched.append(popen))
        workdir = Path(self.mktemp())
        workdir.mkdir()
        server = run.Server("chat-irc", workdir, code=str(other))
        server.log.close()
        here = os.getcwd()
        os.chdir(ROOT)
        self.addCleanup(os.chdir, here)
        found = subprocess.run(
            [sys.executable, "-c", "import chat; print(chat.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            **launched[0],
        )
        self.assertEqual(found.stdout.strip(), str(other / "chat" / "__init__.py"))
        # Results name a checkout by its commit (or its folder's name), not its path.
        self.assertEqual(run.revision(str(other)), other.name)
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        self.assertTrue(run.revision(str(ROOT)).startswith(head.stdout.strip()))
        # Two checkouts of one name stay two rows of the report.
        twin = Path(self.mktemp(), other.name).resolve()
        twin.mkdir(parents=True)
        labels = run.checkout_labels([str(other), str(twin)])
        self.assertEqual(labels, {str(other): other.name, str(twin): other.name + " #2"})

    def test_idle_bytes_says_where_they_are(self) -> None:
        """
        bench/idle_bytes.py logs clients in over real TCP and prints the
        server's bytes per connection, in all and line by line of the code
        that allocated them (ours among them).
        """
        for door in ([], ["--line"]):
            found = subprocess.run(
                [sys.executable, str(BENCH / "idle_bytes.py"), "--clients", "40", *door],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            lines = found.stdout.splitlines()
            self.assertRegex(lines[0], r"^\d+ bytes per connection in all, 40 connections$")
            total = int(lines[0].split()[0])
            self.assertGreater(total, 500)
            self.assertLess(total, 10_000)
            self.assertTrue(any(" chat/net/connection.py:" in line for line in lines[2:]), lines)

    def test_results_are_untracked_unless_asked(self) -> None:
        """
        Without --out, results go to bench/runs/, which git ignores;
        bench/results/, where the runs the documents quote are kept, only when asked.
        """
        run, report = bench_module("run"), bench_module("report")

        async def suite(arguments: object) -> list[dict[str, Any]]:
            return MEASURED[:1]

        folders: list[Path] = []
        self.patch(run, "suite", suite)
        self.patch(report, "write_report", lambda results, folder, about: folders.append(folder))
        for argv, folder in [
            (["bench/run.py"], BENCH / "runs"),
            (["bench/run.py", "--out", "bench/results"], Path("bench/results")),
        ]:
            self.patch(sys, "argv", argv)
            run.main()
            self.assertEqual(folders.pop(), folder)
        ignored = (ROOT / ".gitignore").read_text("utf-8").splitlines()
        self.assertIn("bench/runs/", ignored)
