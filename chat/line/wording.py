"""
The line door's words: how each event, reply and error reads on the wire.

Every line the server sends is built here, so the whole grammar can be checked
against C{docs/protocol.md} in one file. Lines are UTF-8 and end in CRLF.

Three kinds of line can never be confused, because nicknames cannot start with
C{*}, C{!}, C{<} or C{-}:

  - server notices start with L{NOTICE} (C{"*** "});
  - errors start with L{ERROR} (C{"!!! "});
  - everything a user says starts with C{<nick>}, C{* nick}, C{*nick*} or C{-> *nick*}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from chat.core import goodbyes as g
from chat.core import replies as r
from chat.core.errors import (
    AlreadyInRoom,
    AlreadyKept,
    AlreadyRegistered,
    AlreadyThere,
    CannotJoin,
    CannotSend,
    ChatError,
    InvalidMask,
    InvalidNickname,
    InvalidRoomName,
    KeepingNeedsAccount,
    ListFull,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotFounder,
    NotInRoom,
    NotInThatRoom,
    NotLoggedIn,
    NotRoomOperator,
    RoomNotKept,
    TooManyKept,
    TooManyRooms,
    UnknownMode,
)
from chat.core.events import (
    Action,
    Announcement,
    AwayChanged,
    Ban,
    Ctcp,
    Departure,
    Entered,
    Entry,
    EntryKind,
    Event,
    Invited,
    Joined,
    Keeping,
    Kicked,
    Left,
    Message,
    ModesChanged,
    Parted,
    Presence,
    PrivateMessage,
    PrivateMessageSent,
    RealnameChanged,
    Redacted,
    Renamed,
    RoomBan,
    RoomInfo,
    StatusMessage,
    TagMessage,
    TopicChanged,
    Welcome,
    Why,
)
from chat.core.limits import (
    MAX_MASK_LENGTH,
    MAX_NICKNAME_LENGTH,
    MAX_PASSWORD_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MIN_PASSWORD_LENGTH,
    ROOMS_PAGE,
)
from chat.core.modes import MODE_LETTERS, Mode, mode_string
from chat.core.text import Problem, clean
from chat.line.commands import COMMANDS
from chat.net import encoding

NOTICE = "*** "
ERROR = "!!! "
EOL = b"\r\n"

_LISTS = {"b": "ban", "e": "exception", "I": "invite exception"}
"""
What a room's mask list of each letter is called in an error.
"""

NICKNAME_RULES = (
    f"1 to {MAX_NICKNAME_LENGTH} ASCII letters, digits, '_' or '-', starting with a letter"
)


def encode(text: str) -> bytes:
    """
    One wire line: UTF-8 with the CRLF terminator.
    """
    return text.encode("utf-8") + EOL


def notice(text: str) -> bytes:
    """
    A server notice line. Its text is cleaned: notices quote operator files
    (the MOTD), and errors quote what the user typed.
    """
    return encode(NOTICE + clean(text))


def error(text: str) -> bytes:
    """
    An error line, cleaned as notices are.
    """
    return encode(ERROR + clean(text))


def format_event(event: Event) -> str:
    """
    The text of the line that shows C{event}, without its terminator.

    The line protocol keeps each user in one room, so room events need not
    name their room. Entering a room with a topic is the one two-line event.
    """
    match event:
        case Message(_, sender, text):
            if "\n" in text:
                return _lines(f"<{sender}> ", text)
            return f"<{sender}> {text}"
        case Action(_, sender, text):
            return f"* {sender} {text}"
        case StatusMessage(_, sender, text, to, _, action):
            whom = "operators" if to is Mode.OPERATOR else "voiced members and operators"
            if action:
                return f"* {sender} (to the room's {whom}) {text}"
            return f"<{sender}> (to the room's {whom}) {text}"
        case PrivateMessage(sender, _, text):
            return f"*{sender}* {text}"
        case PrivateMessageSent(_, recipient, text, None):
            return f"-> *{recipient}* {text}"
        case PrivateMessageSent(_, recipient, text, away):
            return f"-> *{recipient}* {text}\r\n{NOTICE}{recipient} is away: {away}"
        case Joined(_, nickname):
            return f"{NOTICE}{nickname} has joined"
        case Parted(_, nickname, None, None):
            return f"{NOTICE}{nickname} has left the room"
        case Parted(_, nickname, None, reason):
            return f"{NOTICE}{nickname} has left the room ({reason})"
        case Parted(_, nickname, destination):
            return f"{NOTICE}{nickname} has gone to {destination}"
        case Left(_, nickname, Departure(Why.QUIT, _, None)):
            return f"{NOTICE}{nickname} has left"
        case Left(_, nickname, departure):
            return f"{NOTICE}{nickname} has left ({gone(departure)})"
        case Announcement(sender, text):
            return f"{NOTICE}Announcement from {sender}: {text}"
        case Renamed(old, new):
            return f"{NOTICE}{old} is now known as {new}"
        case TopicChanged(_, nickname, None):
            return f"{NOTICE}{nickname} cleared the topic"
        case TopicChanged(_, nickname, topic):
            return f"{NOTICE}{nickname} set the topic: {topic}"
        case Welcome(nickname, online, total):
            return f"{NOTICE}You are {nickname}. {who(online, total=total, command='/who *')}"
        case Entered(room, _, topic, members, total, operators):
            shown = [f"{m} (room operator)" if m in operators else m for m in members]
            line = f"{NOTICE}You are in {room}. {who(shown, 'here', total, '/who')}"
            return line if topic is None else f"{line}\r\n{NOTICE}Topic: {topic}"
        case ModesChanged(_, by, changes):
            text, arguments = mode_string(changes)
            return f"{NOTICE}{by} set mode {' '.join([text, *arguments])}"
        case Kicked(room, by, nickname, None):
            return f"{NOTICE}{nickname} was put out of {room} by {by}"
        case Kicked(room, by, nickname, reason):
            return f"{NOTICE}{nickname} was put out of {room} by {by}: {reason}"
        case Invited(room, by, _):
            return f"{NOTICE}{by} invites you to {room}: /join {room}"
        case TagMessage() | Ctcp() | Presence() | AwayChanged() | RealnameChanged():
            # Tags alone ("typing..."), CTCP requests, and what IRC clients
            # watch for (MONITOR, away-notify, setname): nothing a line user
            # asked for, or could answer.
            return ""
        case Redacted():
            # A line user cannot unsee a line: nothing new is shown (the
            # message is gone from /history and /search).
            return ""
    raise TypeError(f"not an event: {event!r}")


def count(number: float, noun: str) -> str:
    """
    C{number} of C{noun}, singular for one: "1 line", "2 lines", "0.5 lines".
    """
    return f"{number:g} {noun}" if number == 1 else f"{number:g} {noun}s"


def who(
    names: Iterable[str], where: str = "online", total: int | None = None, command: str = ""
) -> str:
    """
    A list of users: C{where} is "online" (at login and for C{/who *}),
    "here" (on entering a room) or "in ROOM" (for C{/who}). With a C{total},
    there were too many to list: the count, and the C{command} that lists them.
    """
    if total is not None:
        return f"{count(total, 'user')} {where} ({command} lists them)."
    names = list(names)
    return f"{count(len(names), 'user')} {where}: {', '.join(names)}"


def history_line(entry: Entry) -> str:
    """
    A stored message, shown with its time (UTC) in brackets: a kind of line
    nothing live starts with.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.time))
    if entry.kind is EntryKind.ACTION:
        return f"[{stamp}] * {entry.sender} {entry.text}"
    if "\n" in entry.text:
        return _lines(f"[{stamp}] <{entry.sender}> ", entry.text)
    return f"[{stamp}] <{entry.sender}> {entry.text}"


