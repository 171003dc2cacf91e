"""
One of every reply a session can tell, for the tests that word them on each door.
"""

from __future__ import annotations

from chat.core import goodbyes as g
from chat.core import replies as r
from chat.core.errors import (
    NoSuchUser,
)
from chat.core.events import (
    Ban,
    BanKind,
    Departure,
    Entry,
    EntryKind,
    Keeping,
    RoomInfo,
    Why,
)
from chat.core.modes import Mode, ModeChange
from chat.core.pages import Conversation, Reading
from chat.core.text import Problem


def samples() -> list[r.Reply]:
    """
    One of each kind of reply a session may give (a domain error stands for all).
    """
    ban = Ban(BanKind.NICK, "troll", None, "spam", "root", 0.0)
    entry = Entry(0.0, EntryKind.MESSAGE, "lobby", "alice", None, "hi")
    kept = Entry(0.0, EntryKind.PRIVATE, None, "alice", "bob", "psst")
    return [
        NoSuchUser("bob"),
        r.Greeting("chat"),
        r.NicknameWanted(),
        r.PasswordWanted("alice"),
        r.WrongPassword(2),
        r.NicknameBanned("troll", ban),
        r.LoginFirst(),
        r.LoggedIn(("Be nice.",)),
        r.LoggedInAlready(),
        r.Authenticated("alice"),
        r.Operator(),
        r.OperatorAtLogin(),
        r.Whois("bob", ("lobby", "games"), True),
        r.Whois("carol", (), False),
        r.UnknownCommand("x"),
        r.Usage("msg", "NICK TEXT"),
        r.OutOfRange("history", "[N]", 1, 500),
        r.OperatorsOnly("kick"),
        r.Unavailable(r.Feature.HISTORY),
        r.TooManyRenames(),
        r.TooManyRoomChanges(),
        r.TooFast(5, 20),
        r.LineTooLong(2048),
        r.InternalError(),
        r.Help(),
        r.Users(("alice",), None),
        r.Rooms((RoomInfo("lobby", 1, None),)),
        r.Counts(3, 1, 2, 4),
        r.Members(
            "lobby",
            (r.Member("bob", True, "lunch", "b", "Bob B"), r.Member("al", False, None, None, None)),
        ),
        r.Away("lunch"),
        r.Away(None),
        r.Topic("lobby", None),
        r.RoomModes("games", [ModeChange(Mode.TOPIC_LOCKED, True)], 0.0),
        r.RoomBans("games"),
        r.Inviting("bob", "games"),
        r.Invitations(["games", "den"]),
        r.Invitations([]),
        r.RoomKept("games"),
        r.RoomUnkept("games"),
        r.WasHere("bob", []),
        r.Kept("bob", "psst"),
        r.RecentHistory("lobby", [entry]),
        r.LastMessages("lobby", 5, [entry]),
        r.Found("lobby", "hi", [entry]),
        r.KeptMessages([kept]),
        r.PrivateHistory(
            "bob", 5, [kept, Entry(0.0, EntryKind.PRIVATE, None, "al", "bob", "hi", True)]
        ),
        r.HistoryNeedsAccount(),
        r.HistoryFailed(),
        r.HistoryPage("lobby", True, [entry]),
        r.HistoryPage("bob", False, [kept]),
        r.HistoryTargets([Conversation("lobby", True, 0.0), Conversation("bob", False, 0.0)]),
        r.NoHistoryOf(Reading.LATEST, "games"),
        r.Registered("alice"),
        r.RegisteredNickname("alice"),
        r.Reserved("root"),
        r.ServiceName("NickServ"),
        r.Dropped(2),
        r.BanningYourself("root"),
        r.NotSent("/msg bob hi"),
        r.TooManyRegistrations(),
        r.TooManyChecks(False, 60),
        r.TooManyChecks(True, 1),
        r.NearlyFull(),
        r.ReadMarker("lobby", True, 1546612406.123),
        r.NotRedacted("lobby", "a-1", r.RedactRefusal.FORBIDDEN),
        r.TooManyWords(8),
        r.TooManyMasks(8),
        r.TooManyModes(20, 5),
        r.NotSaved(),
        r.StoreDown(),
        r.SearchTooSlow(),
        r.NotKept("alice", Keeping.RECIPIENT_FULL, 100),
        g.TooManyConnections("10.0.0.1"),
        r.BadNewPassword(Problem.TOO_SHORT),
        r.PasswordChanged(),
        r.Unregistered("alice"),
        r.NotProven(),
        r.KickedOut("troll"),
        r.Banned("troll", ban),
        r.Unbanned("troll"),
        r.NotBanned("troll"),
        r.BanList([ban]),
        g.Quit(),
        g.ShuttingDown(),
        g.AddressBanned(ban),
        g.ServerFull(10),
        g.HostFull("10.0.0.1", 3),
        g.StillRegistering("10.0.0.1", 3),
        g.Crowded(231),
        g.LoginTimedOut(60),
        g.IdleTimedOut(300),
        g.PingTimedOut(180),
        g.Flooding(),
        g.OutOfTries(),
        g.LockedOut("10.0.0.1"),
        g.ThrownOut(Departure(Why.KICKED, "root", "spam")),
    ]
