"""
docs/protocol.md describes every line the server sends: checked against the real thing.
"""

import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import Client, make_service

DOC = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text("utf-8")


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
        self.assertGreater(len(lines), 30)
        for line in lines:
            if "online: " in line:
                line = re.sub(r"\d+ users? online: .*", "N users online: A, B, C", line)
                line = line.replace("You are you.", "You are NICK.")
            invalid = re.fullmatch(r"!!! Invalid nickname '.*': (.*)\.", line)
            if invalid is not None:
                self.assertIn(f"`{invalid.group(1)}`", DOC, line)
                line = "!!! Invalid nickname 'TEXT': REASON."
            # Each user may stand in the document as the NICK placeholder.
            variants = {line} | {re.sub(rf"\b{name}\b", "NICK", line) for name in ("you", "A")}
            self.assertTrue(any(variant in DOC for variant in variants), line)
