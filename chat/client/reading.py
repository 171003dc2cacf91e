"""
What the client understands of the server's lines (the grammar in C{docs/protocol.md}).

The line protocol is made for people, so the client reads it as a person
would: who am I, which room am I in, who is around, is the server asking
for a password. Nothing here is needed to chat; it makes completion,
colours and reconnecting work.
"""

from __future__ import annotations

import enum
import re

from chat.line.commands import COMMANDS as TABLE
from chat.line.commands import When

CLIENT_COMMANDS = ("/r", "/ignore", "/unignore")
"""
The terminal client's own commands (L{chat.client.present}), never sent as they are.
"""

# Every command the client knows: the server's (its own table), and the
# client's; Tracker.commands() says which of them a user may use now.
COMMANDS = tuple(
    sorted({"/" + name for command in TABLE for name in command.names} | set(CLIENT_COMMANDS))
)

LOBBY = "lobby"


class Kind(enum.Enum):
    """
    The kinds of line that are shown differently.
    """

    OWN = "own"
    PUBLIC = "public"
    ACTION = "action"
    PRIVATE = "private"
    NOTICE = "notice"
    ERROR = "error"
    HISTORY = "history"


NAME = r"[A-Za-z][A-Za-z0-9_-]*"
"""
A nickname or room name, as a regular expression.
"""
# In a crowd, a count in place of the names: "N users here (/who lists them)."
_WELCOME = re.compile(rf"\*\*\* You are ({NAME})\. \d+ users? online(?:: (.*)| \(.*)$")
_ENTERED = re.compile(rf"\*\*\* You are in ({NAME})\. \d+ users? here(?:: (.*)| \(.*)$")
_WHO = re.compile(rf"\*\*\* \d+ users? (?:online|in {NAME}): (.*)$")
_JOINED = re.compile(rf"\*\*\* ({NAME}) has joined$")
_LEFT = re.compile(rf"\*\*\* ({NAME}) has left(?: \(.*\))?$")
_RENAMED = re.compile(rf"\*\*\* ({NAME}) is now known as ({NAME})$")
_PASSWORD = re.compile(rf"\*\*\* ({NAME}) is registered\. Send its password")
_OPERATOR = re.compile(r"\*\*\* You are an operator (of this server|now)\b")
_SPEAKER = re.compile(rf"(?:<({NAME})> |\* ({NAME})(?: |$)|\*({NAME})\* )")


def is_nickname_question(line: str) -> bool:
    """
    Whether C{line} is the server asking for a nickname.
    """
    return line.startswith("*** Choose a nickname")


def speaker(line: str) -> str | None:
    """
    Who said C{line} (a message, an action or a private message), if anyone.
    """
    match = _SPEAKER.match(line)
    if match is None:
        return None
    return next(name for name in match.groups() if name)


def classify(line: str, me: str | None) -> Kind:
    """
    The kind of a server line, for colouring.
    """
    if line.startswith("*** "):
        return Kind.NOTICE
    if line.startswith("!!! "):
        return Kind.ERROR
    if line.startswith("["):
        return Kind.HISTORY
    if line.startswith("-> *"):
        return Kind.PRIVATE
    match = _SPEAKER.match(line)
    if match is None:
        return Kind.PUBLIC
    if match.group(3) is not None:
        return Kind.PRIVATE
    if me is not None and me in (match.group(1), match.group(2)):
        return Kind.OWN
    return Kind.ACTION if match.group(2) is not None else Kind.PUBLIC


class Tracker:
    """
    The client's picture of its session, kept up to date from the server's lines.

    @ivar nickname: who the server says we are, once logged in.
    @ivar room: the room the server last put us in.
    @ivar names: nicknames seen online, for completion.
    @ivar password_for: the nickname whose password the server is asking
        for, until the user answers.
    @ivar operator: whether the server said we are one of its operators.
    """

    def __init__(self) -> None:
        self.nickname: str | None = None
        self.room: str | None = None
        self.names: set[str] = set()
        self.password_for: str | None = None
        self.operator = False

    def read(self, line: str) -> None:
        if match := _WELCOME.match(line):
            self.nickname = match.group(1)
            self.names = set(_split(match.group(2)))
        elif match := _ENTERED.match(line):
            self.room = match.group(1)
            self.names.update(_split(match.group(2)))
        elif match := _WHO.match(line):
            self.names.update(_split(match.group(1)))
        elif match := _JOINED.match(line):
            self.names.add(match.group(1))
        elif match := _LEFT.match(line):
            self.names.discard(match.group(1))
        elif match := _RENAMED.match(line):
            old, new = match.groups()
            self.names.discard(old)
            self.names.add(new)
            if old == self.nickname:
                self.nickname = new
        elif match := _PASSWORD.match(line):
            self.password_for = match.group(1)
        elif _OPERATOR.match(line):
            self.operator = True
        elif (name := speaker(line)) is not None:
            self.names.add(name)

    def logged_out(self) -> None:
        """
        The connection is gone: nobody is known to be online any more.
        """
        self.names = set()
        self.password_for = None
        self.operator = False

    def commands(self) -> list[str]:
        """
        The commands this user may use now, as the server's table says
        (before login, only those that work then; an operator's only to an
        operator), and the client's own once logged in.
        """
        logged_in = self.nickname is not None
        names = set(CLIENT_COMMANDS) if logged_in else set()
        for command in TABLE:
            if (
                (command.operator and not self.operator)
                or (command.when is When.LOGGED_IN and not logged_in)
                or (command.when is When.PASSWORD_WANTED and self.password_for is None)
            ):
                continue
            names.update("/" + name for name in command.names)
        return sorted(names)

    def completions(self, word: str, first: bool) -> list[str]:
        """
        What C{word} may complete to: a command when it is the line's first
        word and starts with C{/}, otherwise a nickname (case does not matter).
        """
        if first and word.startswith("/"):
            return [command for command in self.commands() if command.startswith(word)]
        folded = word.casefold()
        return sorted(
            (name for name in self.names if name.casefold().startswith(folded)), key=str.casefold
        )


def _split(names: str | None) -> list[str]:
    return [name for name in (names or "").split(", ") if name]
