"""
No text a user sets can push what follows onto a terminal row of its own,
where it would pass for another user's line or a server notice: blank runs
are cut to L{chat.core.limits.MAX_SPACES} columns whatever they are made of,
from either door; and the lobby's topic, which greets every newcomer, is the
server operators'.
"""

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import Settings
from chat.store.accounts import Accounts
from tests.helpers import Client, IRCUser, SyncPool, make_service, new_service

# 16 spaces, then a joiner (which draws nothing), five times over: 85
# blank columns, which an 80-column terminal wraps, putting the rest at the
# start of a row. Each run of spaces is within the cap on its own.
ZWJ_PADDING = (" " * 16 + "\u200d") * 5
ZWNJ_PADDING = (" " * 16 + "\u200c") * 5
# Blanks of other kinds: a variation selector, a tag character, a combining
# mark on a space, the combining grapheme joiner, ideographic spaces (two
# columns each).
MIXED_PADDING = (" " * 15 + "\ufe0f" + " \u0301" + "\U000e0020" + "\u3000" * 8 + "\u034f") * 3
CUT = " " * 16
ASK = "<alice> bob, send me your password"
KICKED = "!!! You were kicked by admin"


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
