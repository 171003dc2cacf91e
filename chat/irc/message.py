"""
IRC messages: one line in, parsed; one line out, built (RFC 1459/2812 with
IRCv3 message tags).

    @tag=value;flag :source VERB param param :trailing parameter

Parsing never raises on what a client sends: a line that is not a message is
L{None}. Building makes the last parameter a trailing one when it must be (it
is empty, has a space, or starts with C{:}), and never lets a parameter carry
CR, LF or NUL: a value cannot end a line or start another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TAG_ESCAPES = {"\\:": ";", "\\s": " ", "\\\\": "\\", "\\r": "\r", "\\n": "\n"}
# NUL has no escape: a value never carries it.
_TAG_UNESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n", "\0": ""}
_CLIENT_TAG = re.compile(r"\+(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+")
_FORBIDDEN = str.maketrans({"\r": None, "\n": None, "\x00": None})


@dataclass(frozen=True, slots=True)
class Message:
    """
    One IRC message. C{verb} is upper case (a command or a three-digit numeric).
    """

    verb: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


def _unescape(value: str) -> str:
    out = []
    index = 0
    while index < len(value):
        pair = value[index : index + 2]
        if pair in _TAG_ESCAPES:
            out.append(_TAG_ESCAPES[pair])
            index += 2
        elif value[index] == "\\":
            index += 1  # a lone backslash, or an unknown escape: dropped
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


def parse(text: str) -> Message | None:
    """
    The message on one line (without its line end), or L{None} if there is none.
    """
    tags: dict[str, str] = {}
    rest = text.lstrip(" ")
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = _unescape(value)
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    words = rest.split()
    if not words:
        return None
    params = words[1:] + ([trailing] if trailing is not None else [])
    return Message(words[0].upper(), tuple(params), source or None, tags)


def valid_client_tag(key: str, value: str) -> bool:
    """
    Whether a client-only tag is one IRCv3's message-tags allows: its name
    C{+}, an optional vendor (a host name) and C{/}, then letters, digits and
    hyphens; its value without NUL. Its name is relayed as it is: a CR or a
    space in it would end the tags, or the line, early for every recipient.
    """
    return _CLIENT_TAG.fullmatch(key) is not None and "\0" not in value


def escape_tag(value: str) -> str:
    return "".join(_TAG_UNESCAPES.get(char, char) for char in value)


def build(
    verb: str,
    *params: str,
    source: str | None = None,
    tags: Mapping[str, str] | None = None,
    text: bool = False,
) -> bytes:
    """
    One wire line (UTF-8, CRLF-terminated). With C{text}, the last parameter
    is a trailing one whatever it holds (as a message's text always is).
    """
    parts = []
    if tags:
        parts.append(
            "@"
            + ";".join(
                f"{key}={escape_tag(value)}" if value else key for key, value in tags.items()
            )
        )
    if source:
        parts.append(":" + source)
    parts.append(verb)
    cleaned = [param.translate(_FORBIDDEN) for param in params]
    for index, param in enumerate(cleaned):
        last = index == len(cleaned) - 1
        if last and (text or not param or " " in param or param.startswith(":")):
            parts.append(":" + param)
        else:
            parts.append(param.replace(" ", "") or "*")
    return " ".join(parts).encode("utf-8") + b"\r\n"
