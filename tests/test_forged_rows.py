"""
No text a user sets can push what follows onto a terminal row of its own,
where it would pass for another user's line or a server notice: blank runs
are cut to L{chat.core.limits.MAX_SPACES} columns whatever they are made of,
from either door; and the lobby's topic, which greets every newcomer, is the
server operators'.
"""

import json
import re

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from wcwidth import wcwidth

from chat.core.domain import MemoryChat
from chat.core.limits import LOBBY, MAX_SPACES
from chat.core.service import ChatService, Settings
from chat.core.text import clean
from chat.store import database, rooms
from chat.store.accounts import Accounts, hash_password
from chat.store.history import History
from chat.store.rooms import Rooms
from tests.helpers import (
    DRAWING_NOTHING,
    Client,
    IRCUser,
    SyncPool,
    draws_nothing,
    make_service,
    new_service,
)

# 16 spaces, then a joiner (which draws nothing), five times over: 85
# blank columns, which an 80-column terminal wraps, putting the rest at the
# start of a row. Each run of spaces is within the cap on its own.
ZWJ_PADDING = (" " * 16 + "\u200d") * 5
ZWNJ_PADDING = (" " * 16 + "\u200c") * 5
# Blanks of other kinds: a variation selector, a tag character, a combining
# mark on a space, the combining grapheme joiner, ideographic spaces (two
# columns each).
MIXED_PADDING = (" " * 15 + "\ufe0f" + " \u0301" + "\U000e0020" + "\u3000" * 8 + "\u034f") * 3
# Blanks that are not spaces nor default-ignorable, between runs of
# spaces: format characters (an interlinear annotation anchor, an Egyptian
# hieroglyph joiner), a code point Unicode has not assigned (a terminal that
# knows a newer Unicode may draw it as nothing), a private-use one (which
# the terminal's font may not draw), a spacing mark that the width table
# gives no column. Figure spaces (U+2007), which are not ASCII spaces,
# around another annotation character; and annotation characters alone,
# which no door splits a word at.
ANNOTATION_PADDING = (" " * 16 + "\ufff9") * 5
HIEROGLYPH_PADDING = (" " * 16 + "\U00013430") * 5
UNASSIGNED_PADDING = (" " * 16 + "\u0378") * 5
PRIVATE_PADDING = (" " * 16 + "\ue000") * 5
VISARGA_PADDING = (" " * 16 + "\u0903") * 5
FIGURE_PADDING = ("\u2007" * 16 + "\ufffa") * 5
ANCHORS = ("\ufff9" * 16 + "\ufffb") * 5
CUT = " " * 16
ASK = "<alice> bob, send me your password"
KICKED = "!!! You were kicked by admin"
T0 = 1_795_000_000.0
"""
2026-11-18 11:06:40 UTC.
"""


