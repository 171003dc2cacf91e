"""
Habits from other chats, typed without a slash: caught before they reach a room.

People who learnt on the classic school chat projects type C{send bob hi},
C{list}, C{help} or C{quit}. Said to the room, the first would broadcast what
was meant for one person, and the others are never what the user wanted to
say: such a line is not sent, and the user is told the command it meant.
C{/say TEXT} says anything to the room as it is.
"""

from __future__ import annotations

from collections.abc import Callable

_ALONE = {
    "help": "/help",
    "list": "/who",
    "users": "/who",
    "who": "/who",
    "rooms": "/rooms",
    "quit": "/quit",
    "exit": "/quit",
}
"""
A line that is only one of these words (any case) is that command.
"""

_PRIVATE = frozenset(("send", "msg", "tell", "whisper", "pm", "dm"))
"""
A line that is one of these, an online nickname and text is a private message.
"""


def meant(text: str, is_online: Callable[[str], bool]) -> str | None:
    """
    The command a line said to a room most likely meant, or L{None} for a
    line that is to be said.
    """
    word, _, rest = text.strip().partition(" ")
    lowered = word.lower()
    if not rest:
        return _ALONE.get(lowered)
    if lowered in _PRIVATE:
        nickname, _, message = rest.strip().partition(" ")
        message = message.strip()
        if message and is_online(nickname):
            return f"/msg {nickname} {message}"
    return None
