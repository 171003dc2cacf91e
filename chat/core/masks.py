"""
A room's ban masks (C{+b}): who may not join it, kept so that setting one
and joining the room cost the same however long the list is.

A mask is C{NICK!USER@HOST} with C{*} and C{?}, compared without regard to
case. Its host part is matched against the address the user connects from,
which chat never shows (every user's host is shown as C{chat}, which is no
address and matches nobody). C{~a:ACCOUNT} (with wildcards too) matches
whoever is logged in to an account, under any nickname.

Each mask is compiled once, when it is set: a part that is only C{*}
matches anything, a part without wildcards is compared as it is, the others
are compiled patterns. A mask with at least one literal part is filed under
it (its nickname, user name, address or account), so that a JOIN looks only
at the masks filed under the joining user's own names, plus those that are
wildcards throughout; a list of masks naming other people costs a JOIN
nothing, however long it is. Masks are kept by their text without regard to
case, so that a new one is compared with the others in one look-up.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterator

from chat.core.events import RoomBan
from chat.core.text import word

ACCOUNT = "~a:"
"""
What starts a mask for an account rather than a nickname, user name and address.
"""

_Part = str | re.Pattern[str] | None
"""
One part of a mask: L{None} for C{*} (anything), a string to be equal to,
or a compiled pattern.
"""

_NICK, _USER, _HOST, _ACCOUNT = range(4)


def ban_mask(text: str) -> str:
    """
    A ban mask in full: C{NICK!USER@HOST} (a bare nickname pattern is
    C{NICK!*@*}, C{NICK!USER} is C{NICK!USER@*}, C{USER@HOST} is
    C{*!USER@HOST}), or C{~a:ACCOUNT} as it is.
    """
    text = word(text)
    if text[: len(ACCOUNT)].lower() == ACCOUNT or not text:
        return text
    if "!" not in text and "@" not in text:
        return f"{text}!*@*"
    if "@" not in text:
        return f"{text}@*"
    if "!" not in text:
        return f"*!{text}"
    return text


def address(host: str | None) -> str:
    """
    C{host} as masks match it: lowered, an IPv4-mapped IPv6 address as the
    IPv4 address it is, none as empty.
    """
    if host is None:
        return ""
    if ":" in host:
        try:
            mapped = ipaddress.IPv6Address(host.split("%", 1)[0]).ipv4_mapped
        except ValueError:
            mapped = None
        if mapped is not None:
            return str(mapped)
    # The address itself when lowering changes nothing (an IPv4 address
    # never has a letter): kept for as long as the user is here, not copied.
    lowered = host.lower()
    return host if lowered == host else lowered


def _compile(text: str) -> _Part:
    """
    One part of a mask, lowered: an empty part or C{*} is anything.
    """
    text = text.lower()
    if text in ("", "*"):
        return None
    if "*" not in text and "?" not in text:
        return text
    # fnmatch's patterns do not backtrack (each star's match is atomic);
    # IRC masks have no character classes, so a "[" is itself.
    return re.compile(fnmatch.translate(text.replace("[", "[[]")))


def _fits(part: _Part, value: str) -> bool:
    if part is None:
        return True
    if isinstance(part, str):
        return part == value
    return part.match(value) is not None


class Mask:
    """
    One mask as set, and its parts compiled.
    """

    __slots__ = ("ban", "parts")

    def __init__(self, ban: RoomBan) -> None:
        self.ban = ban
        text = ban.mask
        if text[: len(ACCOUNT)].lower() == ACCOUNT:
            self.parts: tuple[_Part, ...] = (None, None, None, _compile(text[len(ACCOUNT) :]))
        else:
            who, _, host = text.partition("@")
            nick, _, user = who.partition("!")
            self.parts = (_compile(nick), _compile(user), _compile(host))

    def anchor(self) -> tuple[int, str] | None:
        """
        The first part of this mask that has no wildcard, to file it under.
        """
        for index in (_ACCOUNT, _NICK, _HOST, _USER):
            if index < len(self.parts):
                part = self.parts[index]
                if isinstance(part, str):
                    return index, part
        return None

    def matches(self, names: tuple[str, str, str, str | None]) -> bool:
        """
        Whether this mask matches a user of C{names} (nickname, user name,
        address, account, all lowered).
        """
        nickname, username, host, account = names
        if len(self.parts) > _ACCOUNT:
            return account is not None and _fits(self.parts[_ACCOUNT], account)
        return (
            _fits(self.parts[_NICK], nickname)
            and _fits(self.parts[_USER], username)
            and _fits(self.parts[_HOST], host)
        )


class Masks:
    """
    The ban masks of one room, in the order they were set.
    """

    __slots__ = ("_all", "_filed", "_wild")

    def __init__(self) -> None:
        # Every mask by its lowered text; those with a literal part by that
        # part; those with none.
        self._all: dict[str, Mask] = {}
        self._filed: dict[tuple[int, str], list[Mask]] = {}
        self._wild: list[Mask] = []

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[RoomBan]:
        return (mask.ban for mask in self._all.values())

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and text.lower() in self._all

    def add(self, ban: RoomBan) -> None:
        """
        Add C{ban}, whose mask is not on the list yet (see C{in}).
        """
        mask = Mask(ban)
        self._all[ban.mask.lower()] = mask
        anchor = mask.anchor()
        if anchor is None:
            self._wild.append(mask)
        else:
            self._filed.setdefault(anchor, []).append(mask)

    def remove(self, text: str) -> RoomBan | None:
        """
        Take the mask C{text} (in any case) off the list: the ban it was, if it was on it.
        """
        mask = self._all.pop(text.lower(), None)
        if mask is None:
            return None
        anchor = mask.anchor()
        if anchor is None:
            self._wild.remove(mask)
        else:
            filed = self._filed[anchor]
            filed.remove(mask)
            if not filed:
                del self._filed[anchor]
        return mask.ban

    def match(self, nickname: str, user: str, host: str, account: str | None) -> bool:
        """
        Whether a mask on the list matches a user with these names (each
        compared without regard to case; C{host} is its address, or empty).
        """
        names = (nickname.lower(), user.lower(), host.lower(), account and account.lower())
        filed = self._filed
        for index, name in enumerate(names):
            if name is not None:
                for mask in filed.get((index, name), ()):
                    if mask.matches(names):
                        return True
        return any(mask.matches(names) for mask in self._wild)