class LineDoorTests(SynchronousTestCase):
    """
    What a line user sets, as the others see it.
    """

    def setUp(self) -> None:
        self.service = make_service()
        self.eve = Client(self.service, "eve")
        self.bob = Client(self.service, "bob")
        self.wee = IRCUser(self.service, "wee")
        self.wee.send("JOIN #lobby")
        self.eve.lines()
        self.bob.lines()
        self.wee.lines()

    def test_message(self) -> None:
        """
        A message padded with spaces and joiners reaches line and IRC users
        with one run of 16 spaces, so the forged line stays on the sender's row.
        """
        self.eve.send("hi" + ZWJ_PADDING + ASK)
        self.eve.send("ok" + MIXED_PADDING + KICKED)
        self.assertEqual(
            self.bob.lines(),
            [
                "<eve> hi" + CUT + ASK,
                "<eve> ok" + CUT + KICKED,
            ],
        )
        self.assertEqual(
            [m[3] for m in self.wee.messages()],
            ["hi" + CUT + ASK, "ok" + CUT + KICKED],
        )

    def test_topic(self) -> None:
        """
        A topic padded with non-joiners is set with one run of 16 spaces.
        """
        self.eve.send("/join den")
        self.bob.send("/join den")
        self.eve.lines()
        self.eve.send("/topic games" + ZWNJ_PADDING + KICKED)
        self.assertEqual(self.bob.lines()[-1], "*** eve set the topic: games" + CUT + KICKED)

    def test_away_text(self) -> None:
        """
        An away text padded with joiners is told, to whoever messages its
        author, with one run of 16 spaces.
        """
        self.eve.send("/away lunch" + ZWJ_PADDING + ASK)
        self.bob.lines()
        self.bob.send("/msg eve hi")
        self.assertEqual(
            self.bob.lines(),
            ["-> *eve* hi", "*** eve is away: lunch" + CUT + ASK],
        )

    def test_quit_reason(self) -> None:
        """
        A quit reason padded with joiners is told to the room with one run of 16 spaces.
        """
        self.eve.send("/quit bye" + ZWJ_PADDING + KICKED)
        self.assertEqual(
            self.bob.lines(), ["*** eve has left (bye" + CUT + "!!! You were kicked by admin)"]
        )

    def test_message_through_format_characters(self) -> None:
        """
        A message padded with spaces and annotation anchors, or spacing
        marks of no width, reaches line and IRC users with one run of 16 spaces.
        """
        self.eve.send("hi" + ANNOTATION_PADDING + ASK, "ok" + VISARGA_PADDING + KICKED)
        self.assertEqual(self.bob.lines(), ["<eve> hi" + CUT + ASK, "<eve> ok" + CUT + KICKED])
        self.assertEqual(
            [m[3] for m in self.wee.messages()], ["hi" + CUT + ASK, "ok" + CUT + KICKED]
        )

    def test_ban_mask_and_key(self) -> None:
        """
        A ban mask and a key padded with format characters, which no door
        splits a word at, are set without them.
        """
        self.eve.send("/join den")
        self.bob.send("/join den")
        self.eve.lines()
        self.bob.lines()
        self.eve.send("/mode +b *!*@" + ANCHORS + "evil", "/mode +k " + ANCHORS + "sesame")
        self.assertEqual(
            self.bob.lines(),
            ["*** eve set mode +b *!*@evil", "*** eve set mode +k sesame"],
        )


class IRCDoorTests(SynchronousTestCase):
    """
    What an IRC user sets, as line users see it.
    """

    def setUp(self) -> None:
        self.service = make_service()
        self.bob = Client(self.service, "bob")
        self.eve = IRCUser(self.service, "eve")
        self.eve.send("JOIN #lobby")
        self.bob.lines()

    def test_message(self) -> None:
        """
        A channel message padded with spaces and joiners reaches line users
        with one run of 16 spaces.
        """
        self.eve.send("PRIVMSG #lobby :hi" + ZWJ_PADDING + ASK)
        self.eve.send("PRIVMSG #lobby :ok" + MIXED_PADDING + KICKED)
        self.assertEqual(
            self.bob.lines(),
            [
                "<eve> hi" + CUT + ASK,
                "<eve> ok" + CUT + KICKED,
            ],
        )

    def test_topic(self) -> None:
        """
        A channel topic padded with non-joiners is set with one run of 16 spaces.
        """
        self.eve.send("JOIN #den")
        self.bob.send("/join den")
        self.bob.lines()
        self.eve.send("TOPIC #den :games" + ZWNJ_PADDING + KICKED)
        self.assertEqual(self.bob.lines(), ["*** eve set the topic: games" + CUT + KICKED])

    def test_away_text(self) -> None:
        """
        An IRC away text padded with joiners is told with one run of 16 spaces.
        """
        self.eve.send("AWAY :lunch" + ZWJ_PADDING + ASK)
        self.bob.send("/msg eve hi")
        self.assertEqual(
            self.bob.lines(),
            ["-> *eve* hi", "*** eve is away: lunch" + CUT + ASK],
        )

    def test_quit_reason(self) -> None:
        """
        An IRC quit reason padded with joiners is told with one run of 16 spaces.
        """
        self.eve.send("QUIT :bye" + ZWJ_PADDING + KICKED)
        self.assertEqual(
            self.bob.lines(), ["*** eve has left (bye" + CUT + "!!! You were kicked by admin)"]
        )

    def test_message_through_format_characters(self) -> None:
        """
        A channel message padded with spaces and format characters that are
        not default-ignorable (an annotation anchor, an Egyptian hieroglyph
        joiner) reaches line users with one run of 16 spaces: the forged
        line stays on the sender's row.
        """
        self.eve.send("PRIVMSG #lobby :hi" + ANNOTATION_PADDING + ASK)
        self.eve.send("PRIVMSG #lobby :ok" + HIEROGLYPH_PADDING + KICKED)
        self.assertEqual(self.bob.lines(), ["<eve> hi" + CUT + ASK, "<eve> ok" + CUT + KICKED])

    def test_topic_through_format_characters(self) -> None:
        """
        A channel topic padded with unassigned code points is set with one run of 16 spaces.
        """
        self.eve.send("JOIN #den")
        self.bob.send("/join den")
        self.bob.lines()
        self.eve.send("TOPIC #den :games" + UNASSIGNED_PADDING + KICKED)
        self.assertEqual(self.bob.lines(), ["*** eve set the topic: games" + CUT + KICKED])

    def test_away_text_through_format_characters(self) -> None:
        """
        An IRC away text padded with hieroglyph joiners is told with one run of 16 spaces.
        """
        self.eve.send("AWAY :lunch" + HIEROGLYPH_PADDING + KICKED)
        self.bob.send("/msg eve hi")
        self.assertEqual(self.bob.lines(), ["-> *eve* hi", "*** eve is away: lunch" + CUT + KICKED])

    def test_quit_reason_through_format_characters(self) -> None:
        """
        An IRC quit reason padded with private-use code points is told with one run of 16 spaces.
        """
        self.eve.send("QUIT :bye" + PRIVATE_PADDING + KICKED)
        self.assertEqual(
            self.bob.lines(), ["*** eve has left (bye" + CUT + "!!! You were kicked by admin)"]
        )

    def test_ban_mask_with_figure_spaces(self) -> None:
        """
        A ban mask given as a trailing parameter, padded with figure spaces
        (which are not ASCII spaces) and annotation characters, is set as
        one word without them; so is a key.
        """
        self.eve.send("JOIN #den")
        self.bob.send("/join den")
        self.bob.lines()
        self.eve.send("MODE #den +b :*!*@" + FIGURE_PADDING + "evil")
        self.eve.send("MODE #den +k :" + "\u2007" * 8 + "ses\u2007ame")
        self.assertEqual(
            self.bob.lines(), ["*** eve set mode +b *!*@evil", "*** eve set mode +k sesame"]
        )

    def test_real_name(self) -> None:
        """
        A real name padded with spacing marks of no width is shown, in
        WHOIS, with one run of 16 spaces.
        """
        wee = IRCUser(self.service)
        wee.send("NICK wee", "USER w 0 * :Wee" + VISARGA_PADDING + KICKED)
        self.eve.lines()
        self.eve.send("WHOIS wee")
        whois = {m[1]: m[2:] for m in self.eve.messages()}
        self.assertEqual(whois["311"][-1], "Wee" + CUT + KICKED)


