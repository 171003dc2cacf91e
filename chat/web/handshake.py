"""
The WebSocket opening handshake (RFC 6455, section 4.2), and who is asking.

What a request must carry to become a WebSocket, which IRC subprotocol it
gets, whether its page may open one here (the C{Origin} check), and, behind
a reverse proxy the operator trusts, which address it really comes from.
Nothing here writes: L{chat.web.door} answers with what this decides.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""
What RFC 6455 has every server add to the client's key.
"""

BINARY_IRC = "binary.ircv3.net"
TEXT_IRC = "text.ircv3.net"
SUBPROTOCOLS = (BINARY_IRC, TEXT_IRC)
"""
The IRCv3 WebSocket subprotocols: IRC lines in binary or in text messages.
"""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """
    The request cannot become a WebSocket: answered with L{status} and L{why}.
    """

    def __init__(self, status: int, why: str) -> None:
        super().__init__(status, why)
        self.status = status
        self.why = why


@dataclass(frozen=True)
class Accepted:
    """
    A request that becomes a WebSocket.

    @ivar response: the 101 response, headers and all.
    @ivar subprotocol: the IRCv3 subprotocol chosen (L{TEXT_IRC} when the
        client asked for none).
    """

    response: bytes
    subprotocol: str


def accept_key(key: str) -> str:
    """
    The C{Sec-WebSocket-Accept} value for the client's C{Sec-WebSocket-Key}.
    """
    digest = hashlib.sha1(key.encode("ascii") + GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(value: str | None) -> list[str]:
    return [token.strip().lower() for token in (value or "").split(",") if token.strip()]


def accept(header: Callable[[str], str | None], origins: Sequence[str] = ()) -> Accepted:
    """
    Whether the request whose headers C{header} gives may open a WebSocket here.

    @param origins: the pages, besides this server's own, that may open one
        (C{https://example.org}; C{*} for any).
    @raise Refused: with what is wrong, for the HTTP answer.
    """
    if "websocket" not in _tokens(header("upgrade")):
        raise Refused(426, "This address is a WebSocket endpoint (Upgrade: websocket)")
    if "upgrade" not in _tokens(header("connection")):
        raise Refused(400, "A WebSocket handshake says Connection: Upgrade")
    if header("sec-websocket-version") != "13":
        raise Refused(426, "Only WebSocket version 13 is spoken here")
    key = (header("sec-websocket-key") or "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError(key)
    except ValueError:
        raise Refused(400, "Sec-WebSocket-Key is not 16 bytes in base64") from None
    origin = header("origin")
    if origin is not None and not _allowed(origin, header("host"), origins):
        raise Refused(403, f"Pages from {origin} may not connect here (see --web-origin)")
    offered = _tokens(header("sec-websocket-protocol"))
    if offered:
        chosen = next((name for name in offered if name in SUBPROTOCOLS), None)
        if chosen is None:
            raise Refused(400, f"Ask for one of the subprotocols {', '.join(SUBPROTOCOLS)}")
    else:
        chosen = None
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(key)}",
    ]
    if chosen is not None:
        lines.append(f"Sec-WebSocket-Protocol: {chosen}")
    response = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return Accepted(response, chosen or TEXT_IRC)


def _allowed(origin: str, host: str | None, origins: Sequence[str]) -> bool:
    """
    Whether a page from C{origin} may open a WebSocket to C{host}: its own
    server's pages may, and those the operator lists.

    A browser sends C{Origin} with every WebSocket it opens, whatever page
    opens it; without this check, any site a user visits could open one to
    this server from the user's own address, past bans and behind firewalls.
    Programs that are not browsers send none, and are let in.
    """
    if "*" in origins or origin.rstrip("/").lower() in (o.rstrip("/").lower() for o in origins):
        return True
    if host is None:
        return False
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.strip().lower()


def networks(descriptions: Sequence[str]) -> tuple[Network, ...]:
    """
    The operator's trusted proxies, from addresses or networks
    (C{127.0.0.1}, C{10.0.0.0/8}, C{::1}).

    @raise ValueError: for one that is neither.
    """
    return tuple(ipaddress.ip_network(d.strip(), strict=False) for d in descriptions)


def trusted(address: str, proxies: Sequence[Network]) -> bool:
    """
    Whether C{address} is one of the operator's trusted proxies.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(
    peer: str | None, header: Callable[[str], str | None], proxies: Sequence[Network]
) -> str | None:
    """
    The address a request really comes from: C{peer}, unless C{peer} is a
    proxy the operator trusts, which says whom it forwards for
    (C{X-Forwarded-For}).

    The list is read from the right: each entry was added by the hop
    before, so the first address that is not a trusted proxy is the
    client. A header from a peer that is not trusted is ignored: anyone
    can write one, to escape a ban or take another's connection limit.
    """
    if peer is None or not trusted(peer, proxies):
        return peer
    # X-Forwarded-For only: what nginx and Caddy write. A Forwarded header
    # they pass on untouched would be the client's own words.
    hops = [_bare(hop.strip()) for hop in (header("x-forwarded-for") or "").split(",")]
    address = peer
    for hop in reversed([hop for hop in hops if hop]):
        address = hop
        if not trusted(hop, proxies):
            break
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        # "unknown", an obfuscated name (RFC 7239 6.3): the proxy's own
        # address stands, rather than a string nobody can limit or ban.
        return peer


def _bare(hop: str) -> str:
    """
    An address of C{X-Forwarded-For}, without brackets or a port, should a proxy add them.
    """
    if hop.startswith("["):
        return hop[1:].split("]", 1)[0]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop
