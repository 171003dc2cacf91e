"""
The page in a real browser: Debian's Chromium, headless, driven by
Playwright (its Python package, pointed at the system's browser: a browser
download at test time fails on the project's machines), against a real
`twistd -n chat --web`, beside a netcat user.

The browser's side runs in one thread of its own (Playwright's objects
belong to the thread that made them), as a user's would; the server is
restarted from the reactor while the pages stay open.

Screenshots of the page at a desktop's and a phone's size are written to
C{_trial_temp/screenshots/} (not committed).
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import blockingCallFromThread, deferToThread
from twisted.trial.unittest import TestCase

from chat.irc.message import parse
from tests.live import TwistdRunner, reactor, start_twistd
from tests.web.test_door import Netcat

CHROMIUM = "/usr/bin/chromium"
# As this machine's Chromium must run: as root, and with nothing that
# reaches for the internet (the network is closed; it would wait on it).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 15_000
ATTACK = '<img src=x onerror="window.pwned=1">'
LINK = "javascript:window.pwned=2"


class IrcUser:
    """
    An IRC client that takes multiline messages, on a blocking socket.
    """

    def __init__(self, port: int, nickname: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_MS / 1000)
        self.buffer = b""
        self.sock.sendall(
            b"CAP REQ :batch message-tags draft/multiline\r\n"
            + f"NICK {nickname}\r\nUSER u 0 * :u\r\nCAP END\r\nJOIN #lobby\r\n".encode()
        )
        self.until(lambda line: " 366 " in line)

    def until(self, done: Any) -> list[str]:
        got: list[str] = []
        while True:
            while b"\r\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\r\n", 1)
                got.append(raw.decode())
                if done(got[-1]):
                    return got
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed; got {got}")
            self.buffer += chunk

    def multiline(self) -> list[str]:
        """
        The lines of the next multiline batch, which must come.
        """
        ref = None
        lines: list[str] = []

        def done(line: str) -> bool:
            nonlocal ref
            message = parse(line)
            assert message is not None, line
            if message.verb == "BATCH" and message.params[1:2] == ("draft/multiline",):
                ref = message.params[0][1:]
            elif ref is not None and message.tags.get("batch") == ref:
                lines.append(message.params[-1])
            return ref is not None and message.verb == "BATCH" and message.params[0] == "-" + ref

        self.until(done)
        return lines

    def close(self) -> None:
        self.sock.close()


def log_of(page: Any) -> list[str]:
    """
    The lines a page shows, each as it reads, without its time and its
    Delete button.
    """
    rows = page.locator("#log li").all_inner_texts()
    return [re.sub(r"^\d\d?:\d\d(\s*[AP]M)?\s*|\s*Delete$", "", row).strip() for row in rows]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BrowserTests(TestCase):
    timeout = 180

    def setUp(self) -> None:
        self.assertTrue(
            os.path.exists(CHROMIUM), "chromium is missing: make test installs it (apt-get)"
        )
        self.folder = Path(self.mktemp()).resolve()
        self.folder.mkdir()
        self.web_port = free_port()
        self.line_port = free_port()
        self.irc_port = free_port()
        self.server: TwistdRunner | None = None

    async def start(self) -> None:
        """
        `twistd -n chat` with the web door and the line door on fixed
        loopback ports (the same again after a restart), history on.
        """
        self.server, _ = await start_twistd(
            self.folder,
            "--listen", f"tcp:{self.line_port}:interface=127.0.0.1",
            "--web", f"tcp:{self.web_port}:interface=127.0.0.1",
            "--irc", f"tcp:{self.irc_port}:interface=127.0.0.1",
            "--db", str(self.folder / "chat.sqlite3"),
            "--flood", "off",
        )  # fmt: skip
        await self.server.logged(b"Web door on ")
        self.addCleanup(self.server.stop)

    async def restart(self) -> None:
        assert self.server is not None
        await self.server.stop()
        await self.start()

    def in_reactor(self, coroutine: Any) -> None:
        """
        From the browser's thread: run C{coroutine} in the reactor and wait for it.
        """
        blockingCallFromThread(reactor, lambda: Deferred.fromCoroutine(coroutine))

    async def test_two_browsers_netcat_and_a_restart(self) -> None:
        """
        Two people on the page (one at a phone's size) and one on netcat
        chat in the lobby; the history is there on entering; a private
        message opens a conversation with an unread count; markup and
        `javascript:` links typed by anyone are shown as text and nothing
        runs (asked of the page itself); after the server restarts, the
        page reconnects, joins again, catches up with what was said while
        it was away, and shows nothing twice.
        """
        await self.start()
        seen = await deferToThread(self.browse)
        self.assertEqual(seen["alice lobby"].count("<nc> before anyone came"), 1)
        self.assertIn("<alice> hello from alice", seen["bob lobby"])
        self.assertIn("<nc> hi browsers", seen["bob lobby"])
        self.assertIn("<bob> psst", seen["alice with bob"])
        self.assertEqual(seen["unread from bob"], "1")
        for who in ("alice", "bob"):
            self.assertEqual(seen[f"{who} pwned"], None)
            self.assertEqual(seen[f"{who} images and links"], 0)
            self.assertIn(f"<nc> {ATTACK}", seen[f"{who} lobby"])
            self.assertIn(f"<alice> {LINK}", seen[f"{who} lobby"])
        self.assertEqual(seen["dialogs"], [])
        self.assertIn("<alice> hello from alice", seen["nc heard"])
        # A pasted block of ten lines: one message on the other page, one
        # multiline batch for an IRC client that takes them, ten lines on netcat.
        block = [f"line {n} of the paste" for n in range(1, 11)]
        self.assertEqual(seen["bob paste"], "<alice> " + "\n".join(block))
        self.assertEqual(seen["irc paste"], block)
        self.assertEqual(seen["nc paste"], [f"<alice> {line}" for line in block])
        self.assertIn("<nc2> after the restart", seen["alice after"])
        after = seen["alice after"]
        self.assertEqual(after.count("<nc3> while the pages were away"), 1, after)
        self.assertLess(
            after.index("<nc3> while the pages were away"), after.index("<nc2> after the restart")
        )
        self.assertEqual(seen["alice after"].count("<alice> hello from alice"), 1)
        self.assertEqual(seen["alice after"].count("<nc> before anyone came"), 1)
        for size in ("desktop", "phone"):
            self.assertTrue(Path("screenshots", f"{size}.png").stat().st_size > 1000)

    async def test_read_on_one_device_is_read_on_the_next(self) -> None:
        """
        A user registers its nickname from the page; what it read on one
        device is read on the next
        (IRCv3 read-marker, kept by the server): the second page shows a
        "new" divider just above the first line said since, and counts no
        line as unread that the first page showed. A message of its own it
        deletes (IRCv3 message-redaction) is gone from the page and from a
        netcat user's search. As the operator of a room it made, it
        deletes others' messages, sets a mode and the topic from the room's
        settings, and kicks.
        """
        await self.start()
        seen = await deferToThread(self.read_elsewhere)
        self.assertIsNotNone(seen["marked"], "the first device's marker never reached the server")
        self.assertNotIn("New since you last read", seen["first device"])
        second = seen["second device"]
        self.assertEqual(second.count("New since you last read"), 1, second)
        at = second.index("New since you last read")
        self.assertEqual(
            second[at - 1 : at + 2], ["<nc> two", "New since you last read", "<nc> three"]
        )
        self.assertEqual(seen["unread in the lobby"], "2")
        self.assertIn("(deleted by alice)", seen["after deleting"])
        self.assertNotIn("<alice> my typo", seen["after deleting"])
        self.assertEqual(seen["nc search"][-1], "*** No messages in side match 'typo'.")
        self.assertNotIn("<nc> buy cheap stuff", seen["after moderating"])
        self.assertIn("put out of side by alice", seen["nc kicked"])
        self.assertIn("alice set mode +m", seen["nc mode"])
        self.assertIn("quiet please", seen["nc topic"])
        self.assertTrue(seen["moderated box"])

    async def test_history_on_entering_and_scrolling_back(self) -> None:
        """
        A room with 130 messages: the page shows the last 50 on entering,
        the 50 before on scrolling to the top, and the first 30 when asked
        with the "Show earlier messages" button (a keyboard reaches it);
        then no button, as nothing older is kept. Each message is shown
        once, in the order it was said. A private conversation kept for an
        account is there on a new device (IRCv3 chathistory TARGETS).
        """
        await self.start()
        seen = await deferToThread(self.scroll_back)
        self.assertEqual(seen["entering"], [f"<nc> number {n}" for n in range(80, 130)])
        self.assertTrue(seen["log scrolls"])
        self.assertTrue(seen["at the bottom"])
        self.assertEqual(seen["scrolled"], [f"<nc> number {n}" for n in range(30, 130)])
        self.assertEqual(seen["all"], [f"<nc> number {n}" for n in range(130)])
        self.assertEqual(seen["buttons left"], 0)
        self.assertIn("number 0", seen["focused"])
        self.assertIn("<bob> kept for later", seen["conversation on a new device"])

    def scroll_back(self) -> dict[str, Any]:
        from playwright.sync_api import Page, sync_playwright

        seen: dict[str, Any] = {}
        url = f"http://127.0.0.1:{self.web_port}/"
        watcher = Netcat(self.line_port, "watcher")
        nc = Netcat(self.line_port, "nc")
        for n in range(130):
            nc.send(f"number {n}")
        watcher.until(lambda line: "number 129" in line)
        watcher.close()

        def said(page: Page) -> list[str]:
            return [row for row in log_of(page) if "number" in row]

        def enter(page: Page, nickname: str, password: str = "") -> None:
            page.goto(url)
            page.get_by_label("Nickname", exact=True).fill(nickname)
            if password:
                page.get_by_role("textbox", name="Password").fill(password)
                page.get_by_label("Register this nickname with this password").check()
            page.get_by_role("button", name="Enter").click()
            page.locator("#app").wait_for(state="visible", timeout=WAIT_MS)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                enter(page, "reader", "secret123")
                page.locator("#log li", has_text="number 129").wait_for(timeout=WAIT_MS)
                page.locator("#log li", has_text="reader is now registered").wait_for(
                    timeout=WAIT_MS
                )
                seen["entering"] = said(page)
                # The newest line is in view, at the bottom.
                seen["at the bottom"] = page.locator("#log").evaluate(
                    "log => log.scrollHeight - log.scrollTop - log.clientHeight < 2"
                )
                # The conversation scrolls, not the page: the input stays in view.
                seen["log scrolls"] = page.locator("#log").evaluate(
                    "log => log.scrollHeight > log.clientHeight"
                )
                page.locator("#log").evaluate("log => { log.scrollTop = 0; }")
                page.locator("#log li", has_text="number 30").wait_for(timeout=WAIT_MS)
                seen["scrolled"] = said(page)
                button = page.get_by_role("button", name="Show earlier messages")
                button.focus()
                page.keyboard.press("Enter")
                page.locator("#log li", has_text="number 0").first.wait_for(timeout=WAIT_MS)
                seen["all"] = said(page)
                page.get_by_role("button", name="Show earlier messages").wait_for(
                    state="detached", timeout=WAIT_MS
                )
                seen["buttons left"] = page.get_by_role(
                    "button", name="Show earlier messages"
                ).count()
                # The button gone, its focus is on the first line it brought.
                seen["focused"] = page.evaluate("document.activeElement.textContent")
                # bob writes to reader, who is on another device next.
                bob = Netcat(self.line_port, "bob")
                bob.send("/msg reader kept for later")
                page.locator("#targets button", has_text="bob").wait_for(timeout=WAIT_MS)
                bob.close()
                page.context.close()
                other = browser.new_context().new_page()
                other.goto(url)
                other.get_by_label("Nickname", exact=True).fill("reader")
                other.get_by_role("textbox", name="Password").fill("secret123")
                other.get_by_role("button", name="Enter").click()
                other.locator("#targets button", has_text="bob").click(timeout=WAIT_MS)
                other.locator("#log li", has_text="kept for later").wait_for(timeout=WAIT_MS)
                seen["conversation on a new device"] = log_of(other)
            finally:
                browser.close()
                nc.close()
        return seen

    def read_elsewhere(self) -> dict[str, Any]:
        """
        One user on two devices in turn, and a netcat user talking between.
        """
        from playwright.sync_api import Page, sync_playwright

        seen: dict[str, Any] = {}
        url = f"http://127.0.0.1:{self.web_port}/"
        nc = Netcat(self.line_port, "nc")
        nc.send("one")
        nc.send("two")
        database = self.folder / "chat.sqlite3"

        def enter(page: Page, register: bool = False) -> None:
            page.goto(url)
            page.get_by_label("Nickname", exact=True).fill("alice")
            page.get_by_role("textbox", name="Password").fill("secret123")
            if register:
                page.get_by_label("Register this nickname with this password").check()
            page.get_by_role("button", name="Enter").click()
            page.locator("#app").wait_for(state="visible", timeout=WAIT_MS)

        def marked() -> float | None:
            # What the server keeps for the account (the first device's
            # marker reaches it half a second after the lines are shown).
            import sqlite3

            with sqlite3.connect(database) as db:
                row = db.execute(
                    "SELECT at FROM read_markers WHERE account = 'alice' AND target = '#lobby'"
                ).fetchone()
            return None if row is None else float(row[0])

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                # The first device registers the nickname from the page.
                first = browser.new_context().new_page()
                enter(first, register=True)
                first.locator("#log li", has_text="alice is now registered").wait_for(
                    timeout=WAIT_MS
                )
                first.locator("#log li", has_text="two").wait_for(timeout=WAIT_MS)
                deadline = time.monotonic() + WAIT_MS / 1000
                while marked() is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                seen["marked"] = marked()
                seen["first device"] = log_of(first)
                first.context.close()
                nc.send("three")
                nc.send("four")
                second = browser.new_context().new_page()
                enter(second)
                second.locator("#log li", has_text="four").wait_for(timeout=WAIT_MS)
                seen["second device"] = log_of(second)
                # Elsewhere, the lobby's lines count as unread until it is shown again.
                second.get_by_label("Message", exact=True).fill("/join #side")
                second.get_by_label("Message", exact=True).press("Enter")
                second.locator("#title", has_text="#side").wait_for(timeout=WAIT_MS)
                nc.send("five")
                nc.send("six")
                unread = second.locator("#targets button", has_text="#lobby").locator(".unread")
                # Two lines said since: once both are counted, the count stays.
                unread.filter(has_text=re.compile(r"^[2-9]")).wait_for(timeout=WAIT_MS)
                seen["unread in the lobby"] = unread.inner_text()
                # A message of one's own deleted: gone for everyone, and from a search.
                nc.send("/join side")
                second.get_by_label("Message", exact=True).fill("my typo")
                second.get_by_label("Message", exact=True).press("Enter")
                nc.until(lambda line: "my typo" in line)
                second.get_by_role("button", name="Delete your message: my typo").click()
                second.locator("#log li", has_text="(deleted by alice)").wait_for(timeout=WAIT_MS)
                seen["after deleting"] = log_of(second)
                nc.send("/search typo")
                seen["nc search"] = nc.until(lambda line: "match" in line)
                # As the operator of #side (alice made it), anyone's message, and kicking.
                nc.send("buy cheap stuff")
                second.get_by_role("button", name="Delete nc's message: buy cheap stuff").click()
                second.locator("#log li", has_text="(deleted by alice)").nth(1).wait_for(
                    timeout=WAIT_MS
                )
                seen["after moderating"] = log_of(second)
                # The room's settings, from the page: a mode and the topic.
                second.get_by_text("Room settings").click()
                second.get_by_label("Moderated: only operators and voiced people speak").check()
                seen["nc mode"] = nc.until(lambda line: "+m" in line)[-1]
                second.get_by_label("Topic", exact=True).fill("quiet please")
                second.get_by_role("button", name="Set topic").click()
                seen["nc topic"] = nc.until(lambda line: "quiet please" in line)[-1]
                second.locator("#topic", has_text="quiet please").wait_for(timeout=WAIT_MS)
                seen["moderated box"] = second.get_by_label(
                    "Moderated: only operators and voiced people speak"
                ).is_checked()
                second.get_by_role("button", name="Kick nc", exact=True).click()
                seen["nc kicked"] = nc.until(lambda line: "alice" in line and "side" in line)[-1]
            finally:
                browser.close()
                nc.close()
        return seen

    def browse(self) -> dict[str, Any]:
        """
        The users' side, in this thread: what each saw.
        """
        from playwright.sync_api import Dialog, Page, sync_playwright
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        seen: dict[str, Any] = {"dialogs": []}
        url = f"http://127.0.0.1:{self.web_port}/"
        nc = Netcat(self.line_port, "nc")
        nc.send("before anyone came")

        def wait_line(page: Page, text: str) -> None:
            try:
                page.locator("#log li", has_text=text).first.wait_for(timeout=WAIT_MS)
            except PlaywrightTimeout:
                raise AssertionError(
                    f"{text!r} not shown in {page.locator('#title').inner_text()}: {log_of(page)}; "
                    f"{page.locator('#targets').inner_html()}"
                ) from None

        def enter(page: Page, nickname: str) -> None:
            page.goto(url)
            page.get_by_label("Nickname", exact=True).fill(nickname)
            page.get_by_role("button", name="Enter").click()
            page.locator("#app").wait_for(state="visible", timeout=WAIT_MS)
            # In, the form is gone: only the chat is on the screen.
            page.locator("#login").wait_for(state="hidden", timeout=WAIT_MS)
            wait_line(page, "before anyone came")

        def say(page: Page, text: str) -> None:
            page.get_by_label("Message", exact=True).fill(text)
            page.get_by_label("Message", exact=True).press("Enter")

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                alice = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                bob = browser.new_context(
                    viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
                ).new_page()

                def dialog(opened: Dialog) -> None:
                    # An alert() that ran: the test fails on it, and dismisses it.
                    seen["dialogs"].append(opened.message)
                    opened.dismiss()

                for page in (alice, bob):
                    page.on("dialog", dialog)
                enter(alice, "alice")
                enter(bob, "bob")
                seen["alice lobby"] = log_of(alice)
                say(alice, "hello from alice")
                wait_line(bob, "hello from alice")
                seen["nc heard"] = nc.until(lambda line: "hello from alice" in line)
                nc.send("hi browsers")
                wait_line(bob, "hi browsers")
                irc = IrcUser(self.irc_port, "ircuser")
                block = "\n".join(f"line {n} of the paste" for n in range(1, 11))
                alice.get_by_label("Message", exact=True).fill(block)
                alice.get_by_label("Message", exact=True).press("Enter")
                wait_line(bob, "line 10 of the paste")
                seen["bob paste"] = re.sub(
                    r"^\d\d?:\d\d(\s*[AP]M)?\s*",
                    "",
                    bob.locator("#log li", has_text="line 10 of the paste").inner_text(),
                ).strip()
                seen["irc paste"] = irc.multiline()
                seen["nc paste"] = nc.until(lambda line: "line 10 of the paste" in line)[-10:]
                irc.close()
                say(bob, "/msg alice psst")
                alice.locator("#targets button", has_text="bob").wait_for(timeout=WAIT_MS)
                seen["unread from bob"] = (
                    alice.locator("#targets button", has_text="bob").locator(".unread").inner_text()
                )
                alice.locator("#targets button", has_text="bob").click()
                wait_line(alice, "psst")
                seen["alice with bob"] = log_of(alice)
                bob.locator("#targets button", has_text="#lobby").click()
                alice.locator("#targets button", has_text="#lobby").click()
                nc.send(ATTACK)
                say(alice, LINK)
                for name, page in (("alice", alice), ("bob", bob)):
                    wait_line(page, "onerror")
                    wait_line(page, LINK)
                    seen[f"{name} pwned"] = page.evaluate("window.pwned")
                    seen[f"{name} images and links"] = page.locator("#log img, #log a").count()
                    seen[f"{name} lobby"] = log_of(page)
                Path("screenshots").mkdir(exist_ok=True)
                alice.screenshot(path="screenshots/desktop.png", full_page=True)
                bob.screenshot(path="screenshots/phone.png", full_page=True)
                nc.close()

                self.in_reactor(self.restart())
                # Said as soon as the server is back: the pages, trying
                # again every second or more, are not back yet; they catch up.
                nc = Netcat(self.line_port, "nc3")
                nc.send("while the pages were away")
                nc.close()
                # The page tries again after a second, then joins again.
                alice.locator("#status", has_text="Disconnected").wait_for(
                    state="hidden", timeout=WAIT_MS
                )
                nc = Netcat(self.line_port, "nc2")
                bob.locator("#status:empty").wait_for(state="attached", timeout=WAIT_MS)
                alice.wait_for_function(
                    "document.querySelectorAll('#people li').length >= 3", timeout=WAIT_MS
                )
                nc.send("after the restart")
                wait_line(alice, "after the restart")
                wait_line(alice, "while the pages were away")
                seen["alice after"] = log_of(alice)
                nc.close()
            finally:
                browser.close()
        return seen
