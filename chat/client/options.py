"""
The client's command line.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
from collections.abc import Sequence

from chat import __version__

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 8888

# HOST:PORT, with [brackets] around an IPv6 address. Nicknames cannot contain ':'.
_ADDRESS = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]]*)):(?P<port>\d+)$")


def _looks_like_host(word: str) -> bool:
    """
    Whether C{word} names a server rather than a user: nicknames have no
    dots and no colons, and nobody is called localhost.
    """
    try:
        ipaddress.ip_address(word)
    except ValueError:
        return "." in word or word == "localhost"
    return True


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
        "chat-client 127.0.0.1 8888 alice; "
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
        "--no-time",
        dest="timestamps",
        action="store_false",
        help="in a terminal, no time in front of each line",
    )
    parser.add_argument(
        "--no-bell",
        dest="bell",
        action="store_false",
        help="in a terminal, no bell when a line names you or a private message comes",
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
    parser.add_argument("--version", action="version", version=f"chat-client {__version__}")
    parser.add_argument(
        "words",
        nargs="*",
        metavar="[HOST:PORT | HOST [PORT]] [NICK]",
        help="the server to use (a HOST is a name with a dot, an IP address or localhost; a "
        "single plain word is a nickname), and a nickname to log in with at once",
    )
    arguments = parser.parse_intermixed_args(argv)
    words = list(arguments.words)
    host: str | None = None
    port: int | None = None
    address = _ADDRESS.match(words[0]) if words else None
    if address is not None:
        words.pop(0)
        host = address.group("v6") or address.group("host") or DEFAULT_HOST
        port = int(address.group("port"))
    elif words and _looks_like_host(words[0]):
        # The netcat habit: HOST [PORT] [NICK].
        host = words.pop(0)
        if words and words[0].isdigit():
            port = int(words.pop(0))
    nickname = None
    for word in words:
        if nickname is None and ":" not in word and not word.isdigit():
            nickname = word
        else:
            parser.error(
                f"unexpected argument {word!r}: give the server (HOST:PORT, or HOST and PORT), "
                "then a nickname"
            )
    if host is not None:
        if arguments.host is not None or arguments.port is not None:
            parser.error("give the server in the arguments or with --host/--port, not both")
        arguments.host = host
        arguments.port = port
    arguments.host = arguments.host or DEFAULT_HOST
    arguments.port = DEFAULT_PORT if arguments.port is None else arguments.port
    if not 0 < arguments.port < 65536:
        parser.error(f"port {arguments.port} is not between 1 and 65535")
    arguments.nickname = nickname
    del arguments.words
    return arguments
