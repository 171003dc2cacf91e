"""
Every number the server's policy rests on, in one place: rate limits (token
buckets, and the limits a server applies with them), then sizes, counts and
times, each with the reason it is what it is.

A bucket holds up to C{burst} tokens and gains C{rate} a second; each action
takes one. So a user may paste C{burst} lines at once, then go on at C{rate}
lines a second, and is never slowed while typing by hand.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime


def address_group(host: str | None) -> str:
    """
    What per-address limits count C{host} as: an IPv4 address itself (also
    written as IPv4-mapped IPv6), an IPv6 address by its /64, since one
    machine or home is given a whole /64 and could use a new address per
    connection.
    """
    if host is None:
        return ""
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


@dataclass(frozen=True, slots=True)
class Rate:
    """
    A limit: C{rate} actions a second, with bursts of up to C{burst}.
    """

    rate: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """
        C{"RATE/BURST"} (C{"5/20"}), or L{None} for C{"off"}.

        @raise ValueError: for anything else.
        """
        if text.strip().lower() == "off":
            return None
        rate, slash, burst = text.partition("/")
        if not slash:
            raise ValueError(f"expected RATE/BURST or off, not {text!r}")
        limit = cls(float(rate), int(burst))
        if limit.rate <= 0 or limit.burst < 1:
            raise ValueError(f"RATE must be above 0 and BURST at least 1 in {text!r}")
        return limit

    def __str__(self) -> str:
        return f"{self.rate:g}/{self.burst}"


class TokenBucket:
    """
    One bucket, on a clock.
    """

    __slots__ = ("clock", "limit", "stamp", "tokens")

    def __init__(self, limit: Rate, clock: IReactorTime) -> None:
        self.limit = limit
        self.clock = clock
        self.tokens = float(limit.burst)
        self.stamp = clock.seconds()

    def available(self) -> bool:
        """
        Whether a token could be taken now (none is).
        """
        return self._refill() >= 1

    def _refill(self) -> float:
        now = self.clock.seconds()
        self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.rate)
        self.stamp = now
        return self.tokens

    def wait(self) -> float:
        """
        Seconds until a token can be taken (0 if one can now).
        """
        return max(0.0, (1 - self._refill()) / self.limit.rate)

    def charge(self, tokens: float) -> None:
        """
        Take C{tokens} at once, going into debt if need be: what is asked
        after it waits until the debt is paid.
        """
        self._refill()
        self.tokens -= tokens

    def full(self) -> bool:
        """
        Whether the bucket has its whole burst again (it may be forgotten).
        """
        return self._refill() >= self.limit.burst

    def give_back(self) -> None:
        """
        Return a token taken for an action that did not happen.
        """
        self.tokens = min(float(self.limit.burst), self.tokens + 1)

    def take(self) -> bool:
        """
        Take a token if there is one; L{False} means the action is over the limit.
        """
        if self._refill() >= 1:
            self.tokens -= 1
            return True
        return False


class Quieted:
    """
    Something said at most once every C{period} seconds per key (a log line
    under a flood), with a count of the times it was not.
    """

    __slots__ = ("_last", "clock", "period")

    def __init__(self, period: float, clock: IReactorTime) -> None:
        self.period = period
        self.clock = clock
        self._last: dict[str, tuple[float, int]] = {}

    def due(self, key: str) -> int | None:
        """
        L{None} if C{key}'s line is not to be said now (and it is counted);
        otherwise how many times it was not since it last was.
        """
        now = self.clock.seconds()
        found = self._last.get(key)
        if found is not None and now - found[0] < self.period:
            self._last[key] = (found[0], found[1] + 1)
            return None
        if len(self._last) > 10_000:
            # Many keys (an attacker's): forgetting them costs only a line each.
            self._last.clear()
        self._last[key] = (now, 0)
        return found[1] if found is not None else 0


@dataclass(frozen=True, slots=True)
class Limits:
    """
    The rate limits of a server; L{None} switches one off.

    @ivar lines: every line a connection sends.
    @ivar nick_changes: C{/nick} after login, per connection.
    @ivar joins: C{/join}, per connection.
    @ivar failed_logins: wrong passwords, per nickname (from any address).
    @ivar failed_logins_per_host: wrong passwords, per address (for any
        nickname): higher, since several people may share an address.
    @ivar registrations: new registrations, per address.
    @ivar connections: new connections, per address (IPv6: per /64).
    @ivar hashes: password hashes, right or wrong, per connection.
    @ivar hashes_per_host: password hashes, right or wrong, per address.
    """

    lines: Rate | None = None
    nick_changes: Rate | None = None
    joins: Rate | None = None
    failed_logins: Rate | None = None
    failed_logins_per_host: Rate | None = None
    registrations: Rate | None = None
    connections: Rate | None = None
    hashes: Rate | None = None
    hashes_per_host: Rate | None = None


NONE = Limits()
"""
No rate limits at all: for embedding, tests and benchmarks.
"""

HASH_ALLOWANCE = Rate(1 / 60, 10)
"""
Password hashes one connection may cause, whatever they prove (a right
password costs scrypt's 50 ms of a core as a wrong one does): ten at once are
a login with its tries, SASL, IDENTIFY, OPER and a password change, then one a
minute. A connection looping IDENTIFY with its own right password, which the
allowances of wrong passwords never count, was a core's worth for a few.
"""

HASH_ALLOWANCE_PER_HOST = Rate(1 / 10, 60)
"""
Password hashes one address (IPv6: one /64) may cause, whatever they prove:
60 at once, twice its allowance of wrong passwords (a lockout for wrong ones
comes first, and a class of 30 behind one NAT can log in at once, each
mistyping once), then one every 10 s: 360 an hour, far more than the people
behind an address log in, at 0.5 % of a core each address (4 addresses looping
right passwords took 187 % before). Each address still has its 60 at once:
3 s of a core.
"""

HUMAN = Limits(
    lines=Rate(5, 20),
    nick_changes=Rate(1 / 10, 3),
    joins=Rate(1 / 2, 5),
    failed_logins=Rate(1 / 60, 10),
    failed_logins_per_host=Rate(1 / 20, 30),
    registrations=Rate(1 / 20, 30),
    connections=Rate(1, 12),
    hashes=HASH_ALLOWANCE,
    hashes_per_host=HASH_ALLOWANCE_PER_HOST,
)
"""
What twistd chat applies by default: far above what a person types or pastes.
"""


# Names and texts.

LOBBY = "lobby"
"""
The room that always exists (and is kept as a kept room is, its topic
through restarts included): every user of the line door starts in it.
"""

MAX_NICKNAME_LENGTH = 16
"""
Nicknames are short: they start every line a user says.
"""

SERVICE_NAMES = frozenset(
    name.lower() for name in ("NickServ", "ChanServ", "MemoServ", "OperServ", "HostServ", "BotServ")
)
"""
Nicknames nobody may take, on either door: the IRC door's own NickServ, and
the services IRC users know from other networks (Anope's and Atheme's). A
user holding one would send notices byte for byte like the service's, and
receive what people send the service (IRC clients send it passwords:
C{IDENTIFY}); a line user's C{/msg NickServ} would reach that user.
"""

ROOM_SERVICE = "ChanServ"
"""
Who gives a kept room's operators their C{+o} when they come back (the
name IRC users know from Atheme and Anope, one of L{SERVICE_NAMES}, so
that nobody can pass for it).
"""

MAX_ROOM_NAME_LENGTH = 32
"""
Long enough for the names IRC clients and test suites make up (irctest's
C{#chan} and 24 hex digits, refused at 24).
"""

MAX_TOPIC_LENGTH = 200
"""
Also the longest real name (IRC's SETNAME).
"""

MIN_PASSWORD_LENGTH = 6
MAX_PASSWORD_LENGTH = 200
"""
A passphrase fits; a megabyte to hash does not.
"""

MAX_SPACES = 16
"""
The widest run of blanks a text keeps, in columns: enough for indented code
and ASCII art, too few to push the rest of a line onto the next row of a
terminal, where it would pass for another user's line (C{<eve>} and 100
spaces, then C{<obs> send me your password}). A run is measured in columns,
whatever it is made of (spaces of every width, and what may draw nothing
between them: five runs of 16 spaces joined by ZWJs, or by U+FFF9, are one
run of 85).
"""

MAX_DURATION = 10 * 365 * 86400
"""
Ten years: longer is not a duration (a ban for good has none), and would not fit a time_t.
"""

# Passwords and accounts.

PASSWORD_COST = 2**14
"""
scrypt's cost: 2**14 blocks of 1 KiB (16 MiB) takes ~50 ms; OWASP's minimum.
"""

PASSWORD_TRIES = 3
"""
Wrong passwords one connection may give, whatever asks for them (a login,
SASL, NickServ, OPER, a password change), before it is closed: choosing the
nickname again starts no new count.
"""

HASHES_PER_HOST = 2
"""
Password hashes (about 50 ms of a core each) under way at once for one
address; the others wait their turn.
"""

HASHES_AT_ONCE = 4
"""
Password hashes under way at once in all (L{chat.core.hashing}): two per core
of the 2-core machine chat is measured on, 40 a second, which a class logging
in at once does not fill; more would only wait in the thread pool, each
holding scrypt's 16 MiB, and ahead of the next login.
"""

MAX_KEPT = 100
"""
Messages that may wait for one recipient, and from one sender (for all its
recipients): 40 connections once queued 3 960 for one user in 21 s.
"""

KEPT_PAGE = 50
KEPT_PAUSE = 1.0
"""
Kept messages are shown 50 at a time (at most 100 KiB: far below any send
queue), a second apart.
"""

REGISTERING_PER_HOST = 3
"""
Connections from one address (an IPv6 /64) that may be logging in at once,
when --max-per-ip limits them at all: 60 addresses of 16 connections that
sent C{CAP LS 302} and never finished held 921-924 of 924 places, and came
back as the login timeout freed them. UnrealIRCd's
C{max-unknown-connections-per-ip} is 3 too.
"""

REGISTERING_SHARE = 4
"""
What part of --max-clients connections still logging in may take in all,
whatever their addresses: a quarter (but at least L{REGISTERING_AT_LEAST}).
Honest logins take a second or less, so a quarter of the places is far more
than arrive at once, while connections that never finish (from as many
addresses as an attacker has) can no longer take the places of those who
did log in.
"""

REGISTERING_AT_LEAST = 64
"""
The share of connections still logging in is never smaller than this: a
small server (--max-clients 10) lets everyone log in at once, as before.
"""

BUSY_LOGIN_TIMEOUT = 20.0
"""
Seconds a connection made while the server is nearly full (nine tenths of
--max-clients) has to log in, if --login-timeout is longer: an IRC client
registers in well under a second, a person types a nickname and a password
in less; 60 s let connections that never register hold the last places.
"""

# Flooding.

LINES_PER_TOKEN = 20
"""
How many lines of a listing (/rooms, /who, WHO, NAMES, a ban list) cost one
line of the flood allowance; a shorter listing costs its share of one.
"""

NAMES_PER_LINE = 8
"""
How many names a line of a list of names holds, about (NAMES, /who), for
what the list costs: a listing of 160 names costs a line.
"""

LAG_BYTES = 128 * 1024
"""
What the lines that wait their turn may take in memory before the client is
closed for flooding, whether they wait for the flood limit (fake lag) or
behind a step that holds input (joins over their allowance, a database
answer; unbounded there, lines within the limit queued 2.65 MB behind one
IRC JOIN of 95 channels in two minutes): 128 KiB, each line
counted as its length and 33 bytes (what Python keeps for it). So a paste of
a few hundred lines goes through whole, paced (about 1 160 lines of 80
characters wait, 3 970 empty ones, 62 of the longest), as Ergo's fake lag and
InspIRCd's penalties let a paste through, while a client that goes on sending
faster than the limit fills it within seconds and is closed. It was three
bursts (60 lines, whatever their length), which closed a paste of 100 lines,
and one of 80 right after another line; 128 KiB is what 60 of the longest
lines took, so no client can make the server keep more than before.
"""

MAX_TARGETS = 4
"""
Rooms and users one message may name at once (IRC's C{PRIVMSG #a,#b}), each
once: one line to 60 targets put 300 lines a second into a room within the
flood limit. Each is charged as a line of its own. Solanum and Ergo say 4.
"""

ROOMS_PAGE = 100
"""
Rooms a listing shows at most: 4 900 rooms in one answer were 1 MB and 37 ms
of the reactor (ngIRCd caps LIST the same way).
"""

LIST_MASKS = 8
"""
Masks (C{#ch*}, C{!*bot*}) one LIST with conditions may give: each is
matched against the name of every room walked, and one LIST of 70 masks
over 4 000 rooms held the reactor 150 ms. Past 8 the LIST is refused, not
cut, since the rooms it would list without some of its masks are not those
asked for. Such a LIST also costs the flood allowance by the rooms it looks
at (L{LINES_PER_TOKEN} a line), not by those it finds.
"""

MONITOR_LIMIT = 100
"""
Nicknames one client may watch (IRC's MONITOR).
"""

MULTILINE_MAX_LINES = 32
MULTILINE_MAX_BYTES = 4096
"""
The most lines, and bytes of text, in one message of several lines (IRCv3
multiline, as Ergo has them): a pasted block of code, not a document.
"""

READ_MARKERS_KEPT = 500
"""
Conversations whose read markers one account (or a session without one)
keeps: past them, marking another forgets the one read longest ago, so a
client marking made-up names cannot grow them without bound.
"""

# Rooms.

ROOMS_PER_USER = 20
"""
Rooms one user may be in at once (IRC's CHANLIMIT): InspIRCd's and
ircd-hybrid's default. Without a bound one client joined 34 rooms in a
minute, and every room it is in costs each rename, quit and WHOIS a line.
A join past it, counting the joins waiting their turn, is refused at once,
before it uses the allowance of joins: so it also bounds the joins one IRC
JOIN makes wait, however many channels it names.
"""

LIST_LIMIT = 100
"""
Masks each of one room's lists holds (its bans, +b, and their exceptions,
+e and +I: IRC's MAXLIST), as on InspIRCd: 32 940 masks set by one address
once made every JOIN to the room take a second of the reactor. A room needs
a few; a hundred is a list nobody reads.
"""

MODES_PER_LINE = 20
"""
Changes with an argument (a mask, a nickname, a key) that one MODE line
makes (IRC's MODES), as on InspIRCd; the rest are not made, and the user is
told. A line of 60 masks five times a second from 16 connections was the
attack that froze the server; with this and L{LIST_LIMIT} a line costs at
most 20 cheap changes.
"""

MAX_MASK_LENGTH = 100
"""
The longest ban mask: a nickname, a user name and an IPv6 address with
wildcards fit; a longer one matches nothing more, and would only make the
lines that show the list longer.
"""

KEPT_PER_ACCOUNT = 15
"""
Rooms one account may keep (found), as Ergo's default C{max-channels-per-account}:
a community needs a few; without a bound one account could create, keep
and leave rooms in a loop, each kept for good in memory and in the
database. Operators of the server are not bound.
"""

INVITATION_LIFETIME = 3600.0
"""
Seconds an invitation into a room lasts unused: time to come back to the
keyboard and see it; an operator can always invite again. It also ends with
the session it was given to (InspIRCd and Ergo tie it to the client).
"""

KICK_TARGETS = 4
"""
Members one IRC KICK line may put out (ISUPPORT's TARGMAX); those past it
are dropped, as RFC 2812 lets a server. Clearing a room of a flood of bots
takes a few lines, each paid from the flood allowance, rather than one line
whose cost does not show.
"""

# History.

HISTORY_DEFAULT = 50
"""
Messages C{/history} shows when not told how many.
"""

HISTORY_MAX = 500
"""
Messages one C{/history} may ask for.
"""

PAGE_MAX = 100
"""
Messages, or conversations, one IRCv3 C{CHATHISTORY} may ask for (its
ISUPPORT token says so): a page the web page shows at once.
"""

SEARCH_RESULTS = 20
"""
Messages one search shows at most.
"""

SEARCH_WORDS = 8
"""
Words a search may have: each is a prefix match against the full-text index,
and 1 000 of them held the database thread for 69 s on a million messages.
"""

MAX_UNWRITTEN = 100_000
"""
Messages kept in memory while the database cannot be written (about 30 MB);
past it the oldest are given up, and counted.
"""

HISTORY_RETRY = 5.0
"""
Seconds between tries while the database cannot be written.
"""

INDEX_EVERY = 1.0
"""
Seconds between updates of the full-text index while messages are written
(a search brings it up to date first): one update a second instead of one
in every commit, which was most of a small commit's cost measured alone
(137 µs of CPU for two messages with it, 34 without).
"""

SEARCH_BUDGET = 2.0
"""
Seconds a search may take before SQLite is told to stop it.
"""

WHOWAS_KEPT = 1000
"""
Departures and renames remembered for WHOWAS: a few hundred KB at most.
"""

# Connections.

MAX_LINE_BYTES = 2048
"""
The longest line the line door takes: a paragraph, or a long line of code;
a longer one costs its sender an error, not the connection.
"""

DEFAULT_SENDQ = 256 * 1024
"""
256 KiB, the top of what trusted IRC servers allow (96-256 KiB): on top of the
kernel's own buffer for the socket (which grows to 4 MiB on Linux before the
server holds anything), room for a burst said to everyone at once (the flood
limit's 20 lines of 2 KiB from each of several senders). It was 1 MiB: a
thousand clients that stopped reading could then hold a gigabyte between them
(see docs/security.md; the overall budget, L{DEFAULT_SENDQ_TOTAL}, now caps
that too).
"""

DEFAULT_SENDQ_TOTAL = 256 * 1024 * 1024
"""
256 MiB for every slow client together: 250 clients a full send queue behind
at once, while 1 000 that never read can no longer take a gigabyte.
"""

GIVE_BACK_AFTER = 32 * 1024 * 1024
"""
Bytes that waited for slow clients and were freed unwritten (the clients
dropped, or gone) after which the server asks the C library to return its
free memory to the system (glibc's C{malloc_trim}): freed in the middle of
the heap, it would otherwise stay in the process for good (1 000 clients
dropped for not reading left 320 MB where 62 MB was needed). Each return
costs the reactor time in proportion to what it returns (20 to 68 ms for
265 MiB, measured on a busy 2-core machine), so not on every drop: an eighth
of the overall budget's worth at a time. What slow clients that read catch
up on does not count: it was counted too, and ordinary fan-out to clients a
little behind (100 MB drained) had the reactor return memory three times,
which the next messages took back.
"""

GIVE_BACK_DELAY = 1.0
"""
Seconds between reaching L{GIVE_BACK_AFTER} and returning the memory, so
that a mass drop (hundreds of clients, over many turns of the reactor)
costs one return, not one per client.
"""

HOLD_LIMIT = 1000
"""
Live events held at most while stored messages are read for a connection;
past it they are let through, and the history follows them.
"""

CLOSE_GRACE = 10.0
"""
Seconds a closing connection has to take its last lines before it is aborted.
"""

PING_EVERY = 90.0
"""
Seconds between the server's PING rounds (IRC): a client silent for a round
gets a PING, and one silent for two (no PONG, nothing else) is closed.
"""