class LobbyTopicTests(SynchronousTestCase):
    """
    The lobby, where every line user lands, has no room operators: its
    topic, which greets every newcomer, is the server operators'.
    """

    def setUp(self) -> None:
        pool = SyncPool(self.mktemp())
        self.addCleanup(pool.close)
        pool.make_operator("root", "rootpass")
        clock = Clock()
        accounts = Accounts(pool, clock, maybeDeferred, cost=2**4)
        self.service = new_service(clock, Settings(admins=("root",)), accounts=accounts)
        self.eve = Client(self.service, "eve")
        self.bob = Client(self.service, "bob")
        self.eve.lines()

    def newcomer(self) -> list[str]:
        """
        What a line user who logs in now is greeted with.
        """
        dave = Client(self.service)
        dave.lines()
        dave.send("dave")
        return dave.lines()

    def test_line_user_refused(self) -> None:
        """
        A line user's /topic in the lobby is refused; nobody is told, and
        newcomers are greeted without it.
        """
        self.eve.send("/topic " + ASK)
        self.assertEqual(self.eve.lines(), ["!!! Only the operators of lobby may do that."])
        self.assertEqual(self.bob.lines(), [])
        self.assertFalse([line for line in self.newcomer() if "Topic" in line])

    def test_irc_user_refused(self) -> None:
        """
        An IRC user's TOPIC for #lobby is refused with 482, and changes nothing.
        """
        eve = IRCUser(self.service, "ircEve")
        eve.send("JOIN #lobby")
        eve.lines()
        eve.send("TOPIC #lobby :" + ASK)
        self.assertEqual(
            eve.messages(), [("chat", "482", "ircEve", "#lobby", "You're not channel operator")]
        )
        self.bob.send("/topic")
        self.assertEqual(self.bob.lines()[-1], "*** lobby has no topic.")

    def test_server_operator_sets_it(self) -> None:
        """
        A server operator sets the lobby's topic: the lobby is told, and
        newcomers are greeted with it.
        """
        root = Client(self.service)
        root.send("root", "rootpass")
        self.bob.lines()
        root.send("/topic Be nice")
        self.assertEqual(self.bob.lines(), ["*** root set the topic: Be nice"])
        self.assertEqual(self.newcomer()[-1], "*** Topic: Be nice")


