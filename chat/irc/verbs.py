"""
The IRC door's verbs: one table (L{VERBS}) of one shape, each verb a function
from a connection and its parameters to session calls.

Registration's verbs (CAP, PASS, NICK, USER, AUTHENTICATE) fill in the
connection's L{Registration} until the session is given the nickname; the
others need a registered user. Whatever a verb needs beyond that (operator
rights, a store) the session method it calls checks itself.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Sequence

from chat.core import replies as r
from chat.core.errors import AlreadyInRoom, ChatError, NoSuchRoom, NoSuchUser
from chat.core.events import Event, RoomFilter
from chat.core.interfaces import UserView
from chat.core.limits import HISTORY_DEFAULT, HISTORY_MAX, MONITOR_LIMIT, ROOM_SERVICE
from chat.core.modes import Mode
from chat.core.text import clean
from chat.irc import wording as w
from chat.irc.capabilities import CAPABILITIES, VALUES
from chat.irc.chathistory import chathistory
from chat.irc.connection import IRCConnection, Verb
from chat.irc.isupport import CHANNEL_PREFIX, TARGMAX
from chat.irc.message import build
from chat.irc.registration import Registration, valid_username

# Registration.


def _gathering(connection: IRCConnection) -> Registration | None:
    """
    The connection's registration, or L{None} once it is registered.
    """
    return connection.registration if connection.session.user is None else None


def _register(connection: IRCConnection) -> None:
    registration = _gathering(connection)
    if (
        registration is None
        or registration.negotiating
        or registration.nickname is None
        or registration.user is None
    ):
        return
    connection.session.choose_nickname(registration.nickname)


def cap(connection: IRCConnection, params: tuple[str, ...]) -> None:
    me, server = connection.me, connection.server
    sub = params[0].upper()
    registration = _gathering(connection)
    if sub == "LS":
        if registration is not None:
            registration.negotiating = True
        # Values only for the clients that said they read them (302).
        valued = len(params) > 1 and params[1].isdigit() and int(params[1]) >= 302
        offered = (f"{c}={VALUES[c]}" if valued and c in VALUES else c for c in CAPABILITIES)
        connection.reply(build("CAP", me, "LS", " ".join(offered), source=server))
    elif sub == "LIST":
        connection.reply(build("CAP", me, "LIST", " ".join(sorted(connection.caps)), source=server))
    elif sub == "REQ":
        wanted = params[1].split() if len(params) > 1 else []
        caps = set(connection.caps)
        for name in wanted:
            known = name.removeprefix("-")
            if known not in CAPABILITIES:
                connection.reply(build("CAP", me, "NAK", " ".join(wanted), source=server))
                return
            if name.startswith("-"):
                caps.discard(known)
            else:
                caps.add(known)
        if registration is not None:
            registration.negotiating = True
        connection.caps = frozenset(caps)
        connection.rekey()
        connection.reply(build("CAP", me, "ACK", " ".join(wanted), source=server))
    elif sub == "END":
        if registration is not None:
            registration.negotiating = False
        _register(connection)
    else:
        connection.numeric("410", sub, "Invalid CAP command")


def pass_(connection: IRCConnection, params: tuple[str, ...]) -> None:
    registration = _gathering(connection)
    if registration is None:
        connection.numeric("462", "You may not reregister")
        return
    registration.password = params[0]


def nick(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if not params or not params[0]:
        connection.numeric("431", "No nickname given")
        return
    registration = _gathering(connection)
    if registration is None:
        if params[0] != connection.me:  # the same nickname again: nothing to do
            connection.session.rename(params[0])
        return
    registration.nickname = params[0]
    _register(connection)


def user(connection: IRCConnection, params: tuple[str, ...]) -> None:
    registration = _gathering(connection)
    if registration is None or registration.user is not None:
        connection.numeric("462", "You may not reregister")
        return
    if not params[0] or not params[3]:
        connection.numeric("461", "USER", "Not enough parameters")
        return
    if not valid_username(params[0]):
        # ERR_INVALIDUSERNAME, as Ergo answers it (InspIRCd's 461 reads as
        # a missing parameter, and irctest waits for 468 or an ERROR); the
        # client may send another.
        connection.numeric("468", "Your username is not valid")
        return
    registration.user, registration.realname = params[0], params[3]
    _register(connection)


def authenticate(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    SASL PLAIN: C{AUTHENTICATE PLAIN}, C{+}, then the credentials in base64.
    """
    registration = _gathering(connection)
    if registration is None:
        connection.numeric("907", "You have already authenticated")
        return
    if registration.sasl is None:
        if params[0].upper() != "PLAIN":
            connection.numeric("908", "PLAIN", "are available SASL mechanisms")
            connection.numeric("904", "SASL authentication failed")
            return
        registration.sasl = "PLAIN"
        connection.reply(build("AUTHENTICATE", "+"))
        return
    registration.sasl = None
    if params[0] == "*":
        connection.numeric("906", "SASL authentication aborted")
        return
    try:
        _, account, password = base64.b64decode(params[0], validate=True).decode().split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        connection.numeric("904", "SASL authentication failed")
        return
    connection.session.authenticate(account, password)


# After registration.


def ping(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.reply(build("PONG", connection.server, params[0], source=connection.server))


def pong(connection: IRCConnection, params: tuple[str, ...]) -> None:
    pass


def join(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if params[0] == "0":
        user = connection.session.user
        for joined in list(user.rooms if user else ()):
            part(connection, (w.channel(joined.name),))
        return
    keys = params[1].split(",") if len(params) > 1 else []
    for i, name in enumerate(params[0].split(",")):
        room = w.room_of(name)
        if room is None:
            connection.numeric("403", name, "No such channel")
            continue
        try:
            connection.session.join(room, key=keys[i] if i < len(keys) else None)
        except AlreadyInRoom:
            continue
        except ChatError as e:
            # One channel refused: the others are still joined.
            connection.refused(e)


def part(connection: IRCConnection, params: tuple[str, ...]) -> None:
    reason = params[1] if len(params) > 1 else None
    for name in params[0].split(","):
        room = w.room_of(name)
        if room is None:
            connection.numeric("403", name, "No such channel")
            continue
        try:
            left = connection.session.part(room, reason)
        except ChatError as e:
            connection.refused(e)
            continue
        # The one who leaves sees its PART too (others saw it from the domain).
        connection.reply(
            build(
                "PART",
                w.channel(left),
                clean(reason or "") or "Left",
                source=w.mask(connection.me),
                text=True,
            )
        )


def _targets(connection: IRCConnection, names: str) -> list[str]:
    """
    The targets of a list (C{#a,bob}), each once whatever its case, at most
    as many as ISUPPORT's TARGMAX says for the verb: past that, the first
    left out gets 407 and the rest are not looked at.
    """
    most = TARGMAX.get(connection.verb)
    seen: set[str] = set()
    targets: list[str] = []
    for name in names.split(","):
        key = name.lower()
        if not name or key in seen:
            continue
        if most is not None and len(targets) == most:
            connection.numeric("407", name, f"Too many targets; at most {most}")
            break
        seen.add(key)
        targets.append(name)
    return targets


def privmsg(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if not params:
        connection.numeric("411", f"No recipient given ({connection.verb})")
        return
    if len(params) < 2 or not params[1]:
        connection.numeric("412", "No text to send")
        return
    text = params[1]
    action = text.startswith("\x01ACTION ") and text.endswith("\x01")
    ctcp = not action and text.startswith("\x01")
    if action:
        text = text[8:-1]
    elif ctcp:
        # Other CTCP: carried to channels only (their IRC members), never privately.
        text = text[1:-1] if text.endswith("\x01") else text[1:]
    notice = connection.verb == "NOTICE"
    targets = _targets(connection, params[0])
    if not targets:
        connection.numeric("411", f"No recipient given ({connection.verb})")
        return
    connection.session.to_many(len(targets))
    for target in targets:
        status = w.status_of(target)
        if status is not None:
            if not ctcp:
                _say_to(connection, status, text, notice, action)
            continue
        room = w.room_of(target)
        if ctcp and room is None:
            continue
        try:
            if room is not None:
                session = connection.session
                event: Event | None
                if action:
                    event = session.act(room, text)
                elif ctcp:
                    event = session.ctcp(room, text, notice, connection.tags)
                else:
                    event = session.say(room, text, notice, connection.tags)
                if event is not None and "echo-message" in connection.caps:
                    # The very message the others got, with its id.
                    connection.reply(connection.encode(event))
            elif target.lower() == w.SERVICES.lower():
                _services(connection, text)
            elif target.lower() == ROOM_SERVICE.lower():
                _room_services(connection, text)
            else:
                connection.session.whisper(target, text, notice, connection.tags)
        except ChatError as e:
            # One target refused: the others still get it; a NOTICE is never answered.
            if not notice:
                connection.refused(e)


def _say_to(
    connection: IRCConnection, status: tuple[Mode, str], text: str, notice: bool, action: bool
) -> None:
    """
    STATUSMSG: C{PRIVMSG @#room} to the room's operators, C{+#room} to its
    voiced members and operators.
    """
    to, channel = status
    room = w.room_of(channel)
    assert room is not None
    try:
        event = connection.session.say_to(room, to, text, notice, connection.tags, action)
    except ChatError as e:
        if not notice:
            connection.refused(e)
        return
    if event is not None and "echo-message" in connection.caps:
        connection.reply(connection.encode(event))


def tagmsg(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    Tags alone ("typing..."), for clients that take them; only with message-tags.
    """
    if "message-tags" not in connection.caps or not connection.tags:
        return
    targets = _targets(connection, params[0])
    connection.session.to_many(len(targets))
    for target in targets:
        if w.status_of(target) is not None:
            # Tags go to a whole channel: not to its operators or voiced alone.
            connection.numeric("404", target, "Cannot send TAGMSG to @ or + of a channel")
            continue
        room = w.room_of(target)
        try:
            event = connection.session.tag(
                room if room is not None else target, connection.tags, room is not None
            )
        except ChatError as e:
            # One target refused: the others still get it.
            connection.refused(e)
            continue
        if "echo-message" in connection.caps:
            connection.reply(connection.encode(event))


def _services(connection: IRCConnection, text: str) -> None:
    """
    C{/msg NickServ IDENTIFY PASSWORD} or C{REGISTER PASSWORD}, for
    clients without SASL, on the same accounts as C{/register}.
    """
    command, _, argument = text.strip().partition(" ")
    command = command.upper()
    if command == "IDENTIFY":
        words = argument.split()
        if len(words) == 2:
            connection.session.authenticate(words[0], words[1])
        elif len(words) == 1:
            connection.session.authenticate(connection.me, words[0])
        else:
            connection.reply(
                w.notice_from_services(connection.me, "Usage: IDENTIFY [NICK] PASSWORD")
            )
    elif command == "REGISTER" and argument.strip():
        connection.session.register(argument.split()[0])
    elif command in ("REGAIN", "GHOST", "RECOVER") and len(argument.split()) == 2:
        nickname, password = argument.split()
        connection.session.regain(nickname, password)
    else:
        connection.reply(
            w.notice_from_services(
                connection.me,
                "Commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD, REGAIN NICK PASSWORD",
            )
        )


def _room_services(connection: IRCConnection, text: str) -> None:
    """
    C{/msg ChanServ REGISTER #room} keeps a room (C{/keep}), C{DROP #room}
    stops keeping it (C{/unkeep}), as Ergo's and Atheme's ChanServ do.
    """
    command, _, argument = text.strip().partition(" ")
    command = command.upper()
    words = argument.split()
    room = w.room_of(words[0]) if words else None
    if command == "REGISTER" and room is not None:
        connection.session.keep_room(room)
    elif command == "DROP" and room is not None:
        connection.session.unkeep_room(room)
    else:
        connection.reply(
            w.notice_from_services(
                connection.me, "Commands: REGISTER #CHANNEL, DROP #CHANNEL", ROOM_SERVICE
            )
        )


def topic(connection: IRCConnection, params: tuple[str, ...]) -> None:
    room = w.room_of(params[0])
    if room is None:
        connection.numeric("403", params[0], "No such channel")
        return
    connection.session.topic(room, params[1] if len(params) > 1 else None)


def history(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    Ergo's C{HISTORY TARGET [COUNT]}: a channel's last messages (for its
    members), or the user's conversation with a nickname (for a user
    logged in to an account), replayed as on joining.
    """
    count = HISTORY_DEFAULT
    if len(params) > 1:
        given = params[1]
        if not (given.isascii() and given.isdigit() and 1 <= int(given) <= HISTORY_MAX):
            raise r.Refused(r.OutOfRange("history", "TARGET [COUNT]", 1, HISTORY_MAX))
        count = int(given)
    room = w.room_of(params[0])
    if room is not None:
        connection.session.history(room, count)
    else:
        connection.session.conversation(params[0], count)


def names(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if not params:
        connection.numeric("366", "*", "End of /NAMES list")
        return
    wanted = _targets(connection, params[0])
    if "," not in params[0]:
        room = w.room_of(params[0])
        if room is None or not _exists(connection, room):
            connection.numeric("366", params[0], "End of /NAMES list")
        else:
            connection.session.who(room)
        return
    # A list (however few it names once repeats are dropped): each
    # channel's 353s, rendered without their 366 since the line names
    # several, then one 366 for those looked at; channels that do not
    # exist are left out.
    for name in wanted:
        room = w.room_of(name)
        if room is not None and _exists(connection, room):
            connection.session.who(room)
    connection.numeric("366", ",".join(wanted) or "*", "End of /NAMES list")


def list_(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    Every channel, the channels named, or (ISUPPORT's ELIST) those that
    meet the conditions given.
    """
    terms = [term for term in params[0].split(",") if term] if params else []
    names = [w.room_of(term) for term in terms]
    if not terms:
        # Every channel: the rooms with somebody in them (an empty kept
        # room is no channel to IRC), the first that many.
        connection.session.rooms_matching(_elist(()))
    elif all(name is not None and not any(c in name for c in "*?") for name in names):
        connection.session.rooms_named([name for name in names if name is not None])
    else:
        connection.session.rooms_matching(_elist(terms))


def _elist(terms: Sequence[str]) -> RoomFilter:
    """
    LIST's conditions as a filter: C{MASK}, C{!MASK}, C{<N} and C{>N}
    users, C{C<N} and C{C>N} (made less or more than N minutes ago),
    C{T<N} and C{T>N} (the topic's age); anything else is a mask. An
    empty room (the lobby, a kept room) is no channel to IRC: at least one
    user, so that empty rooms take no place among the first listed.
    """
    names, not_names = [], []
    numbers: dict[str, int] = {}
    for term in terms:
        if term[:2] in ("C<", "C>", "T<", "T>") and term[2:].isdigit():
            numbers[term[:2]] = int(term[2:])
        elif term[:1] in ("<", ">") and term[1:].isdigit():
            numbers[term[:1]] = int(term[1:])
        elif term.startswith("!"):
            not_names.append(term[1:])
        else:
            names.append(term)

    def minutes(key: str) -> float | None:
        return numbers[key] * 60.0 if key in numbers else None

    return RoomFilter(
        tuple(names),
        tuple(not_names),
        CHANNEL_PREFIX,
        numbers.get(">", 0),
        numbers.get("<"),
        minutes("C<"),
        minutes("C>"),
        minutes("T<"),
        minutes("T>"),
    )


def who(connection: IRCConnection, params: tuple[str, ...]) -> None:
    mask = params[0] if params else "*"
    room = w.room_of(mask)
    if room is None:
        connection.session.members(None, mask=mask)
    elif _exists(connection, room):
        connection.session.members(room)
    else:
        connection.numeric("315", mask, "End of /WHO list")


def _exists(connection: IRCConnection, room: str) -> bool:
    try:
        connection.session.chat.room(room)
    except NoSuchRoom:
        return False
    return True


def whois(connection: IRCConnection, params: tuple[str, ...]) -> None:
    try:
        connection.session.whois(params[-1])
    except NoSuchUser:
        connection.numeric("401", params[-1], "No such nick/channel")
        connection.numeric("318", params[-1], "End of /WHOIS list")


def whowas(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if not params or not params[0]:
        connection.numeric("431", "No nickname given")
        return
    count = None
    if len(params) > 1:
        try:
            count = int(params[1])
        except ValueError:
            count = None
    connection.session.whowas(params[0].split(",")[0], count)


def monitor(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    IRCv3 MONITOR: + and - nicknames, C (clear), L (list), S (status).
    """
    sub = params[0].upper()
    if sub in ("+", "-") and len(params) < 2:
        connection.numeric("461", "MONITOR", "Not enough parameters")
        return
    if sub == "+":
        wanted = [n for n in params[1].split(",") if n]
        for nickname in wanted:
            if any(c in nickname for c in "*?!@"):
                connection.numeric("432", nickname, "Erroneous nickname")
        wanted = [n for n in wanted if not any(c in n for c in "*?!@")]
        have = len(connection.session.watched())
        room = max(0, MONITOR_LIMIT - have)
        if len(wanted) > room:
            connection.numeric("734", str(MONITOR_LIMIT), ",".join(wanted), "Monitor list is full")
            wanted = wanted[:room]
        _tell_presence(connection, connection.session.watch(wanted))
    elif sub == "-":
        connection.session.unwatch(params[1].split(","))
    elif sub == "C":
        connection.session.unwatch(None)
    elif sub == "L":
        watched = [nickname for nickname, _ in connection.session.watched()]
        if watched:
            connection.numeric("732", ",".join(watched))
        connection.numeric("733", "End of MONITOR list")
    elif sub == "S":
        _tell_presence(connection, connection.session.watched())


def _tell_presence(connection: IRCConnection, found: Sequence[tuple[str, UserView | None]]) -> None:
    online = [user for _, user in found if user is not None]
    offline = [nickname for nickname, user in found if user is None]
    if online:
        masks = [f"{u.nickname}!{u.username or u.nickname}@{w.HOST}" for u in online]
        connection.numeric("730", ",".join(masks))
    if offline:
        connection.numeric("731", ",".join(offline))


def setname(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if connection.session.set_realname(params[0]) is None:
        connection.fail("SETNAME", "INVALID_REALNAME", "Realname is not valid")


def markread(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    IRCv3 read-marker: C{MARKREAD TARGET} asks how far TARGET (a channel or
    a nickname) is read, C{MARKREAD TARGET timestamp=T} says it is read up
    to T; either way the answer is the marker as it stands.
    """
    if not params:
        connection.fail("MARKREAD", "NEED_MORE_PARAMS", "Missing target")
        return
    target = params[0]
    room = w.room_of(target)
    name = target if room is None else room
    if len(params) == 1:
        known = connection.session.read_marker(name, room is not None)
    else:
        stamp = params[1].removeprefix("timestamp=")
        at = w.parse_server_time(stamp) if params[1].startswith("timestamp=") else None
        if at is None:
            connection.fail(
                "MARKREAD",
                "INVALID_PARAMS",
                target,
                "Give the time as timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
            )
            return
        known = connection.session.mark_read(name, room is not None, at)
    if not known:
        connection.fail("MARKREAD", "INVALID_PARAMS", target, "Not a channel or a nickname")


def redact(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    IRCv3 message-redaction: C{REDACT #CHANNEL MSGID [:REASON]} deletes a
    message of the channel (the sender's own, or anyone's for its
    operators). Private messages are not deleted (yet): INVALID_TARGET.
    """
    room = w.room_of(params[0])
    if room is None:
        connection.fail(
            "REDACT", "INVALID_TARGET", params[0], "Only a channel's messages can be deleted"
        )
        return
    connection.session.redact(room, params[1], params[2] if len(params) > 2 else None)


def ison(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.members(None, " ".join(params).split())


def userhost(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.members(None, " ".join(params).split()[:5])


def mode(connection: IRCConnection, params: tuple[str, ...]) -> None:
    target = params[0]
    room = w.room_of(target)
    if room is not None:
        if len(params) == 1:
            connection.session.modes(room, None)
        else:
            changes = params[1] if params[1][:1] in "+-" else "+" + params[1]
            connection.session.modes(room, changes, params[2:])
    elif target.lower() == connection.me.lower():
        _user_modes(connection, params[1] if len(params) > 1 else None)
    elif connection.session.chat.is_online(target):
        connection.numeric("502", "Can't change mode for other users")
    else:
        connection.numeric("401", target, "No such nick/channel")


def _user_modes(connection: IRCConnection, changes: str | None) -> None:
    """
    The user's own modes: C{w} (WALLOPS, on from the start) and C{i}
    may be set and unset; C{o} comes with OPER.
    """
    if changes is None:
        operator = "o" if connection.session.operator else ""
        connection.numeric("221", "+" + "".join(sorted(connection.umodes + operator)))
        return
    on, made, unknown = True, "", False
    for letter in changes:
        if letter in "+-":
            on = letter == "+"
        elif letter in "Biw":
            if (letter in connection.umodes) != on:
                umodes = connection.umodes.replace(letter, "")
                connection.umodes = "".join(sorted(umodes + letter)) if on else umodes
                made += ("+" if on else "-") + letter
                if letter == "i":
                    connection.session.set_invisible(on)
                elif letter == "B":
                    connection.session.set_bot(on)
        elif letter != "o":
            unknown = True
    if unknown:
        connection.numeric("501", "Unknown MODE flag")
    connection.rekey()
    if made:
        connection.reply(build("MODE", connection.me, made, source=w.mask(connection.me)))


def kick(connection: IRCConnection, params: tuple[str, ...]) -> None:
    # KICK #room nick: out of the room (KILL throws a user off the server).
    reason = params[2] if len(params) > 2 else None
    rooms, nicknames = params[0].split(","), params[1].split(",")
    if len(rooms) == 1:
        rooms = rooms * len(nicknames)
    pairs = list(zip(rooms, nicknames, strict=False))[: TARGMAX["KICK"]]
    for name, nickname in pairs:
        room = w.room_of(name)
        if room is None:
            connection.numeric("403", name, "No such channel")
            continue
        try:
            connection.session.kick_from(room, nickname, reason)
        except ChatError as e:
            connection.refused(e)


def invite(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if not params:
        # INVITE alone: the invitations this user has.
        connection.session.invitations()
        return
    if len(params) < 2:
        connection.numeric("461", "INVITE", "Not enough parameters")
        return
    room = w.room_of(params[1])
    if room is None:
        connection.numeric("403", params[1], "No such channel")
        return
    connection.session.invite(params[0], room)


def wallops(connection: IRCConnection, params: tuple[str, ...]) -> None:
    if clean(params[0]).strip():
        connection.session.announce(params[0])
    else:
        connection.numeric("461", "WALLOPS", "Not enough parameters")


def oper(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.become_operator(params[0], params[1])


def motd(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.tell(r.LoggedIn(connection.service.settings.motd))


def lusers(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.counts()


def time(connection: IRCConnection, params: tuple[str, ...]) -> None:
    now = connection.service.clock.seconds()
    connection.numeric("391", connection.server, w.server_time(now))


def info(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.numeric("371", "chat: a small chat server on Twisted, with a line protocol and IRC")
    connection.numeric("374", "End of INFO list")


def links(connection: IRCConnection, params: tuple[str, ...]) -> None:
    """
    The servers linked to this one: it alone (C{LINKS [[REMOTE] MASK]}).
    """
    server = connection.server
    mask = params[-1] if params else "*"
    if fnmatch.fnmatchcase(server.lower(), mask.lower()):
        description = connection.service.settings.description
        connection.numeric("364", server, server, f"0 {description}")
    connection.numeric("365", mask, "End of /LINKS list")


def kill(connection: IRCConnection, params: tuple[str, ...]) -> None:
    # An operator's KILL is chat's kick.
    reason = params[1] if len(params) > 1 else None
    connection.session.kick(params[0], reason)


def away(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.set_away(params[0] if params else None)


def quit(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.quit(params[0] if params else None)


def help_(connection: IRCConnection, params: tuple[str, ...]) -> None:
    connection.session.help()


VERBS: dict[str, Verb] = {
    # verb: (handler, parameters at least, usable before registration)
    "CAP": Verb(cap, 1, True),
    "PASS": Verb(pass_, 1, True),
    "NICK": Verb(nick, 0, True),
    "USER": Verb(user, 4, True),
    "AUTHENTICATE": Verb(authenticate, 1, True),
    "PING": Verb(ping, 1, True),
    "PONG": Verb(pong, 0, True),
    "QUIT": Verb(quit, 0, True),
    "JOIN": Verb(join, 1),
    "PART": Verb(part, 1),
    "PRIVMSG": Verb(privmsg),
    "TAGMSG": Verb(tagmsg, 1),
    "NOTICE": Verb(privmsg),
    "TOPIC": Verb(topic, 1),
    "NAMES": Verb(names),
    "LIST": Verb(list_),
    "WHO": Verb(who),
    "WHOIS": Verb(whois, 1),
    "ISON": Verb(ison, 1),
    "WHOWAS": Verb(whowas),
    "MONITOR": Verb(monitor, 1),
    "SETNAME": Verb(setname, 1),
    "USERHOST": Verb(userhost, 1),
    "MODE": Verb(mode, 1),
    "KICK": Verb(kick, 2),
    "INVITE": Verb(invite),
    "WALLOPS": Verb(wallops, 1),
    "OPER": Verb(oper, 2),
    "MOTD": Verb(motd),
    "LUSERS": Verb(lusers),
    "TIME": Verb(time),
    "INFO": Verb(info),
    "LINKS": Verb(links),
    "KILL": Verb(kill, 1),
    "AWAY": Verb(away),
    "HELP": Verb(help_),
    "HELPOP": Verb(help_),
    "HISTORY": Verb(history, 1),
    "MARKREAD": Verb(markread),
    "CHATHISTORY": Verb(chathistory),
    "REDACT": Verb(redact, 2),
}
"""
Every verb the IRC door knows.
"""
