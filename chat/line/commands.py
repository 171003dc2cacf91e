"""
The line door's command table: every slash command's names and arguments,
and the session method it calls, declared once and dispatched in one place
(L{dispatch}).

The line door hands L{dispatch} a command's name, the text after it, and the
room it was said in (its user's one room). The table is the one list of
commands: C{/help} is made from it, and so is the bundled client's
completion. What a command needs (operator rights, a store) is not declared
here but on the session method it calls (L{chat.core.rights}); the table
reads it from there, to refuse early and to show each user only what it may
use, and the method checks it again, whoever calls it.

Arguments are declared as they are shown in a usage line (C{"NICK [REASON]"}):
each is one word but the last, which takes the rest of the line as typed; one
in brackets may be left out.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chat.core.limits import HISTORY_DEFAULT, HISTORY_MAX, ROOMS_PAGE, SEARCH_WORDS
from chat.core.modes import MODE_USAGE
from chat.core.replies import (
    Feature,
    LoggedInAlready,
    LoginFirst,
    OutOfRange,
    Refused,
    TooManyWords,
    UnknownCommand,
    Usage,
)
from chat.core.rights import RULES, Rule, refusal
from chat.core.session import Session
from chat.core.text import clean, nickname_problem, parse_duration

_NUMBER = re.compile(r"[0-9]{1,6}")
_WORD = re.compile(r"\s*(\S+)(?:\s(.*))?\Z", re.S)
"""
One word, then (after one white space character) the rest.
"""


class When(enum.Enum):
    """
    When in a session a command may be used.
    """

    LOGGED_IN = "logged in"
    ANY = "any time"
    PASSWORD_WANTED = "while a password is wanted"


class BadArguments(Exception):
    """
    Raised by a command's handler: the arguments are wrong (its usage is told).
    """


Handler = Callable[..., None]
"""
C{handler(session, room, *arguments)}: C{room} is the room the command was
said in (L{None} where the door has no current room), then one string
(or L{None}, for one left out) per declared argument.
"""


@dataclass(frozen=True)
class Command:
    """
    One command: its names (the first is the one to show), its arguments as a
    usage line shows them, what it does (for help), what runs it, and the
    session method that does it.

    @ivar when: before or after login, or only while a password is wanted.
    @ivar action: the name of the L{Session} method C{run} calls, whose
        declared rule (L{chat.core.rights}) says what the command needs.
    """

    names: tuple[str, ...]
    arguments: str
    summary: str
    run: Handler
    action: str
    when: When = When.LOGGED_IN

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def rule(self) -> Rule:
        """
        What the command needs, as its session method declares it.
        """
        return RULES.get(self.action, Rule())

    @property
    def operator(self) -> bool:
        return self.rule.operator

    @property
    def needs(self) -> Feature | None:
        return self.rule.needs

    def split(self, text: str) -> list[str | None]:
        """
        C{text} as this command's arguments.

        @raise BadArguments: if one that may not be left out is.
        """
        specs = self.arguments.split()
        words: list[str | None] = []
        rest: str | None = text
        for _ in specs[:-1]:
            match = _WORD.match(rest or "")
            word, rest = (match.group(1), match.group(2)) if match else (None, None)
            words.append(word)
        if specs:
            # The last takes the rest as typed: people indent code and ASCII art.
            words.append(rest or None)
        for spec, word in zip(specs, words, strict=True):
            if not spec.startswith("[") and (word is None or not word.strip()):
                raise BadArguments()
        return words


def dispatch(session: Session, name: str, text: str, room: str | None) -> None:
    """
    Run the command called C{name} (in any case) with the arguments in
    C{text}, once its preconditions hold; tell the user which one does not.
    """
    command = BY_NAME.get(name.lower())
    logged_in = session.user is not None
    if command is None:
        raise Refused(UnknownCommand(name) if logged_in else LoginFirst())
    if command.when is When.LOGGED_IN and not logged_in:
        raise Refused(LoginFirst())
    if command.when is When.PASSWORD_WANTED:
        if logged_in:
            raise Refused(LoggedInAlready())
        if not session.password_wanted:
            raise Refused(LoginFirst())
    refused = refusal(session, command.action, command.name)
    if refused is not None:
        # Said before the arguments are read: "/kick" alone from somebody
        # who is no operator is told that, not how to use it.
        raise Refused(refused)
    try:
        command.run(session, room, *command.split(text))
    except BadArguments:
        raise Refused(Usage(command.name, command.arguments)) from None


# The handlers: from arguments as typed to one session call.


def _in_room(room: str | None) -> str:
    if room is None:
        raise BadArguments()
    return room


def _msg(session: Session, room: str | None, nickname: str, text: str) -> None:
    if not clean(text).strip():
        raise BadArguments()
    session.whisper(nickname, text)


def _say(session: Session, room: str | None, text: str) -> None:
    session.say(_in_room(room), text)


def _part(session: Session, room: str | None) -> None:
    # The line door's one room: leaving it is going back to the room
    # everyone starts in (there already: "You are already in lobby.").
    if session.home is None:
        raise BadArguments()
    session.join(session.home, leaving=_in_room(room))


def _me(session: Session, room: str | None, text: str) -> None:
    session.act(_in_room(room), text)


def _who(session: Session, room: str | None, everyone: str | None) -> None:
    if everyone is None:
        session.who(_in_room(room))
    elif everyone.strip() == "*":
        session.who(None)
    else:
        raise BadArguments()


def _join(session: Session, room: str | None, name: str, key: str | None) -> None:
    # Said in a room, a join is a move: the line door's one-room rule.
    # "#general" is IRC's habit for the room general. A second word is a
    # key only for a room that takes one: "/join my room" is a bad name.
    name = name.removeprefix("#")
    if key is not None and not session.keyed(name):
        name, key = f"{name} {key}".strip(), None
    session.join(name, leaving=room, key=key.strip() if key else None)


def _mode(session: Session, room: str | None, changes: str | None) -> None:
    if changes is None or not changes.strip():
        session.modes(_in_room(room), None)
        return
    words = changes.split()
    if words[0][:1] not in "+-":
        raise BadArguments()
    session.modes(_in_room(room), words[0], words[1:])


def _whowas(session: Session, room: str | None, nickname: str) -> None:
    session.whowas(nickname.strip())


def _invite(session: Session, room: str | None, nickname: str) -> None:
    session.invite(nickname.strip(), _in_room(room))


def _remove(session: Session, room: str | None, nickname: str, reason: str | None) -> None:
    session.kick_from(_in_room(room), nickname, reason)


def _keep(session: Session, room: str | None) -> None:
    session.keep_room(_in_room(room))


def _unkeep(session: Session, room: str | None, name: str | None) -> None:
    if name is not None and name.strip():
        session.unkeep_room(name.strip().removeprefix("#"))
    else:
        session.unkeep_room(_in_room(room))


def _away(session: Session, room: str | None, text: str | None) -> None:
    session.set_away(text)


def _rooms(session: Session, room: str | None, page: str | None) -> None:
    if page is None:
        session.rooms()
    elif _NUMBER.fullmatch(page.strip()) and int(page) >= 1:
        session.rooms(int(page))
    else:
        raise BadArguments()


def _topic(session: Session, room: str | None, text: str | None) -> None:
    session.topic(_in_room(room), text if text is not None and text.strip() else None)


HISTORY_USAGE = "[NICK] [N]"


def _history(session: Session, room: str | None, first: str | None, count: str | None) -> None:
    # "/history [N]": the room's; "/history NICK [N]": your conversation with
    # NICK (a nickname starts with a letter, a number never does).
    if first is not None and not _NUMBER.fullmatch(first):
        if nickname_problem(first) is not None:
            raise BadArguments()
        session.conversation(first, _count(count))
        return
    if count is not None:
        raise BadArguments()
    session.history(_in_room(room), _count(first))


def _count(text: str | None) -> int:
    """
    How many messages C{/history} is asked for.
    """
    if text is None:
        return HISTORY_DEFAULT
    if not _NUMBER.fullmatch(text.strip()):
        # int() would take "1_0", " 10" and other digits than 0-9.
        raise BadArguments()
    number = int(text)
    if not 1 <= number <= HISTORY_MAX:
        raise Refused(OutOfRange("history", HISTORY_USAGE, 1, HISTORY_MAX))
    return number


def _search(session: Session, room: str | None, text: str) -> None:
    text = clean(text).strip()
    if not text:
        raise BadArguments()
    if len(text.split()) > SEARCH_WORDS:
        raise Refused(TooManyWords(SEARCH_WORDS))
    session.search(_in_room(room), text)


def _register(session: Session, room: str | None, password: str) -> None:
    session.register(password)


def _password(session: Session, room: str | None, old: str, new: str) -> None:
    session.change_password(old, new)


def _unregister(session: Session, room: str | None, password: str) -> None:
    session.unregister(password)


def _login(session: Session, room: str | None, password: str) -> None:
    session.give_password(password)


def _kick(session: Session, room: str | None, nickname: str, reason: str | None) -> None:
    session.kick(nickname, reason)


def _wall(session: Session, room: str | None, text: str) -> None:
    if not clean(text).strip():
        raise BadArguments()
    session.announce(text)


def _ban(
    session: Session, room: str | None, target: str, duration: str | None, reason: str | None
) -> None:
    seconds = None if duration is None else parse_duration(duration)
    if duration is not None and seconds is None and duration[:1].isdigit():
        # Meant as a duration ("5x", "100000000000000000w"), but not one.
        raise BadArguments()
    if seconds is None and duration is not None:
        # Not a duration: the first word of the reason.
        reason = duration if reason is None else f"{duration} {reason}"
    session.ban(target, seconds, reason)


def _unban(session: Session, room: str | None, target: str) -> None:
    session.unban(target.strip())


def _bans(session: Session, room: str | None) -> None:
    session.list_bans()


def _nick(session: Session, room: str | None, nickname: str) -> None:
    if session.user is None:
        session.choose_nickname(nickname.strip())
    else:
        session.rename(nickname.strip())


def _help(session: Session, room: str | None) -> None:
    session.help()


def _quit(session: Session, room: str | None, reason: str | None) -> None:
    session.quit((reason or "").strip() or None)


COMMANDS: Sequence[Command] = (
    Command(
        ("msg", "whisper", "w", "tell"), "NICK TEXT", "send TEXT to NICK only", _msg, "whisper"
    ),
    Command(("me",), "ACTION", "show this room what you do: * you ACTION", _me, "act"),
    Command(
        ("say",), "TEXT", "say TEXT to this room as it is (even /text or a lone help)", _say, "say"
    ),
    Command(
        ("who", "list", "users"), "[*]", "who is in this room; with *, everyone online", _who, "who"
    ),
    Command(("join",), "ROOM [KEY]", "go to ROOM, creating it if need be", _join, "join"),
    Command(("part",), "", "leave this room, back to the first room", _part, "join"),
    Command(
        ("rooms",),
        "[PAGE]",
        f"list the rooms, their sizes and topics, {ROOMS_PAGE} a page",
        _rooms,
        "rooms",
    ),
    Command(("topic",), "[TEXT]", "show this room's topic, or set it", _topic, "topic"),
    Command(
        ("mode",),
        MODE_USAGE,
        "show this room's modes, or change them (+m, +o NICK)",
        _mode,
        "modes",
    ),
    Command(("invite",), "NICK", "invite NICK into this room", _invite, "invite"),
    Command(("whowas",), "NICK", "when NICK was last here", _whowas, "whowas"),
    Command(
        ("remove",),
        "NICK [REASON]",
        "put NICK out of this room (its operators)",
        _remove,
        "kick_from",
    ),
    Command(
        ("keep",),
        "",
        "keep this room, its topic, modes and operators, for good",
        _keep,
        "keep_room",
    ),
    Command(("unkeep",), "[ROOM]", "stop keeping this room (or ROOM)", _unkeep, "unkeep_room"),
    Command(
        ("history",),
        HISTORY_USAGE,
        f"this room's last N messages (default {HISTORY_DEFAULT}), or yours with NICK",
        _history,
        "history",
    ),
    Command(("search",), "TEXT", "find this room's messages with TEXT", _search, "search"),
    Command(
        ("register",), "PASSWORD", "protect your nickname with a password", _register, "register"
    ),
    Command(("password",), "OLD NEW", "change your password", _password, "change_password"),
    Command(
        ("unregister",),
        "PASSWORD",
        "give up your nickname's registration",
        _unregister,
        "unregister",
    ),
    Command(
        ("login",),
        "PASSWORD",
        "prove a registered nickname is yours",
        _login,
        "give_password",
        when=When.PASSWORD_WANTED,
    ),
    Command(("kick",), "NICK [REASON]", "throw NICK out", _kick, "kick"),
    Command(("wall",), "TEXT", "tell everyone, in every room", _wall, "announce"),
    Command(
        ("ban",),
        "NICK|ADDRESS [DURATION] [REASON]",
        "shut out a nickname or address (DURATION: 30m, 2h, 7d...)",
        _ban,
        "ban",
    ),
    Command(("unban",), "NICK|ADDRESS", "lift a ban", _unban, "unban"),
    Command(("bans",), "", "list the bans", _bans, "list_bans"),
    Command(
        ("away",), "[TEXT]", "be away: who messages you is told; alone: back", _away, "set_away"
    ),
    Command(("nick",), "NICK", "change your nickname", _nick, "rename", when=When.ANY),
    Command(("help",), "", "show this list", _help, "help", when=When.ANY),
    Command(("quit", "exit", "q"), "[REASON]", "leave the chat", _quit, "quit", when=When.ANY),
)
"""
Every command, in the order help shows them.
"""

BY_NAME = {name: command for command in COMMANDS for name in command.names}
