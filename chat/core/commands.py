"""
The command table: every command's names, arguments and preconditions,
declared once and checked in one place (L{dispatch}).

A front-end hands L{dispatch} a command's name and the text after it, and the
room it was said in (the line front-end's current room). The table is the one
list of commands: the line front-end's C{/help} is made from it, and so is the
bundled client's completion.

Arguments are declared as they are shown in a usage line (C{"NICK [REASON]"}):
each is one word but the last, which takes the rest of the line as typed; one
in brackets may be left out.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chat.core.modes import MODE_USAGE
from chat.core.replies import (
    ROOMS_PAGE,
    Feature,
    LoggedInAlready,
    LoginFirst,
    OperatorsOnly,
    OutOfRange,
    Refused,
    TooManyWords,
    Unavailable,
    UnknownCommand,
    Usage,
)
from chat.core.text import clean, parse_duration

if TYPE_CHECKING:
    from chat.core.session import Session


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
said in (L{None} where the front-end has no current room), then one string
(or L{None}, for one left out) per declared argument.
"""


@dataclass(frozen=True)
class Command:
    """
    One command: its names (the first is the one to show), its arguments as a
    usage line shows them, what it does (for help), what runs it, and its
    preconditions.

    @ivar when: before or after login, or only while a password is wanted.
    @ivar operator: only operators may use it.
    @ivar needs: what the server must run with (accounts, history, bans).
    """

    names: tuple[str, ...]
    arguments: str
    summary: str
    run: Handler
    when: When = When.LOGGED_IN
    operator: bool = False
    needs: Feature | None = None

    @property
    def name(self) -> str:
        return self.names[0]

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
    if command.operator and not session.operator:
        raise Refused(OperatorsOnly(command.name))
    if command.needs is not None and not session.has(command.needs):
        raise Refused(Unavailable(command.needs))
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
    # The line front-end's one room: leaving it is going back to the room
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
    # Said in a room, a join is a move: the line front-end's one-room rule.
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


def _history(session: Session, room: str | None, count: str | None) -> None:
    number = HISTORY_DEFAULT
    if count is not None:
        if not _NUMBER.fullmatch(count):
            # int() would take "1_0", " 10" and other digits than 0-9.
            raise BadArguments()
        number = int(count)
        if not 1 <= number <= HISTORY_MAX:
            raise Refused(OutOfRange("history", "[N]", 1, HISTORY_MAX))
    session.history(_in_room(room), number)


SEARCH_WORDS = 8
"""
Words a search may have: each is a prefix match against the full-text index,
and 1 000 of them held the database thread for 69 s on a million messages.
"""


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


HISTORY_DEFAULT = 50
HISTORY_MAX = 500

COMMANDS: Sequence[Command] = (
    Command(("msg", "whisper", "w", "tell"), "NICK TEXT", "send TEXT to NICK only", _msg),
    Command(("me",), "ACTION", "show this room what you do: * you ACTION", _me),
    Command(("say",), "TEXT", "say TEXT to this room as it is (even /text or a lone help)", _say),
    Command(("who", "list", "users"), "[*]", "who is in this room; with *, everyone online", _who),
    Command(("join",), "ROOM [KEY]", "go to ROOM, creating it if need be", _join),
    Command(("part",), "", "leave this room, back to the first room", _part),
    Command(
        ("rooms",), "[PAGE]", f"list the rooms, their sizes and topics, {ROOMS_PAGE} a page", _rooms
    ),
    Command(("topic",), "[TEXT]", "show this room's topic, or set it", _topic),
    Command(("mode",), MODE_USAGE, "show this room's modes, or change them (+m, +o NICK)", _mode),
    Command(("invite",), "NICK", "invite NICK into this room", _invite),
    Command(("whowas",), "NICK", "when NICK was last here", _whowas),
    Command(("remove",), "NICK [REASON]", "put NICK out of this room (its operators)", _remove),
    Command(
        ("history",),
        "[N]",
        f"show this room's last N messages (default {HISTORY_DEFAULT})",
        _history,
        needs=Feature.HISTORY,
    ),
    Command(
        ("search",), "TEXT", "find this room's messages with TEXT", _search, needs=Feature.HISTORY
    ),
    Command(
        ("register",),
        "PASSWORD",
        "protect your nickname with a password",
        _register,
        needs=Feature.ACCOUNTS,
    ),
    Command(("password",), "OLD NEW", "change your password", _password, needs=Feature.ACCOUNTS),
    Command(
        ("unregister",),
        "PASSWORD",
        "give up your nickname's registration",
        _unregister,
        needs=Feature.ACCOUNTS,
    ),
    Command(
        ("login",),
        "PASSWORD",
        "prove a registered nickname is yours",
        _login,
        when=When.PASSWORD_WANTED,
        needs=Feature.ACCOUNTS,
    ),
    Command(("kick",), "NICK [REASON]", "throw NICK out", _kick, operator=True),
    Command(("wall",), "TEXT", "tell everyone, in every room", _wall, operator=True),
    Command(
        ("ban",),
        "NICK|ADDRESS [DURATION] [REASON]",
        "shut out a nickname or address (DURATION: 30m, 2h, 7d...)",
        _ban,
        operator=True,
        needs=Feature.BANS,
    ),
    Command(("unban",), "NICK|ADDRESS", "lift a ban", _unban, operator=True, needs=Feature.BANS),
    Command(("bans",), "", "list the bans", _bans, operator=True, needs=Feature.BANS),
    Command(("away",), "[TEXT]", "be away: who messages you is told; alone: back", _away),
    Command(("nick",), "NICK", "change your nickname", _nick, when=When.ANY),
    Command(("help",), "", "show this list", _help, when=When.ANY),
    Command(("quit", "exit", "q"), "[REASON]", "leave the chat", _quit, when=When.ANY),
)
"""
Every command, in the order help shows them.
"""

BY_NAME = {name: command for command in COMMANDS for name in command.names}
