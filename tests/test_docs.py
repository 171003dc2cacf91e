"""
docs/protocol.md describes every line the server sends, and docs/irc.md what
the IRC door announces: checked against the real thing.
"""

import re
from pathlib import Path

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat import __version__
from chat.core.service import Settings
from chat.store.accounts import Accounts
from chat.store.bans import Bans
from chat.store.history import History
from tests.helpers import Client, IRCUser, SyncPool, make_service, new_service

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text("utf-8")
IRC_DOC = (Path(__file__).resolve().parent.parent / "docs" / "irc.md").read_text("utf-8")


class ProtocolDocumentTests(SynchronousTestCase):
    def test_every_line_documented(self) -> None:
        """
        A session that uses every command, error and departure, with users named
        after the document's placeholders, produces only lines that the
        document shows verbatim (lists of online users aside).
        """
        service = make_service(server_name="NAME")
        other = Client(service, "A")
        nick = Client(service, "NICK")
        you = Client(service)
        you.send("/who", "/nick", "NICK", "1x", "you")
        you.send("TEXT", "//TEXT", "/msg NICK TEXT", "/me ACTION", "/help", "/NAME")
        nick.send("/away TEXT")
        you.send("/msg NICK TEXT")
        nick.send("/away")
        you.send("/msg NICK", "/me", "/nick", "/nick you")
        you.protocol.dataReceived(b"x" * 3000 + b"\n")
        you.send("/quit REASON")
        you.hang_up()
        nick.send("/quit")
        nick.hang_up()
        other.send("/msg NICK TEXT")
        late = Client(service)
        late.send("/quit")
        service.stopService()
        lines = you.lines() + nick.lines() + other.lines() + late.lines()
        renaming = make_service()
        renamed = Client(renaming, "you")
        watcher = Client(renaming, "NICK")
        renamed.send("/nick NEW")
        lines += watcher.lines() + renamed.lines()
        # Rooms, with a room called ROOM.
        rooms = make_service()
        stay = Client(rooms, "NICK")
        mover = Client(rooms, "you")
        host = Client(rooms, "A")
        host.send("/join ROOM", "/topic TEXT")
        mover.send("/topic", "/join ROOM", "/who", "/who *", "/rooms", "/topic", "/topic TEXT")
        mover.send("/join", "/join ROOM", "/join bad name", "/who x")
        host.send("/join lobby", "/topic")
        lines += stay.lines() + mover.lines() + host.lines()
        # History.
        clock = Clock()
        pool = SyncPool(self.mktemp())
        kept = new_service(clock, history=History(pool, clock))
        speaker = Client(kept, "NICK")
        speaker.send("/join ROOM", "/history", "/search TEXT", "TEXT", "/me ACTION")
        speaker.send("/history 3", "/search TEXT", "/history x", "/history 0", "/search")
        reader = Client(kept, "you")
        reader.send("/join ROOM")
        pool.fail_next = True
        reader.send("/history")
        self.flushLoggedErrors(RuntimeError)
        bare = Client(new_service(clock), "you")
        bare.send("/history", "/register PASSWORD")
        lines += speaker.lines() + reader.lines() + bare.lines()
        # Accounts, with the password PASSWORD.
        accounts = Accounts(pool, clock, maybeDeferred, cost=2**4)
        registry = new_service(
            clock, Settings(server_name="NAME"), history=History(pool, clock), accounts=accounts
        )
        owner = Client(registry, "NICK")
        owner.send("/register PASSWORD", "/register PASSWORD", "/register x", "/register")
        owner.send("/password", "/password WRONGPASS NEWPASS", "/unregister", "/login PASSWORD")
        owner.send("/password PASSWORD PASSWORD", "/quit")
        owner.hang_up()
        sender = Client(registry, "you")
        sender.send("/msg NICK TEXT", "/nick NICK")
        claimant = Client(registry)
        claimant.send("NICK", "wrong1", "wrong2", "PASSWORD")
        owner = Client(registry)
        owner.send("NICK", "/login PASSWORD", "/unregister PASSWORD")
        lines += owner.lines() + sender.lines() + claimant.lines()
        # Kept rooms: ROOM, kept by NICK (accounts of their own, so that what
        # is registered here changes nothing below), and private history.
        apart = SyncPool(self.mktemp())
        keeping = new_service(
            clock,
            Settings(server_name="NAME"),
            history=History(apart, clock),
            accounts=Accounts(apart, clock, maybeDeferred, cost=2**4),
        )
        founder = Client(keeping, "NICK")
        founder.send("/register PASSWORD", "/join ROOM", "/keep", "/keep", "/unkeep", "/unkeep")
        founder.send("/keep", "/part", "/keep", "/unkeep lobby")
        guest = Client(keeping, "you")
        guest.send("/join ROOM", "/unkeep")
        founder.send("/join ROOM")
        unregistered = Client(new_service(clock, accounts=keeping.accounts), "you")
        unregistered.send("/join ROOM", "/keep")
        founder.send("/msg you TEXT")
        guest.send("/history NICK", "/register PASSWORD", "/msg NICK TEXT", "/history NICK")
        guest.send("/history A", "/history NICK 0", "/history NICK x")
        lines += founder.lines() + guest.lines() + unregistered.lines()
        # Operators, with an operator called OP.
        pool.make_operator("OP", "PASSWORD")
        bans = Bans(pool, clock)
        bans.startService()
        staff = new_service(
            clock, Settings(admins=["OP"], server_name="NAME"), accounts=accounts, bans=bans
        )
        operator = Client(staff)
        operator.send("OP", "PASSWORD")
        kicked = Client(staff, "NICK")
        bystander = Client(staff, "you")
        # An operator is told so at login.
        lines += [line for line in operator.lines() if "operator" in line]
        operator.send("/kick NICK REASON", "/wall TEXT", "/kick", "/wall", "/ban OP")
        kicked.hang_up()
        bystander.send("/kick NICK", "/wall TEXT")
        # An operator's nickname nobody registered; lines pipelined behind a refusal.
        squatter = Client(
            new_service(clock, Settings(admins=["NICK"], server_name="NAME"), accounts=accounts)
        )
        squatter.paste("NICK", "TEXT", "TEXT")
        squatter.paste("you", "you")
        squatter.send("you", "help", "send NICK TEXT", "/say help", "/part", "/join #ROOM", "/part")
        lines += operator.lines() + kicked.lines() + bystander.lines() + squatter.lines()
        # A crowd: rooms of 2 or more.
        crowded = make_service(crowd=2)
        first = Client(crowded, "NICK")
        second = Client(crowded, "you")
        second.send("/join ROOM", "/join lobby", "/quit")
        lines += first.lines() + second.lines()
        self.assertGreater(len(lines), 50)
        for line in lines:
            # Counts, lists and the lobby's name stand in the document as placeholders.
            for pattern, placeholder in [
                (r"\d+ users? (online|here|in \w+): .*", r"N users \1: A, B, C"),
                (r"\d+ users (online|here) \(", r"N users \1 ("),
                (r"You are you\.", "You are NICK."),
                (r"\blobby\b", "ROOM"),
                (r"^\*\*\* \d+ rooms?:$", "*** N rooms:"),
                (r"^\*\*\*   (\w+) \(\d+\)", r"***   \1 (N)"),
                (r"^\[[-\d]+ [:\d]+\] ", "[2026-11-21 12:34] "),
                (r"^\*\*\* Last \d+ messages?\b", "*** Last N messages"),
                (r"^!!! Ignored \d+ lines", "!!! Ignored N lines"),
            ]:
                line = re.sub(pattern, placeholder, line)
            invalid = re.fullmatch(r"!!! Invalid (nickname|room name) '.*': (.*)\.", line)
            if invalid is not None:
                self.assertIn(f"`{invalid.group(2)}`", DOC, line)
                line = f"!!! Invalid {invalid.group(1)} 'TEXT': REASON."
            # Each user may stand in the document as "NICK" or as "you".
            variants = {line} | {
                re.sub(rf"\b{name}\b", placeholder, line)
                for name in ("you", "A", "NICK")
                for placeholder in ("NICK", "you")
            }
            self.assertTrue(any(variant in DOC for variant in variants), line)


class IRCDocumentTests(SynchronousTestCase):
    def test_welcome_as_sent(self) -> None:
        """
        docs/irc.md shows the 004 line and the CHANMODES token an IRC client
        is sent at registration, as they are sent.
        """
        service = make_service(server_name="SERVER")
        user = IRCUser(service)
        user.send("NICK NICK", "USER u 0 * :x")
        lines = user.lines()
        (line004,) = [line for line in lines if line.split()[1] == "004"]
        shown = line004.removeprefix(":").replace(f"chat-{__version__}", "chat-VERSION")
        self.assertIn(f"`{shown}`", IRC_DOC)
        (chanmodes,) = [t for line in lines for t in line.split() if t.startswith("CHANMODES=")]
        self.assertIn(f"`{chanmodes}`", IRC_DOC)
