"""
python -m chat.admin: an operator's password, set out of band, is what makes an operator.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.admin import main
from chat.core.service import ChatService, Settings
from chat.store.accounts import Accounts
from tests.helpers import Client, SyncPool, new_service


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class AdminToolTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.path = self.mktemp()
        self.errors = io.StringIO()
        self.patch(sys, "stderr", self.errors)

    def run_tool(
        self, *argv: str, stdin: io.StringIO | None = None, answers: Iterator[str] | None = None
    ) -> tuple[int, str]:
        out = io.StringIO()
        answers = answers if answers is not None else iter(())
        code = main(
            ["--db", self.path, *argv], stdin or io.StringIO(""), out, lambda _: next(answers)
        )
        return code, out.getvalue()

    def server(self) -> ChatService:
        clock = Clock()
        accounts = Accounts(SyncPool(self.path), clock, maybeDeferred, cost=2**4)
        return new_service(clock, Settings(admins=("root",)), accounts=accounts)

    def test_set_then_operator(self) -> None:
        """
        The password set with the tool (read from standard input) logs its
        owner in as an operator; the account's registration does not matter.
        """
        code, out = self.run_tool("root", stdin=io.StringIO("rootpass1\n"))
        self.assertEqual(code, 0, self.errors.getvalue())
        self.assertIn("root's operator password is set", out)
        op = Client(self.server())
        op.send("root", "rootpass1", "/wall hello")
        self.assertIn("*** Announcement from root: hello", op.lines())
        self.assertEqual(self.run_tool("--list"), (0, "root\n"))

    def test_replaces_a_strangers_password(self) -> None:
        """
        A stranger registered the admin's nickname first: setting the
        operator password replaces the stranger's, which no longer works.
        """
        service = self.server()
        stranger = Client(service)
        stranger.send("root")
        self.assertIn(
            "!!! The nickname root is kept for an operator of this server.", stranger.lines()
        )
        accounts = service.accounts
        assert accounts is not None
        self.successResultOf(accounts.register("root", "stolen1"))
        self.assertEqual(self.run_tool("root", stdin=io.StringIO("rootpass1\n"))[0], 0)
        again = Client(self.server())
        again.send("root", "stolen1")
        self.assertIn("!!! Wrong password; 2 tries left.", again.lines())

    def test_revoke(self) -> None:
        """
        --revoke makes the account an ordinary one: same password, no rights.
        """
        self.run_tool("root", stdin=io.StringIO("rootpass1\n"))
        self.assertEqual(
            self.run_tool("--revoke", "root"), (0, "root is an ordinary account now.\n")
        )
        user = Client(self.server())
        user.send("root", "rootpass1", "/wall hello")
        self.assertEqual(user.lines()[-1], "!!! Only operators can use /wall.")
        self.assertEqual(self.run_tool("--revoke", "root")[0], 1)
        self.assertIn("root is not an operator's account", self.errors.getvalue())

    def test_terminal_asks_twice(self) -> None:
        """
        On a terminal the password is asked for twice, unechoed; two that
        differ change nothing.
        """
        code, _ = self.run_tool("root", stdin=Terminal(), answers=iter(["rootpass1", "rootpass2"]))
        self.assertEqual(code, 1)
        self.assertIn("the two passwords differ", self.errors.getvalue())
        self.assertEqual(self.run_tool("--list"), (0, ""))
        code, _ = self.run_tool("root", stdin=Terminal(), answers=iter(["rootpass1", "rootpass1"]))
        self.assertEqual(code, 0)

    def test_refusals(self) -> None:
        """
        A bad nickname, a short password or a missing database are refused,
        each with one line.
        """
        self.assertEqual(self.run_tool("9lives")[0], 2)
        self.assertEqual(self.run_tool("root", stdin=io.StringIO("short\n"))[0], 1)
        missing = self.mktemp()
        self.assertEqual(main(["--db", missing, "--list"], io.StringIO(), io.StringIO()), 1)
        self.assertEqual(
            self.errors.getvalue().splitlines(),
            [
                "chat.admin: not a nickname: '9lives'",
                "chat.admin: choose another password (too short)",
                f"chat.admin: no such database: {missing}",
            ],
        )
