"""
The client's command line.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8888

# HOST:PORT, with [brackets] around an IPv6 address. Nicknames cannot contain ':'.
_ADDRESS = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d+)$")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """
    The options, with C{host} and C{port} settled from C{--host}/C{--port}
    or a C{HOST:PORT} argument; an error exits with a usage message (status 2).
    """
    parser = argparse.ArgumentParser(
        prog="chat-client",
        description="Chat from a terminal (a chat view over an input line) or a pipe "
        "(standard input to the server, the server to standard output).",
        epilog="Examples: chat-client alice; chat-client chat.example.org:8888 alice; "
        "printf 'bot\\nhello\\n' | chat-client",
    )
    parser.add_argument("--host", help=f"server host (default: {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"server port (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, verifying the server's certificate against the system's CAs",
    )
    parser.add_argument("--ca", help="with --tls: trust this CA certificate (PEM) instead")
    parser.add_argument(
        "--no-color",
        dest="colour",
        action="store_false",
        help="no colours (also when NO_COLOR is set, or output is not a terminal)",
    )
    parser.add_argument(
        "--no-reconnect",
        dest="reconnect",
        action="store_false",
        help="in a terminal, end when the server goes away instead of reconnecting",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the details (tracebacks) of client errors"
    )
    parser.add_argument(
        "words",
        nargs="*",
        metavar="[HOST:PORT] [NICK]",
        help="the server to use, and a nickname to log in with at once",
    )
    arguments = parser.parse_intermixed_args(argv)
    nickname = None
    address = None
    for word in arguments.words:
        if _ADDRESS.match(word) and address is None and nickname is None:
            address = _ADDRESS.match(word)
        elif nickname is None and ":" not in word:
            nickname = word
        else:
            parser.error(f"unexpected argument {word!r}: give at most HOST:PORT and then NICK")
    if address is not None:
        if arguments.host is not None or arguments.port is not None:
            parser.error("give the server as HOST:PORT or with --host/--port, not both")
        arguments.host = address.group("v6") or address.group("host") or DEFAULT_HOST
        arguments.port = int(address.group("port"))
    arguments.host = arguments.host or DEFAULT_HOST
    arguments.port = DEFAULT_PORT if arguments.port is None else arguments.port
    if not 0 < arguments.port < 65536:
        parser.error(f"port {arguments.port} is not between 1 and 65535")
    arguments.nickname = nickname
    del arguments.words
    return arguments
