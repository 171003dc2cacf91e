"""
What chat tells IRC clients it supports (004 and 005's ISUPPORT), derived
from the rules themselves: the room modes from L{chat.core.modes}, the
lengths and counts from L{chat.core.limits}. A mode added there is
announced here without a line written by hand.
"""

from __future__ import annotations

from chat.core.limits import (
    KICK_TARGETS,
    LIST_LIMIT,
    MAX_NICKNAME_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_TARGETS,
    MAX_TOPIC_LENGTH,
    MODES_PER_LINE,
    MONITOR_LIMIT,
    PAGE_MAX,
    ROOMS_PER_USER,
)
from chat.core.modes import FLAGS, LIST_MODES, MEMBER_MODES, Mode, takes_argument

USER_MODES = "Biow"
"""
The user modes: B (a bot), i (invisible), o (an operator), w (WALLOPS).
"""

_PREFIXES = {Mode.OPERATOR: "@", Mode.VOICE: "+"}
"""
How a member mode shows before a nickname, highest first.
"""

CHANNEL_PREFIX = "#"

TARGMAX = {
    "KICK": KICK_TARGETS,
    "NAMES": MAX_TARGETS,
    "NOTICE": MAX_TARGETS,
    "PRIVMSG": MAX_TARGETS,
    "TAGMSG": MAX_TARGETS,
    "WHOIS": 1,
    "WHOWAS": 1,
}
"""
How many targets (C{#a,#b,nick}) a verb takes; the verbs that take a list
and are not here (JOIN, PART) take any number.
"""


def _letters(modes: frozenset[Mode] | set[Mode]) -> str:
    return "".join(sorted(m.value for m in modes))


def chanmodes() -> str:
    """
    ISUPPORT's CHANMODES: lists (A), always an argument (B), an argument
    when set (C), flags (D).
    """
    lists = set(LIST_MODES)
    always = {m for m in Mode if m not in FLAGS | MEMBER_MODES | lists and takes_argument(m, False)}
    when_set = {
        m
        for m in Mode
        if m not in FLAGS | MEMBER_MODES | lists | always and takes_argument(m, True)
    }
    return ",".join(_letters(group) for group in (lists, always, when_set, set(FLAGS)))


def status_prefix(mode: Mode) -> str:
    """
    What goes before a channel's name to address its members of C{mode}
    and higher (C{@#room}: its operators), as PREFIX shows them.
    """
    return _PREFIXES[mode]


def prefix() -> str:
    """
    ISUPPORT's PREFIX: C{(ov)@+}, highest first.
    """
    ordered = [m for m in (Mode.OPERATOR, Mode.VOICE) if m in MEMBER_MODES]
    return "(" + "".join(m.value for m in ordered) + ")" + "".join(_PREFIXES[m] for m in ordered)


def channel_modes() -> str:
    """
    004's channel modes: every room mode.
    """
    return _letters(set(Mode))


def argument_modes() -> str:
    """
    004's third list: the channel modes that take an argument.
    """
    return _letters({m for m in Mode if takes_argument(m, True)})


def tokens(network: str = "chat") -> list[str]:
    """
    ISUPPORT (005): what a client may rely on.
    """
    return [
        "CASEMAPPING=ascii",
        f"CHATHISTORY={PAGE_MAX}",
        "MSGREFTYPES=msgid,timestamp",
        f"CHANNELLEN={MAX_ROOM_NAME_LENGTH + len(CHANNEL_PREFIX)}",
        f"CHANTYPES={CHANNEL_PREFIX}",
        f"CHANMODES={chanmodes()}",
        f"CHANLIMIT={CHANNEL_PREFIX}:{ROOMS_PER_USER}",
        "MAXLIST="
        + "".join(m.value for m in (Mode.BAN, Mode.BAN_EXCEPTION, Mode.INVITE_EXCEPTION))
        + f":{LIST_LIMIT}",
        f"MODES={MODES_PER_LINE}",
        f"NICKLEN={MAX_NICKNAME_LENGTH}",
        f"PREFIX={prefix()}",
        f"TOPICLEN={MAX_TOPIC_LENGTH}",
        f"NETWORK={network}",
        "UTF8ONLY",
        "BOT=B",
        "WHOX",
        f"MONITOR={MONITOR_LIMIT}",
        "STATUSMSG=" + "".join(_PREFIXES[m] for m in (Mode.OPERATOR, Mode.VOICE)),
        "ELIST=CMNTU",
        f"EXCEPTS={Mode.BAN_EXCEPTION.value}",
        f"INVEX={Mode.INVITE_EXCEPTION.value}",
        "TARGMAX=" + ",".join(f"{verb}:{most}" for verb, most in sorted(TARGMAX.items())),
    ]


TOKENS_PER_LINE = 13
"""
ISUPPORT tokens one 005 line carries: with the nickname and the closing
text, the 15 parameters a message may have (RFC 2812); more go on another.
"""

TOKENS = tokens()
"""
ISUPPORT as sent at every registration: worked out once.
"""


def lines() -> list[list[str]]:
    """
    L{TOKENS} cut into 005 lines.
    """
    return [TOKENS[i : i + TOKENS_PER_LINE] for i in range(0, len(TOKENS), TOKENS_PER_LINE)]
