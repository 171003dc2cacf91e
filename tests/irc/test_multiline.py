"""
IRCv3 multiline through the IRC door: a pasted block sent as one batch is
one message, shown as one batch to clients that take them, as its lines to
the others (IRC and line users alike, each line with its sender's name in
front), kept and replayed as its lines; batches past the limits, or
malformed, are refused whole.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import Settings
from chat.irc.message import parse
from chat.store.history import History
from tests.helpers import Client, IRCUser, SyncPool, new_service

CAPS = "batch message-tags echo-message labeled-response draft/multiline"


class MultilineTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_072_000)
        self.service = new_service(
            self.clock,
            Settings(server_name="irc.test", history_lines=10),
            history=History(SyncPool(self.mktemp()), self.clock),
        )
        self.alice = IRCUser(self.service, "alice", caps=CAPS)
        self.bob = IRCUser(self.service, "bob", caps=CAPS)
        self.plain = IRCUser(self.service, "plain", caps="message-tags")
        for user in (self.alice, self.bob, self.plain):
            user.send("JOIN #den")
        self.liner = Client(self.service, "liner")
        self.liner.send("/join den")
        for user in (self.alice, self.bob, self.plain):
            user.lines()
        self.liner.lines()

    def paste(self, *lines: str, label: str = "") -> None:
        opening = f"@label={label} " if label else ""
        self.alice.send(f"{opening}BATCH +p1 draft/multiline #den")
        for line in lines:
            self.alice.send(line if line.startswith("@") else f"@batch=p1 {line}")
        self.alice.send("BATCH -p1")

    def test_one_message_shown_as_each_can(self) -> None:
        self.paste(
            "PRIVMSG #den :def f():",
            "PRIVMSG #den :    return 1",
            "PRIVMSG #den :",
            "PRIVMSG #den :the end, said ",
            "@batch=p1;draft/multiline-concat PRIVMSG #den :in two parts",
            label="L1",
        )
        echo = [parse(line) for line in self.alice.lines()]
        assert all(m is not None for m in echo)
        first = echo[0]
        assert first is not None
        self.assertEqual((first.verb, first.params[1:]), ("BATCH", ("draft/multiline", "#den")))
        self.assertEqual(dict(first.tags)["label"], "L1")
        msgid = dict(first.tags)["msgid"]
        relayed = [parse(line) for line in self.bob.lines()]
        self.assertEqual(
            [m.params[-1] for m in relayed if m is not None and m.verb == "PRIVMSG"],
            ["def f():", "    return 1", "", "the end, said ", "in two parts"],
        )
        # A client without multiline: the lines that are not blank, the first with the id.
        fallback = [parse(line) for line in self.plain.lines()]
        self.assertEqual(
            [(m.params[-1], dict(m.tags).get("msgid")) for m in fallback if m is not None],
            [
                ("def f():", msgid),
                ("    return 1", None),
                ("the end, said ", None),
                ("in two parts", None),
            ],
        )
        # A line user: one line each, the name in front of every one.
        self.assertEqual(
            self.liner.lines(),
            ["<alice> def f():", "<alice>     return 1", "<alice> the end, said in two parts"],
        )
        # Kept as one message; replayed as its lines, never a line break inside one.
        self.liner.send("/history")
        shown = self.liner.lines()
        self.assertEqual([line.split("] ", 1)[1] for line in shown[1:-1]][-3:], [
            "<alice> def f():", "<alice>     return 1", "<alice> the end, said in two parts",
        ])  # fmt: skip
        late = IRCUser(self.service, "late", caps="batch server-time")
        late.send("JOIN #den")
        replayed = [parse(line) for line in late.lines() if " PRIVMSG " in line]
        self.assertEqual(
            [m.params[-1] for m in replayed if m is not None],
            ["def f():", "    return 1", "the end, said in two parts"],
        )

    def test_limits_and_mistakes(self) -> None:
        """
        More than 32 lines, a blank line said to continue another, a line
        of another batch: refused with FAIL BATCH, nothing sent; what the
        client says next is sent as usual.
        """
        self.paste(*["PRIVMSG #den :spam"] * 33)
        said = self.alice.messages()
        self.assertEqual(
            said, [("irc.test", "FAIL", "BATCH", "MULTILINE_MAX_LINES", "32", "Too many lines")]
        )
        self.paste("PRIVMSG #den :hi", "@batch=p1;draft/multiline-concat PRIVMSG #den :")
        self.paste("PRIVMSG #den :hi", "@batch=other PRIVMSG #den :hi")
        self.assertEqual(
            [m[3] for m in self.alice.messages()], ["MULTILINE_INVALID", "MULTILINE_INVALID"]
        )
        self.assertEqual(self.bob.lines(), [])
        self.assertEqual(self.liner.lines(), [])
        self.alice.send("PRIVMSG #den :still here")
        self.assertEqual(self.liner.lines(), ["<alice> still here"])

    def test_needs_the_capability(self) -> None:
        self.plain.send("BATCH +x draft/multiline #den", "@batch=x PRIVMSG #den :hi", "BATCH -x")
        said = self.plain.messages()
        self.assertEqual(said[0][1:4], ("FAIL", "BATCH", "MULTILINE_INVALID"))
        self.assertEqual(self.liner.lines(), [])

    def test_to_a_nickname(self) -> None:
        """
        A multiline batch to a nickname arrives as its lines.
        """
        self.alice.send(
            "BATCH +q draft/multiline liner",
            "@batch=q PRIVMSG liner :one",
            "@batch=q PRIVMSG liner :two",
            "BATCH -q",
        )
        self.assertEqual(self.liner.lines(), ["*alice* one", "*alice* two"])


class LogTests(SynchronousTestCase):
    def test_one_line_in_the_log(self) -> None:
        """
        With --log-messages, a message of several lines is one line of the
        operator's log: a line break in it could forge another entry.
        """
        from twisted.logger import formatEvent, globalLogPublisher

        observer = EventLoggingObserver()
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        service = new_service(Clock(), Settings(server_name="irc.test", log_messages=True))
        alice = IRCUser(service, "alice", caps=CAPS)
        alice.send("JOIN #den")
        alice.send(
            "BATCH +p draft/multiline #den",
            "@batch=p PRIVMSG #den :hello",
            "@batch=p PRIVMSG #den :2026-12-04 root logged in",
            "BATCH -p",
        )
        logged = [line for line in map(formatEvent, observer) if "<alice>" in line]
        self.assertEqual(logged, ["<alice> hello\\n2026-12-04 root logged in"])


class HostileTests(SynchronousTestCase):
    """
    What a hostile client tried with multiline (a trial's findings).
    """

    def setUp(self) -> None:
        self.service = new_service(Clock(), Settings(server_name="irc.test"))
        self.alice = IRCUser(self.service, "alice", caps=CAPS)
        self.bob = IRCUser(self.service, "bob", caps=CAPS)
        for user in (self.alice, self.bob):
            user.send("JOIN #den")
            user.lines()
        self.liner = Client(self.service, "liner")
        self.liner.send("/join den")
        self.liner.lines()
        self.alice.lines()
        self.bob.lines()

    def test_blank_runs_across_pieces(self) -> None:
        """
        Blanks cut over many pieces are no longer a run than in one line: a
        fake notice cannot be pushed to look like a line of its own.
        """
        self.alice.send("BATCH +w draft/multiline #den", "@batch=w PRIVMSG #den :hi" + " " * 8)
        for _ in range(30):
            self.alice.send("@batch=w;draft/multiline-concat PRIVMSG #den :" + " " * 8)
        self.alice.send(
            "@batch=w;draft/multiline-concat PRIVMSG #den :*** Fake notice: you are banned",
            "BATCH -w",
        )
        (shown,) = self.liner.lines()
        self.assertEqual(shown, "<alice> hi" + " " * 16 + "*** Fake notice: you are banned")
        pieces = [parse(line) for line in self.bob.lines()]
        text = "".join(m.params[-1] for m in pieces if m is not None and m.verb == "PRIVMSG")
        self.assertEqual(text, "hi" + " " * 16 + "*** Fake notice: you are banned")

    def test_a_new_nickname_mid_batch(self) -> None:
        """
        A line that fitted when it came but would not with the nickname
        taken since: the batch is refused, with the label it opened with.
        """
        head = len(":alice!alice@chat PRIVMSG #den :\r\n")
        self.alice.send("@label=L9 BATCH +q draft/multiline #den")
        self.alice.send("@batch=q PRIVMSG #den :" + "x" * (512 - head))
        self.alice.send("NICK alice_longer1234", "BATCH -q")
        said = self.alice.lines()
        self.assertTrue(
            said[-1].startswith("@label=L9 :irc.test FAIL BATCH MULTILINE_INVALID"), said
        )
        self.assertEqual([line for line in self.bob.lines() if "PRIVMSG" in line], [])

    def test_past_the_limit_the_label_comes_back(self) -> None:
        self.alice.send("@label=L1 BATCH +f draft/multiline #den")
        for n in range(34):
            self.alice.send(f"@batch=f PRIVMSG #den :line {n}")
        self.alice.send("BATCH -f")
        self.assertEqual(
            self.alice.lines(),
            ["@label=L1 :irc.test FAIL BATCH MULTILINE_MAX_LINES 32 :Too many lines"],
        )

    def test_other_commands_with_a_batch_tag(self) -> None:
        """
        A command tagged with a batch while none is being sent is itself.
        """
        self.alice.send("@batch=zz JOIN #elsewhere")
        self.assertIn("JOIN", self.alice.codes())