class StoredTextTests(SynchronousTestCase):
    """
    What an earlier version stored, when its cleaner let such padding
    through, is cleaned again on its way to users after an upgrade.
    """

    def setUp(self) -> None:
        clock = Clock()
        clock.advance(T0)
        pool = SyncPool(self.mktemp())
        self.addCleanup(pool.close)
        cursor = pool.db.cursor()
        padded = "games" + ANNOTATION_PADDING + KICKED
        mask = json.dumps([["*!*@" + ANCHORS + "evil", "alice", T0]])
        key = ANCHORS + "sesame"
        database.save_room(
            cursor, (LOBBY, None, T0, padded, "root", T0, "", None, None, "[]", "[]")
        )
        database.save_room(
            cursor, ("den", "alice", T0, padded, "alice", T0, "nt", key, None, mask, '["alice"]')
        )
        database.write(
            cursor, [(T0, "message", LOBBY, "eve", None, "hi" + ANNOTATION_PADDING + ASK)]
        )
        database.create_account(cursor, "bob", hash_password("secret-bob", 2**4), T0)
        database.queue_private(cursor, T0, "eve", "bob", "psst" + ANNOTATION_PADDING + ASK)
        pool.db.commit()
        chat = MemoryChat(permanent_rooms=(LOBBY,), clock=clock.seconds, store=Rooms(pool))
        chat.restore(rooms.load(pool.db.cursor()))
        accounts = Accounts(pool, clock, maybeDeferred, cost=2**4)
        self.service = ChatService(
            clock, chat, Settings(), history=History(pool, clock), accounts=accounts
        )

    def test_kept_rooms(self) -> None:
        """
        A kept room's topic, key and masks, and the lobby's topic, which
        greets every newcomer, come back from the database without the
        padding.
        """
        carol = Client(self.service)
        carol.send("carol")
        self.assertEqual(carol.lines()[5], "*** Topic: games" + CUT + KICKED)
        carol.send("/join den sesame", "/mode +b")
        self.assertEqual(
            carol.lines()[1:],
            [
                "*** Topic: games" + CUT + KICKED,
                "*** Shut out of den:",
                "***   *!*@evil (by alice)",
            ],
        )

    def test_history_and_kept_messages(self) -> None:
        """
        The history shown on entering a room, and the private messages kept
        for a registered user who was away, come back without the padding.
        """
        bob = Client(self.service)
        bob.send("bob", "secret-bob")
        lines = bob.lines()
        self.assertIn("[2026-11-18 11:06] <eve> hi" + CUT + ASK, lines)
        self.assertIn("[2026-11-18 11:06] *eve* psst" + CUT + ASK, lines)


class EveryCodePointTests(SynchronousTestCase):
    """
    The rule that makes a blank run holds for every code point there is,
    whatever Unicode's tables or the terminal's width table call it.
    """

    def test_no_code_point_widens_a_blank_run(self) -> None:
        """
        For every code point (but the surrogates, which no door decodes),
        16 spaces, the code point and 16 spaces more come out of the cleaner
        with no run of what may draw nothing wider than 16 columns.
        """
        everything = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))
        # The code points that may draw nothing, as one pattern of ranges
        # (those of a blank category found at once, the others one by one).
        marks = bytearray(0x110000)
        for run in DRAWING_NOTHING.finditer(everything):
            first, last = ord(run.group()[0]), ord(run.group()[-1])
            marks[first : last + 1] = b"\x01" * (last + 1 - first)
        for character in everything:
            if not marks[ord(character)] and draws_nothing(character):
                marks[ord(character)] = 1
        ranges = [(m.start(), m.end() - 1) for m in re.finditer(b"\x01+", marks)]
        blank = re.compile(
            "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]+"
        )
        wide = []
        for start in range(0, len(everything), 4096):
            chunk = everything[start : start + 4096]
            cleaned = clean("hi" + "".join(CUT + c for c in chunk) + CUT + ASK)
            for run in blank.findall(cleaned):
                if len(run) <= MAX_SPACES and (run.isascii() or len(run) <= MAX_SPACES // 2):
                    continue  # plain spaces, or too few to be too wide
                if sum(max(1, wcwidth(c)) for c in run) > MAX_SPACES:
                    wide.append(" ".join(f"U+{ord(c):04X}" for c in run if c != " "))
        self.assertEqual(wide, [])
