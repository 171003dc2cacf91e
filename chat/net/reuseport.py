"""
Several servers on one machine listening on one port: C{reuseport:PORT}.

With C{SO_REUSEPORT} (Linux 3.9 and later), every process that opens its
listening socket with the option may bind the same address and port, and
the kernel spreads new connections among them. Nodes of a cluster on one
machine (docs/cluster.md) then share one address for their users, with no
proxy in between to spend the cores they are there to use, and each sees
its clients' own addresses (per-address limits and bans hold).

Twisted's endpoints cannot set the option (twisted/twisted#9101): the
socket is made here, and handed to the reactor with C{adoptStreamPort}.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from zope.interface import implementer

PREFIX = "reuseport:"


@implementer(IStreamServerEndpoint)
class ReusePortEndpoint:
    """
    A TCP port that other processes of the same user may listen on too.
    """

    def __init__(self, reactor: Any, port: int, interface: str = "", backlog: int = 50) -> None:
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.backlog = backlog

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        family = socket.AF_INET6 if ":" in self.interface else socket.AF_INET
        try:
            made = socket.socket(family, socket.SOCK_STREAM)
        except OSError as e:
            return fail(CannotListenError(self.interface, self.port, e))
        try:
            made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            made.bind((self.interface, self.port))
            made.listen(self.backlog)
            made.setblocking(False)
            # The reactor listens on a duplicate of the descriptor.
            listening: IListeningPort = self.reactor.adoptStreamPort(made.fileno(), family, factory)
        except OSError as e:
            return fail(CannotListenError(self.interface, self.port, e))
        finally:
            made.close()
        return succeed(listening)


def parse(reactor: Any, description: str) -> ReusePortEndpoint:
    """
    The endpoint C{reuseport:PORT[:interface=ADDRESS][:backlog=N]} describes
    (C{\\:} for a colon in an IPv6 address, as in Twisted's own); L{ValueError}
    saying what is wrong, for anything else.
    """
    if not description.startswith(PREFIX):
        raise ValueError(f"not a {PREFIX} endpoint")
    fields = _split(description[len(PREFIX) :])
    if not fields or not fields[0].isdigit() or not 0 <= int(fields[0]) < 65536:
        raise ValueError("reuseport: needs a port number (reuseport:8888)")
    options: dict[str, str] = {}
    for field in fields[1:]:
        name, equals, value = field.partition("=")
        if not equals or name not in ("interface", "backlog"):
            raise ValueError(f"unknown reuseport: option {field!r} (interface=, backlog=)")
        options[name] = value
    backlog = options.get("backlog", "50")
    if not backlog.isdigit() or int(backlog) < 1:
        raise ValueError(f"reuseport: backlog must be a positive number, not {backlog!r}")
    return ReusePortEndpoint(reactor, int(fields[0]), options.get("interface", ""), int(backlog))


def _split(text: str) -> list[str]:
    """
    C{text} split at its colons, but not at those escaped with a backslash.
    """
    fields, current, escaped = [], [], False
    for character in text:
        if escaped:
            current.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(character)
    fields.append("".join(current))
    return fields