def _lines(head: str, text: str) -> str:
    """
    A message of several lines (IRCv3 multiline, from an IRC client or the
    page) as that many lines, each with C{head}, for a line user; blank
    ones left out (they would show as nothing after the name).
    """
    return "\r\n".join(head + line for line in text.split("\n") if line.strip())


def kept_line(entry: Entry) -> str:
    """
    A private message that waited for its recipient, with the time it was sent.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.time))
    return f"[{stamp}] *{entry.sender}* {entry.text}"


def conversation_line(entry: Entry) -> str:
    """
    A private message of the reader's history: as its sender's confirmation
    read (C{-> *NICK* TEXT}) if the reader sent it, else as it was received.
    """
    if not entry.outgoing:
        return kept_line(entry)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(entry.time))
    return f"[{stamp}] -> *{entry.recipient}* {entry.text}"


def ban(ban: Ban) -> str:
    """
    A ban's extent and reason: C{" until 2026-11-21 13:00 UTC: spamming"}.
    """
    until = ""
    if ban.until is not None:
        try:
            until = " until " + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ban.until))
        except (OverflowError, OSError, ValueError):
            # A ban stored before durations were bounded: past what time_t holds.
            until = " until the far future"
    return until + (f": {ban.reason}" if ban.reason else "")


def topic(room: str, text: str | None) -> str:
    """
    What C{/topic} shows.
    """
    return f"Topic of {room}: {text}" if text else f"{room} has no topic."


def rooms(infos: Iterable[RoomInfo], total: int = -1, page: int = 1) -> list[str]:
    """
    What C{/rooms} shows, a line each: one page of C{total} rooms.
    """
    infos = list(infos)
    total = max(total, len(infos))
    header = count(total, "room")
    first = (page - 1) * ROOMS_PAGE
    if total > len(infos) or page > 1:
        header += f", {first + 1}-{first + len(infos)} here" if infos else ", none on this page"
    lines = [header + ":"]
    for info in infos:
        line = f"  {info.name} ({info.users})"
        lines.append(f"{line}: {info.topic}" if info.topic else line)
    if total > first + len(infos):
        lines.append(f"More: /rooms {page + 1}")
    return lines


def describe(failure: ChatError) -> str:
    """
    The sentence that explains a domain error to the user who caused it.
    """
    match failure:
        case InvalidNickname(nickname=nickname, problem=problem):
            why = _problem(problem, MAX_NICKNAME_LENGTH)
            return f"Invalid nickname {_shorten(nickname)!r}: {why}."
        case NicknameTaken(nickname=nickname):
            return f"The nickname {nickname} is taken."
        case NoSuchUser(nickname=nickname):
            return f"No such user: {nickname}"
        case NotLoggedIn():
            return "You are not logged in."
        case InvalidRoomName(name=name, problem=problem):
            return (
                f"Invalid room name {_shorten(name)!r}: {_problem(problem, MAX_ROOM_NAME_LENGTH)}."
            )
        case NoSuchRoom(name=name):
            return f"No such room: {name}"
        case NotInRoom(name=name):
            return f"You are not in {name}."
        case AlreadyInRoom(name=name):
            return f"You are already in {name}."
        case AlreadyRegistered(nickname=nickname):
            return f"{nickname} is registered already."
        case NotRoomOperator(name=name):
            return f"Only the operators of {name} may do that."
        case CannotJoin(name=name, why=CannotJoin.BAD_KEY):
            return f"{name} takes a key: /join {name} KEY"
        case CannotJoin(name=name, why=why):
            return f"Cannot join {name}: it is {why}."
        case CannotSend(name=name, why=CannotSend.NO_CTCP):
            return f"{name} takes no CTCP (+C)."
        case CannotSend(name=name):
            return f"{name} is moderated: only its operators and voiced members speak."
        case NotInThatRoom(nickname=nickname, name=name):
            return f"{nickname} is not in {name}."
        case AlreadyThere(nickname=nickname, name=name):
            return f"{nickname} is in {name} already."
        case UnknownMode(letter=letter):
            return f"No such mode: {letter} (modes are {MODE_LETTERS}; see /help)."
        case ListFull(name=name, letter=letter, limit=limit):
            return (
                f"The {_LISTS.get(letter, 'mask')} list of {name} is full ({limit} masks): "
                f"take one off first (/mode -{letter} MASK)."
            )
        case InvalidMask(mask=mask, letter=letter):
            kind = _LISTS.get(letter, "room")
            return (
                f"Not {'an' if kind[0] in 'aeiou' else 'a'} {kind} mask: {_shorten(mask)!r} "
                f"(NICK!USER@ADDRESS or ~a:ACCOUNT, at most {MAX_MASK_LENGTH} characters)."
            )
        case TooManyRooms(name=name, limit=limit):
            return f"Cannot join {name}: you are in {limit} rooms already."
        case KeepingNeedsAccount(name=name):
            return f"Only a user logged in to a registered nickname can keep {name} (/register)."
        case AlreadyKept(name=name, founder=None):
            return f"{name} is always kept."
        case AlreadyKept(name=name, founder=founder):
            return f"{name} is kept already, by {founder}."
        case RoomNotKept(name=name):
            return f"{name} is not kept."
        case NotFounder(name=name, founder=founder):
            return f"Only {founder}, who keeps {name}, or an operator of the server may stop that."
        case TooManyKept(name=name, limit=limit):
            return f"You keep {limit} rooms already: /unkeep one of them to keep {name}."
    return f"Refused: {failure}"


def _problem(problem: Problem, limit: int) -> str:
    """
    What is wrong with a name or password, C{limit} being the length that applies.
    """
    match problem:
        case Problem.EMPTY:
            return "it is empty"
        case Problem.TOO_SHORT:
            return f"it is shorter than {limit} characters"
        case Problem.TOO_LONG:
            return f"it is longer than {limit} characters"
        case Problem.BAD_START:
            return "it must start with a letter"
        case Problem.BAD_CHARACTERS:
            return "it may contain only ASCII letters, digits, '_' and '-'"
        case Problem.ALREADY_YOURS:
            return "it is already yours"


def _shorten(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def gone(departure: Departure) -> str:
    """
    Why a user left, as the room is told: C{"kicked by op: spam"}.
    """
    match departure:
        case Departure(Why.QUIT, _, text):
            return text or "quit"
        case Departure(Why.KICKED | Why.BANNED as why, by, text):
            return f"{why.value} by {by}" + (f": {text}" if text else "")
    return departure.why.value


HELP_USAGE_WIDTH = 24
"""
The widest usage C{/help} shows beside its description: a wider one
(C{/ban}'s) has a line to itself, with its description under the others, so
that one long usage does not push every description off to the right.
"""

HELP_END = "  Any other line is sent to this room; start it with // to send a leading /."
"""
The last line of C{/help} (the bundled client adds its own commands after it).
"""


def help_lines(
    operator: bool = True, features: Iterable[r.Feature] = tuple(r.Feature)
) -> list[str]:
    """
    What C{/help} shows: the command table, a line a command, less what this
    user (not an C{operator}) or this server (without some C{features})
    cannot use; the descriptions start in one column.
    """
    have = set(features)
    rows = []
    for command in COMMANDS:
        if (command.operator and not operator) or (
            command.needs is not None and command.needs not in have
        ):
            continue
        usage = f"/{command.name} {command.arguments}".rstrip()
        summary = command.summary
        if command.operator:
            summary = "operators: " + summary
        if len(command.names) > 1:
            summary += f" (also {', '.join('/' + name for name in command.names[1:])})"
        rows.append((usage, summary))
    width = max((len(usage) for usage, _ in rows if len(usage) <= HELP_USAGE_WIDTH), default=0)
    lines = ["Commands:"]
    for usage, summary in rows:
        if len(usage) > width:
            lines.append(f"  {usage}")
            usage = ""
        lines.append(f"  {usage:<{width}}  {summary}")
    lines.append(HELP_END)
    return lines


def _stored(
    header: str,
    entries: Sequence[Entry],
    end: str = "End of history.",
    render: Callable[[Entry], str] = history_line,
) -> bytes:
    return notice(header) + b"".join(encode(render(entry)) for entry in entries) + notice(end)


def _masks(title: str, entries: Iterable[RoomBan]) -> bytes:
    return notice(title) + b"".join(notice(f"  {entry.mask} (by {entry.by})") for entry in entries)


def reply(said: r.Reply) -> bytes:
    """
    The lines that tell a user C{said}: notices (C{"*** "}) for what it asked
    to know, errors (C{"!!! "}) for what was refused or went wrong.
    """
    match said:
        case ChatError():
            return error(describe(said))
        # Logging in.
        case r.Greeting(name):
            return notice(f"Welcome to {name}.")
        case r.NicknameWanted():
            return notice(f"Choose a nickname ({NICKNAME_RULES}):")
        case r.PasswordWanted(nickname):
            return notice(f"{nickname} is registered. Send its password (or /login PASSWORD):")
        case r.WrongPassword(left):
            return error(f"Wrong password; {left} {'try' if left == 1 else 'tries'} left.")
        case r.NicknameBanned(nickname, banned):
            return error(f"The nickname {nickname} is banned{ban(banned)}.")
        case r.LoginFirst():
            return error("Choose a nickname first; until then only /nick, /help and /quit work.")
        case r.LoggedIn(motd):
            return b"".join(notice(line) for line in motd) + notice(
                "Type /help for the list of commands."
            )
        case r.LoggedInAlready():
            return error("You are logged in already.")
        case r.Authenticated(account):
            return notice(f"You are identified as {account}.")
        case r.Operator():
            return notice("You are an operator now.")
        case r.OperatorAtLogin():
            return notice("You are an operator of this server; /help lists your commands.")
        # Commands.
        case r.UnknownCommand(name):
            return error(f"Unknown command /{name}; type /help for the list.")
        case r.Usage(name, arguments):
            return error(f"Usage: /{name} {arguments}".rstrip())
        case r.OutOfRange(name, arguments, low, high):
            return error(f"Usage: /{name} {arguments}, with N from {low} to {high}")
        case r.OperatorsOnly(name):
            return error(f"Only operators can use /{name}.")
        case r.Unavailable(feature):
            return error(_UNAVAILABLE[feature])
        case r.TooManyRenames():
            return error("Too many nickname changes; wait a little.")
        case r.TooManyRoomChanges():
            return error("You are changing rooms too fast; the next wait their turn.")
        case r.TooFast(rate, burst):
            return error(
                f"You are sending too fast (at most {count(rate, 'line')} a second, "
                f"bursts of {burst}); lines over that wait their turn."
            )
        case r.LineTooLong(limit):
            return error(f"Line too long (over {limit} bytes); it was dropped.")
        case r.InternalError():
            return error("Internal server error; that line was not processed.")
        case r.Help(operator, features):
            # The server's own words, from its command table: not cleaned,
            # since the columns take longer runs of spaces than users may send.
            return b"".join(encode(NOTICE + line) for line in help_lines(operator, features))
        case r.Users(names, None):
            return notice(who(names))
        case r.Users(names, room, operators):
            shown = [f"{m} (room operator)" if m in operators else m for m in names]
            return notice(who(shown, f"in {room}"))
        case r.Members(room, members):
            return notice(
                who(
                    [
                        m.nickname
                        + (" (operator)" if m.operator else "")
                        + (" (away)" if m.away else "")
                        for m in members
                    ],
                    "online" if room is None else f"in {room}",
                )
            )
        case r.Whois(nickname, places, operator, away, _, _):
            where = ", ".join(places) or "no room"
            line = f"{nickname} is in {where}" + (", an operator" if operator else "")
            return notice(line + (f"; away: {away}" if away else "") + ".")
        case r.WasHere(nickname, []):
            return error(f"Nobody called {nickname} was here lately.")
        case r.WasHere(nickname, was):
            last = time.strftime("%Y-%m-%d %H:%M", time.gmtime(was[0].at))
            return notice(f"{was[0].nickname} was last here at {last} UTC.")
        case r.Away(None):
            return notice("You are back.")
        case r.Away(text):
            return notice(f"You are away: {text}")
        case r.Counts(users, operators, unregistered, made):
            return notice(
                f"{count(users, 'user')} online ({count(operators, 'operator')}), "
                f"{unregistered} choosing a nickname, {count(made, 'room')}."
            )
        case r.Rooms(infos):
            return b"".join(notice(line) for line in rooms(infos, said.total, said.page))
        case r.Topic(room, text):
            return notice(topic(room, text))
        case r.RoomModes(room, modes):
            letters, extra = mode_string(modes)
            return notice(f"Modes of {room}: {' '.join([letters or '+', *extra])}")
        case r.RoomBans(room, [], Mode.BAN_EXCEPTION):
            return notice(f"Nobody is let in past the bans of {room} (/mode +e NICK lets NICK in).")
        case r.RoomBans(room, entries, Mode.BAN_EXCEPTION):
            return _masks(f"Let in past the bans of {room}:", entries)
        case r.RoomBans(room, [], Mode.INVITE_EXCEPTION):
            return notice(
                f"Nobody joins {room} uninvited while it is invite only "
                "(/mode +I NICK lets NICK in)."
            )
        case r.RoomBans(room, entries, Mode.INVITE_EXCEPTION):
            return _masks(f"Let into {room} without an invitation:", entries)
        case r.RoomBans(room, []):
            return notice(f"Nobody is shut out of {room} (/mode +b NICK shuts NICK out).")
        case r.RoomBans(room, bans):
            return b"".join(
                [notice(f"Shut out of {room}:")]
                + [notice(f"  {ban.mask} (by {ban.by})") for ban in bans]
            )
        case r.Inviting(nickname, room):
            return notice(f"Invited {nickname} to {room}.")
        case r.Invitations([]):
            return notice("You are invited nowhere.")
        case r.Invitations(places):
            return notice(f"You are invited to {', '.join(places)}.")
        case r.RoomKept(room):
            return notice(f"{room} is kept now, for your account (/unkeep stops that).")
        case r.RoomUnkept(room):
            return notice(f"{room} is no longer kept.")
        case r.Kept(recipient, text):
            return notice(
                f"{recipient} is offline; this will be delivered when they log in:"
            ) + encode(f"-> *{recipient}* {text}")
        # Stored messages.
        case r.RecentHistory(_, []) | r.KeptMessages([]):
            return b""
        case r.RecentHistory(room, entries):
            return _stored(f"Recent messages in {room}:", entries)
        case r.LastMessages(room, _, []):
            return notice(f"No messages in {room} yet.")
        case r.LastMessages(room, number, entries):
            # As many as there are, when fewer than asked for.
            last = count(min(number, len(entries)), "message")
            return _stored(f"Last {last} in {room}:", entries)
        case r.Found(room, text, []):
            return notice(f"No messages in {room} match {text!r}.")
        case r.Found(room, text, entries):
            return _stored(f"Messages in {room} matching {text!r}:", entries)
        case r.KeptMessages(entries):
            return _stored(
                "Messages that came while you were offline:", entries, "End of messages.", kept_line
            )
        case r.PrivateHistory(nickname, _, []):
            return notice(f"No messages with {nickname} yet.")
        case r.PrivateHistory(nickname, number, entries):
            header = f"Last {count(min(number, len(entries)), 'message')} with {nickname}:"
            return _stored(header, entries, render=conversation_line)
        # A page of the past, as IRC clients ask for it (no line command
        # asks: worded all the same, as every reply is).
        case r.HistoryPage(target, room, []):
            return notice(f"No messages in {target}." if room else f"No messages with {target}.")
        case r.HistoryPage(target, True, entries):
            return _stored(f"Messages in {target}:", entries)
        case r.HistoryPage(target, False, entries):
            return _stored(f"Messages with {target}:", entries, render=conversation_line)
        case r.HistoryTargets([]):
            return notice("No conversations then.")
        case r.HistoryTargets(conversations):
            return notice("Conversations: " + ", ".join(c.name for c in conversations) + ".")
        case r.NoHistoryOf(_, room):
            return error(f"You are not in {room}.")
        case r.HistoryNeedsAccount():
            return error(
                "Conversations are kept for registered nicknames: /register PASSWORD to keep yours."
            )
        case r.HistoryFailed():
            return error("History is unavailable right now.")
        # Accounts.
        case r.Registered(nickname):
            return notice(
                f"{nickname} is now registered: "
                f"logging in as {nickname} will ask for this password."
            )
        case r.RegisteredNickname(nickname):
            return error(f"{nickname} is registered; log in as {nickname} to use it.")
        case r.Reserved(nickname):
            return error(f"The nickname {nickname} is kept for an operator of this server.")
        case r.ServiceName(nickname):
            return error(f"The nickname {nickname} is kept for the server's services.")
        case r.NearlyFull():
            return error("The server is nearly full: only registered nicknames can log in now.")
        case r.NotRedacted(room, msgid, why):
            return error(f"Message {msgid} in {room} was not deleted: {why.value}.")
        case r.ReadMarker():
            # For clients that show what is unread: a line user has read
            # what it was sent.
            return b""
        case r.TooManyChecks(by_address, wait):
            whose = "from your address" if by_address else "on this connection"
            unit = "second" if wait == 1 else "seconds"
            return error(f"Too many password checks {whose}; try again in {wait} {unit}.")
        case r.NotKept(recipient, Keeping.RECIPIENT_FULL, limit):
            return error(
                f"{recipient} has {count(limit, 'message')} waiting already; yours was not kept."
            )
        case r.NotKept(_, _, limit):
            return error(
                f"You have {count(limit, 'message')} waiting for users who are offline; "
                "yours was not kept."
            )
        case r.NotSaved():
            return error("The server cannot save that right now; nothing was changed.")
        case r.StoreDown():
            return error("The server cannot use its database right now; try again later.")
        case r.TooManyWords(limit):
            return error(f"Search for at most {limit} words.")
        case r.TooManyMasks(limit):
            return error(f"At most {limit} masks at once; nothing was listed.")
        case r.TooManyModes(limit, left):
            return error(
                f"Only {limit} changes with an argument are made at once: the last {left} were not."
            )
        case r.SearchTooSlow():
            return error("That search took too long and was stopped; try fewer or longer words.")
        case r.TooManyRegistrations():
            return error("Too many registrations from your address; try again later.")
        case r.NotSent(command):
            return error(
                f"Not sent to the room: did you mean {command}? (/say TEXT says anything as it is.)"
            )
        case r.BanningYourself(target):
            return error(f"{target} is you: you cannot ban yourself.")
        case r.Dropped(dropped):
            return error(
                f"Ignored {count(dropped, 'line')} sent before you could see that refusal."
            )
        case r.BadNewPassword(problem):
            limit = MIN_PASSWORD_LENGTH if problem is Problem.TOO_SHORT else MAX_PASSWORD_LENGTH
            return error(f"Choose another password: {_problem(problem, limit)}.")
        case r.PasswordChanged():
            return notice("Your password is changed.")
        case r.Unregistered(nickname):
            return notice(f"{nickname} is no longer registered.")
        case r.NotProven():
            return error("Wrong password, or your nickname is not registered.")
        # Moderation.
        case r.KickedOut(nickname):
            return notice(f"{nickname} is kicked.")
        case r.Banned(target, banned):
            return notice(f"{target} is banned{ban(banned)}.")
        case r.Unbanned(target):
            return notice(f"{target} is no longer banned.")
        case r.NotBanned(target):
            return error(f"{target} is not banned.")
        case r.BanList(bans):
            return notice(f"{count(len(bans), 'ban')}:") + b"".join(
                notice(f"  {each.target} (by {each.by}){ban(each)}") for each in bans
            )
        # Goodbyes.
        case g.Quit():
            return notice("Goodbye.")
        case g.ShuttingDown():
            return notice("The server is shutting down. Goodbye.")
        case g.AddressBanned(banned):
            return error(f"This address is banned{ban(banned)}. Goodbye.")
        case g.ServerFull(limit):
            return error(
                f"The server is full ({count(limit, 'connection')}); try again later. Goodbye."
            )
        case g.TooManyConnections(host):
            return error(f"Too many new connections from {host}; wait a little. Goodbye.")
        case g.HostFull(host, limit):
            return error(
                f"Too many connections from {host} ({limit}); close one and try again. Goodbye."
            )
        case g.Crowded(limit):
            return error(
                f"Too many connections are still logging in ({limit}); try again in a moment. "
                "Goodbye."
            )
        case g.StillRegistering(host, limit):
            return error(
                f"Too many connections from {host} still logging in ({limit}); "
                "finish one and try again. Goodbye."
            )
        case g.LoginTimedOut(seconds):
            return error(f"No nickname chosen in {count(seconds, 'second')}. Goodbye.")
        case g.IdleTimedOut(seconds):
            return error(f"Idle for {count(seconds, 'second')}. Goodbye.")
        case g.PingTimedOut(seconds):
            return error(f"No answer from your client for {count(seconds, 'second')}. Goodbye.")
        case g.Flooding():
            return error("Still flooding. Goodbye.")
        case g.OutOfTries():
            return error("Wrong password. Goodbye.")
        case g.LockedOut(host, None):
            return error(f"Too many wrong passwords from {host}; try again later. Goodbye.")
        case g.LockedOut(_, str() as account):
            return error(f"Too many wrong passwords for {account}; try again later. Goodbye.")
        case g.ThrownOut(Departure(Why.NODE_LOST, unsent=unsent)):
            # Its node lost the cluster (docs/cluster.md): what was not
            # acknowledged is said, never sent again. A notice, as the
            # shutdown's: a client connects again (to it, or another node).
            lost = f"; the last {count(unsent, 'line')} you sent may have reached nobody"
            return notice(
                f"This server lost touch with the rest of the chat{lost if unsent else ''}. "
                "Connect again in a moment."
            )
        case g.ThrownOut(departure):
            return error(f"You were {gone(departure)}. Goodbye.")
    raise TypeError(f"not a reply: {said!r}")


_UNAVAILABLE = {
    r.Feature.ACCOUNTS: "This server has no accounts.",
    r.Feature.HISTORY: "This server keeps no history.",
    r.Feature.BANS: "This server keeps no bans.",
}


class Encoder(encoding.Encoder):
    """
    Encodes events as the line door's lines (see L{chat.net.encoding}).
    """

    __slots__ = ()

    def encode(self, event: Event) -> bytes:
        text = format_event(event)
        return encode(text) if text else b""
