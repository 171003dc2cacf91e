"""
The IRC door's replies: what the session tells its user, as numerics and
notices.

Rendering reads nothing of the connection: what it depends on (the server's
name, the user's nickname, the command being answered and its parameters,
the capabilities the client took) comes in an explicit L{Context}.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from chat.core import goodbyes as g
from chat.core import replies as r
from chat.core.errors import AlreadyInRoom, ChatError
from chat.core.events import Departure, Entry, RoomBan, Why
from chat.core.limits import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, ROOM_SERVICE, ROOMS_PAGE
from chat.core.modes import Mode, mode_string
from chat.irc import wording as w
from chat.irc.message import build


@dataclass(frozen=True, slots=True)
class Context:
    """
    What a reply's words depend on.

    @ivar server: the server's name, the source of numerics.
    @ivar me: the user's nickname (C{*} before it has one).
    @ivar verb: the command being answered, for numerics that depend on it.
    @ivar params: that command's parameters (WHO's mask and fields).
    @ivar caps: the capabilities the client took.
    @ivar batch_ref: a new batch reference, unique on the server.
    @ivar verbs: the commands the door knows (for HELP).
    @ivar description: what the server says it is (WHOIS's 312).
    """

    server: str
    me: str
    verb: str
    params: tuple[str, ...]
    caps: frozenset[str]
    batch_ref: Callable[[], str]
    verbs: Collection[str]
    description: str = "chat"


WHOX_FIELDS = "tcuihsnfdlaor"
"""
IRCv3 WHOX's fields, in the order a 354 reply gives them whatever the order asked.
"""


def _who(context: Context, room: str | None, members: Sequence[r.Member]) -> bytes:
    """
    WHO's answer: a 352 per member (those the mask matched, found by the
    session), or with C{%FIELDS[,TOKEN]} (WHOX) a 354 with those fields,
    then 315.
    """
    server, me, params = context.server, context.me, context.params
    mask = params[0] if params else "*"
    every = "multi-prefix" in context.caps
    whox = params[1] if len(params) > 1 and params[1].startswith("%") else None
    fields, _, token = whox[1:].partition(",") if whox is not None else ("", "", "")
    where = w.channel(room) if room is not None else "*"
    lines = []
    for m in members:
        flags = (
            ("G" if m.away else "H")
            + ("*" if m.operator else "")
            + w.marks(m.room_operator, m.voiced, every)
            + ("B" if m.bot else "")
        )
        if whox is None:
            lines.append(
                w.numeric(
                    server,
                    "352",
                    me,
                    where,
                    m.username or m.nickname,
                    w.HOST,
                    server,
                    m.nickname,
                    flags,
                    f"0 {m.realname or m.nickname}",
                )
            )
            continue
        values = {
            "t": token or "0",
            "c": where if room is not None else (w.channel(m.room) if m.room else "*"),
            "u": m.username or m.nickname,
            "i": "255.255.255.255",  # chat shows no addresses
            "h": w.HOST,
            "s": server,
            "n": m.nickname,
            "f": flags,
            "d": "0",
            "l": str(m.idle),
            "a": m.account or "0",
            "o": "n/a",
            "r": m.realname or m.nickname,
        }
        chosen = [values[f] for f in WHOX_FIELDS if f in fields]
        lines.append(w.numeric(server, "354", me, *chosen))
    return b"".join(lines) + w.numeric(server, "315", me, mask, "End of /WHO list")


def _mask_list(
    numeric: Callable[..., bytes],
    room: str,
    entries: Sequence[RoomBan],
    each: str,
    end: str,
    kind: str,
) -> bytes:
    """
    A room's C{+e} or C{+I} list: a numeric a mask, with who set it when, then the end.
    """
    return b"".join(
        numeric(each, w.channel(room), entry.mask, w.mask(entry.by), str(int(entry.at)))
        for entry in entries
    ) + numeric(end, w.channel(room), f"End of channel {kind} list")


def _markread(server: str, target: str, at: float | None) -> bytes:
    """
    IRCv3 read-marker's MARKREAD: how far C{target} is read (C{*}: not marked).
    """
    return build(
        "MARKREAD", target, "*" if at is None else f"timestamp={w.marker_time(at)}", source=server
    )


def _ref(context: Context) -> str | None:
    """
    A new batch reference, for a client that takes batches.
    """
    return context.batch_ref() if "batch" in context.caps else None


def _replayed(
    context: Context,
    entries: Sequence[Entry],
    room: str | None = None,
    peer: str | None = None,
    always: bool = False,
) -> bytes:
    """
    Stored messages of C{room} (or of the conversation with C{peer}) as
    the client takes them: with their times and ids, in a batch
    (L{w.stored}).
    """
    caps = context.caps
    return w.stored(
        context.server,
        context.me,
        entries,
        "server-time" in caps,
        _ref(context),
        room,
        peer,
        ids="message-tags" in caps,
        always=always,
    )


def render(context: Context, reply: r.Reply) -> bytes:
    """
    C{reply} as IRC numerics and notices, for the user of C{context}.
    """
    server, me, verb = context.server, context.me, context.verb

    def numeric(code: str, *params: str) -> bytes:
        return w.numeric(server, code, me, *params)

    def notice(text: str) -> bytes:
        return build("NOTICE", me, text, source=server)

    def services(text: str) -> bytes:
        return w.notice_from_services(me, text)

    def closing(text: str) -> bytes:
        return build("ERROR", f"Closing link: {text}")

    match reply:
        case AlreadyInRoom():
            # IRC clients ignore a JOIN of a channel they are on.
            return b""
        case ChatError():
            return w.error_numeric(server, me, reply, verb)
        case r.Greeting() | r.NicknameWanted():
            return b""
        case r.PasswordWanted(nickname):
            return numeric(
                "433", nickname, "Nickname is registered: identify with SASL or PASS"
            ) + services(
                f"{nickname} is registered: identify with /msg NickServ IDENTIFY {nickname} "
                "PASSWORD, SASL or PASS, or choose another nickname."
            )
        case r.WrongPassword(left):
            return numeric("464", f"Password incorrect; {left} tries left")
        case r.NicknameBanned(nickname, _):
            return numeric("432", nickname, "Nickname is banned")
        case r.LoginFirst():
            return numeric("451", "You have not registered")
        case r.LoggedIn(motd):
            if not motd:
                return numeric("422", "MOTD File is missing")
            return (
                numeric("375", f"- {server} Message of the day - ")
                + b"".join(numeric("372", f"- {line}") for line in motd)
                + numeric("376", "End of /MOTD command")
            )
        case r.LoggedInAlready():
            return numeric("462", "You may not reregister")
        case r.Authenticated(account):
            return numeric("900", w.mask(me), account, f"You are now logged in as {account}") + (
                numeric("903", "SASL authentication successful")
                if verb == "AUTHENTICATE"
                else services(f"You are now identified for {account}.")
            )
        case r.Operator() | r.OperatorAtLogin():
            return numeric("381", "You are now an IRC operator") + build(
                "MODE", me, "+o", source=server
            )
        case r.UnknownCommand(name):
            return numeric("421", name, "Unknown command")
        case r.Usage(name) | r.OutOfRange(name):
            return numeric("461", verb or name.upper(), "Not enough parameters")
        case r.OperatorsOnly():
            return numeric("481", "Permission Denied- You're not an IRC operator")
        case r.Unavailable(feature):
            return notice(f"This server runs without {feature.value}.")
        case r.TooManyRenames():
            return numeric("438", me, "Nick change too fast; wait a little")
        case r.TooManyRoomChanges():
            # Not 405: the joins are not refused, they wait.
            return notice("You are joining channels too fast; the next wait their turn.")
        case r.TooFast(rate, burst):
            return notice(
                f"You are sending too fast (at most {rate:g} lines a second, bursts of {burst}); "
                "lines over that wait their turn."
            )
        case r.LineTooLong():
            return numeric("417", "Input line was too long")
        case r.InternalError():
            return numeric("400", verb, "Internal server error; that command was not processed")
        case r.Help():
            subject = context.params[0].upper() if context.params else "*"
            if subject != "*" and subject not in context.verbs:
                return numeric("524", subject, "No help available on this topic")
            return (
                numeric("704", subject, "chat speaks IRC; these commands work:")
                + numeric("705", subject, " ".join(sorted(context.verbs)))
                + numeric("705", subject, "See docs/irc.md for how rooms and nicknames map.")
                + numeric("706", subject, "End of /HELP")
            )
        case r.Members(None, asked) if verb in ("ISON", "USERHOST"):
            if verb == "ISON":
                return numeric("303", " ".join(m.nickname for m in asked))
            return numeric(
                "302",
                " ".join(
                    f"{m.nickname}{'*' if m.operator else ''}={'-' if m.away else '+'}"
                    f"{m.username or m.nickname}@{w.HOST}"
                    for m in asked[:5]
                ),
            )
        case r.Users(members, None):
            return numeric("302", " ".join(members))
        case r.Users(members, str() as room, ops, voiced, secret):
            caps = context.caps
            # NAMES of several channels ends once, after them all (the verb says it).
            several = verb == "NAMES" and "," in (context.params[0] if context.params else "")
            return w.names(
                server,
                me,
                room,
                members,
                "userhost-in-names" in caps,
                ops,
                voiced,
                "multi-prefix" in caps,
                "@" if secret else "=",
                end=not several,
            )
        case r.Away(None):
            return numeric("305", "You are no longer marked as being away")
        case r.Away():
            return numeric("306", "You have been marked as being away")
        case r.Members(room, members):
            return _who(context, room, members)
        case r.Whois(
            nickname,
            rooms,
            operator,
            away,
            username,
            realname,
            ops,
            voiced,
            bot,
            account,
            idle,
            signon,
        ):
            lines = [
                numeric("311", nickname, username or nickname, w.HOST, "*", realname or nickname)
            ]
            every = "multi-prefix" in context.caps
            # As many channels a line as fit in 512 bytes.
            head = numeric("319", nickname, "x").rsplit(b"x", 1)[0]
            lines += [
                numeric("319", nickname, text)
                for text in w.fill(
                    head, (w.prefix(room, ops, voiced, every) + w.channel(room) for room in rooms)
                )
            ]
            lines.append(numeric("312", nickname, server, context.description))
            if operator:
                lines.append(numeric("313", nickname, "is an IRC operator"))
            lines.append(
                numeric("317", nickname, str(idle), str(int(signon)), "seconds idle, signon time")
            )
            if bot:
                lines.append(numeric("335", nickname, "is a bot"))
            if account is not None:
                lines.append(numeric("330", nickname, account, "is logged in as"))
            if away:
                lines.append(numeric("301", nickname, away))
            lines.append(numeric("318", nickname, "End of /WHOIS list"))
            return b"".join(lines)
        case r.WasHere(nickname, []):
            return numeric("406", nickname, "There was no such nickname") + numeric(
                "369", nickname, "End of WHOWAS"
            )
        case r.WasHere(nickname, was):
            return b"".join(
                numeric(
                    "314",
                    w_.nickname,
                    w_.username or w_.nickname,
                    w.HOST,
                    "*",
                    w_.realname or w_.nickname,
                )
                + numeric("312", w_.nickname, server, w.server_time(w_.at))
                for w_ in was
            ) + numeric("369", nickname, "End of WHOWAS")
        case r.Counts(users, operators, unregistered, rooms, peak):
            peak = max(peak, users)
            return (
                numeric("251", f"There are {users} users and 0 invisible on 1 servers")
                + numeric("252", str(operators), "operator(s) online")
                + numeric("253", str(unregistered), "unknown connection(s)")
                + numeric("254", str(rooms), "channels formed")
                + numeric("255", f"I have {users} clients and 0 servers")
                + numeric("265", str(users), str(peak), f"Current local users {users}, max {peak}")
                + numeric("266", str(users), str(peak), f"Current global users {users}, max {peak}")
            )
        case r.Rooms(infos):
            return (
                numeric("321", "Channel", "Users  Name")
                + b"".join(
                    # An empty permanent room (the lobby) is no channel to IRC.
                    numeric("322", w.channel(i.name), str(i.users), i.topic or "")
                    for i in infos
                    if i.users
                )
                + (
                    notice(f"Only the first {ROOMS_PAGE} channels are listed.")
                    if reply.more
                    else b""
                )
                + numeric("323", "End of /LIST")
            )
        case r.Topic(room, None):
            return numeric("331", w.channel(room), "No topic is set")
        case r.Topic(room, str() as text, by, at):
            said = numeric("332", w.channel(room), text)
            if by is not None and at is not None:
                said += numeric("333", w.channel(room), w.mask(by), str(int(at)))
            return said
        case r.RoomModes(room, modes, created):
            letters, arguments = mode_string(modes)
            return numeric("324", w.channel(room), letters or "+", *arguments) + numeric(
                "329", w.channel(room), str(int(created))
            )
        case r.RoomBans(room, bans, Mode.BAN_EXCEPTION):
            return _mask_list(numeric, room, bans, "348", "349", "exception")
        case r.RoomBans(room, bans, Mode.INVITE_EXCEPTION):
            return _mask_list(numeric, room, bans, "346", "347", "invite")
        case r.RoomBans(room, bans):
            return b"".join(
                numeric("367", w.channel(room), ban.mask, w.mask(ban.by), str(int(ban.at)))
                for ban in bans
            ) + numeric("368", w.channel(room), "End of channel ban list")
        case r.Inviting(nickname, room):
            return numeric("341", nickname, w.channel(room))
        case r.Invitations(rooms):
            return b"".join(numeric("336", w.channel(room)) for room in rooms) + numeric(
                "337", "End of /INVITE list"
            )
        case r.RoomKept(room):
            return w.notice_from_services(
                me, f"{w.channel(room)} is registered to your account now.", ROOM_SERVICE
            )
        case r.RoomUnkept(room):
            return w.notice_from_services(
                me, f"{w.channel(room)} is no longer registered.", ROOM_SERVICE
            )
        case r.Kept(recipient, _):
            return notice(
                f"{recipient} is offline; your message will be delivered when they log in."
            )
        case r.KeptMessages(entries):
            return w.stored(server, me, entries, "server-time" in context.caps, _ref(context))
        case (
            r.RecentHistory(room, entries)
            | r.LastMessages(room, _, entries)
            | r.Found(room, _, entries)
        ):
            return _replayed(context, entries, room)
        case r.PrivateHistory(nickname, _, entries):
            caps = context.caps
            return w.stored(
                server, me, entries, "server-time" in caps, _ref(context), peer=nickname
            )
        case r.HistoryPage(target, room, entries):
            # A batch even of nothing: the answer to CHATHISTORY.
            if room:
                return _replayed(context, entries, target, always=True)
            return _replayed(context, entries, peer=target, always=True)
        case r.HistoryTargets(conversations):
            ref = _ref(context)
            tags = {"batch": ref} if ref is not None else None
            said = b"".join(
                build(
                    "CHATHISTORY",
                    "TARGETS",
                    w.channel(c.name) if c.room else c.name,
                    w.server_time(c.latest),
                    source=server,
                    tags=tags,
                )
                for c in conversations
            )
            if ref is None:
                return said
            return (
                build("BATCH", "+" + ref, "draft/chathistory-targets", source=server)
                + said
                + build("BATCH", "-" + ref, source=server)
            )
        case r.NoHistoryOf(reading, target):
            return build(
                "FAIL",
                "CHATHISTORY",
                "INVALID_TARGET",
                reading.value,
                w.channel(target),
                "You are not in that channel",
                source=server,
            )
        case r.HistoryNeedsAccount():
            return notice(
                "Conversations are kept for registered nicknames: register yours "
                "(/msg NickServ REGISTER PASSWORD) to keep them."
            )
        case r.HistoryFailed():
            return notice("History is unavailable right now.")
        case r.Registered(nickname):
            return services(f"{nickname} is now registered.")
        case r.RegisteredNickname(nickname):
            return numeric("433", nickname, "Nickname is registered; identify to use it")
        case r.Reserved(nickname):
            if verb == "PRIVMSG":
                return services(f"{nickname} is kept for an operator of this server.")
            return numeric("432", nickname, "Nickname is reserved for an operator")
        case r.ServiceName(nickname):
            if verb == "PRIVMSG":
                return services(f"{nickname} is kept for the server's services.")
            return numeric("432", nickname, "Nickname is reserved for services")
        case r.NearlyFull():
            return numeric("433", "*", "Server nearly full: only registered nicknames now")
        case r.NotRedacted(room, msgid, why):
            code, params, text = {
                r.RedactRefusal.NOT_IN_ROOM: ("INVALID_TARGET", (), "You are not in that channel"),
                r.RedactRefusal.UNKNOWN: ("UNKNOWN_MSGID", (msgid,), "No such message to delete"),
                r.RedactRefusal.FORBIDDEN: (
                    "REDACT_FORBIDDEN",
                    (msgid,),
                    "Only its sender and the channel's operators may delete it",
                ),
            }[why]
            return build("FAIL", "REDACT", code, w.channel(room), *params, text, source=server)
        case r.ReadMarker(target, room, at, entering, unasked):
            name = w.channel(target) if room else target
            if unasked and "draft/read-marker" not in context.caps:
                return b""
            if entering:
                # Only a client that asked for markers is told one as it
                # enters, between the names and their end (which its
                # encoder left out: chat.irc.wording.Encoder).
                if "draft/read-marker" not in context.caps:
                    return b""
                return _markread(server, name, at) + numeric("366", name, "End of /NAMES list")
            return _markread(server, name, at)
        case r.NotKept(recipient, why, limit):
            return notice(f"Not kept for {recipient}: {why.value} ({limit}).")
        case r.NotSaved():
            return services("The server cannot save that right now; nothing was changed.")
        case r.StoreDown():
            return services("The server cannot use its database right now; try again later.")
        case r.TooManyModes(limit, left):
            return notice(
                f"Only {limit} changes with an argument are made per MODE line; "
                f"the other {left} were not."
            )
        case r.TooManyWords(limit):
            return notice(f"Search for at most {limit} words.")
        case r.TooManyMasks(limit):
            return notice(f"LIST takes at most {limit} masks; nothing was listed.") + numeric(
                "323", "End of /LIST"
            )
        case r.SearchTooSlow():
            return notice("That search took too long and was stopped.")
        case r.TooManyRegistrations():
            return services("Too many registrations from your address; try again later.")
        case r.TooManyChecks(by_address, wait):
            whose = "from your address" if by_address else "on this connection"
            unit = "second" if wait == 1 else "seconds"
            text = f"Too many password checks {whose}; try again in {wait} {unit}"
            if verb == "AUTHENTICATE":
                return numeric("904", f"SASL authentication failed: {text}")
            if verb == "PRIVMSG":
                return services(f"{text}.")
            return notice(f"{text}.")
        case r.NotSent(command):
            return notice(f"Not sent: did you mean {command}?")
        case r.BanningYourself(target):
            return notice(f"{target} is you: you cannot ban yourself.")
        case r.Dropped(count):
            return notice(f"Ignored {count} lines sent before the refusal.")
        case r.BadNewPassword():
            return services(
                f"Choose another password: at least {MIN_PASSWORD_LENGTH} characters, "
                f"at most {MAX_PASSWORD_LENGTH}."
            )
        case r.PasswordChanged():
            return services("Your password is changed.")
        case r.Unregistered(nickname):
            return services(f"{nickname} is no longer registered.")
        case r.NotProven():
            if verb == "AUTHENTICATE":
                return numeric("904", "SASL authentication failed")
            if verb == "OPER":
                return numeric("464", "Password incorrect")
            return services("Wrong password, or that nickname is not registered.")
        case r.KickedOut(nickname):
            return notice(f"{nickname} is kicked.")
        case r.Banned(target, _):
            return notice(f"{target} is banned.")
        case r.Unbanned(target):
            return notice(f"{target} is no longer banned.")
        case r.NotBanned(target):
            return notice(f"{target} is not banned.")
        case r.BanList(bans):
            return b"".join(notice(f"{ban.target} (by {ban.by})") for ban in bans) + notice(
                "End of bans."
            )
        case g.Quit():
            return closing("Quit")
        case g.ShuttingDown():
            return notice("The server is shutting down.") + closing("Server shutting down")
        case g.AddressBanned():
            return numeric("465", "You are banned from this server") + closing("Banned")
        case g.ServerFull(limit):
            return closing(f"The server is full ({limit} connections)")
        case g.TooManyConnections(host):
            return closing(f"Too many new connections from {host}; wait a little")
        case g.HostFull(host, limit):
            return closing(f"Too many connections from {host} ({limit})")
        case g.StillRegistering(host, limit):
            return closing(f"Too many connections from {host} still registering ({limit})")
        case g.Crowded(limit):
            return closing(f"Too many connections still registering ({limit}); try again soon")
        case g.LoginTimedOut():
            return closing("Registration timed out")
        case g.IdleTimedOut():
            return closing("Idle timeout")
        case g.PingTimedOut(seconds):
            return closing(f"Ping timeout: {seconds:g} seconds")
        case g.Flooding():
            return closing("Excess Flood")
        case g.OutOfTries():
            return numeric("464", "Password incorrect") + closing("Too many wrong passwords")
        case g.LockedOut(_, None):
            return closing("Too many wrong passwords from your address; try again later")
        case g.LockedOut(_, str() as account):
            return closing(f"Too many wrong passwords for {account}; try again later")
        case g.ThrownOut(Departure(Why.NODE_LOST, unsent=unsent)) if unsent:
            lost = "line" if unsent == 1 else "lines"
            return closing(f"Node lost; the last {unsent} {lost} you sent may have reached nobody")
        case g.ThrownOut(departure):
            return closing(w.gone(departure))
    raise TypeError(f"not a reply: {reply!r}")
