"""
The two baseline servers the benchmark measures chat against.

    python bench/baselines.py floor PORT
    python bench/baselines.py threaded PORT

Both speak just enough of chat's protocol for the load generator: the first
line is a nickname, answered with ``*** You are in lobby.``; every later line
goes to everyone else as ``<nick> line``.

- ``floor``: the smallest Twisted ``LineReceiver`` broadcast server there can
  be (no validation, no history, no limits): what Twisted on CPython costs.
- ``threaded``: a thread per client, ``socket`` and ``threading`` with a lock
  around the clients, as chat servers are usually first written: one client
  that stops reading blocks the writer holding the lock, and so the room.

Neither sets ``TCP_NODELAY``, as the servers they stand for do not.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading


def floor(port: int) -> None:
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory
    from twisted.protocols.basic import LineReceiver

    clients: set[LineReceiver] = set()

    class Floor(LineReceiver):
        delimiter = b"\n"
        nick = b""

        def lineReceived(self, line: bytes) -> None:
            line = line.rstrip(b"\r")
            if not self.nick:
                self.nick = line
                clients.add(self)
                self.sendLine(b"*** You are in lobby.\r")
                return
            out = b"<" + self.nick + b"> " + line + b"\r\n"
            for client in clients:
                if client is not self:
                    client.transport.write(out)

        def connectionLost(self, reason: object = None) -> None:
            clients.discard(self)

    factory = Factory.forProtocol(Floor)
    reactor.listenTCP(port, factory, interface="127.0.0.1", backlog=4096)  # type: ignore[attr-defined]
    print(f"floor listening on {port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


def threaded(port: int) -> None:
    clients: dict[socket.socket, bytes] = {}
    lock = threading.Lock()

    def serve(connection: socket.socket) -> None:
        nick = b""
        buffer = b""
        try:
            while True:
                data = connection.recv(65536)
                if not data:
                    break
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    line = line.rstrip(b"\r")
                    if not nick:
                        nick = line
                        with lock:
                            clients[connection] = nick
                        connection.sendall(b"*** You are in lobby.\r\n")
                        continue
                    out = b"<" + nick + b"> " + line + b"\r\n"
                    with lock:
                        for other in clients:
                            if other is not connection:
                                with contextlib.suppress(OSError):
                                    other.sendall(out)
        except OSError:
            pass
        finally:
            with lock:
                clients.pop(connection, None)
            connection.close()

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)
    print(f"threaded listening on {port}", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


if __name__ == "__main__":
    {"floor": floor, "threaded": threaded}[sys.argv[1]](int(sys.argv[2]))
