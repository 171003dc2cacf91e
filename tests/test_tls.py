"""
TLS through an ssl: endpoint string, next to a plain listener.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    TCP4ClientEndpoint,
    connectProtocol,
    serverFromString,
    wrapClientTLS,
)
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.trial.unittest import TestCase

from chat.core.service import ChatService, Settings
from chat.line.protocol import LineFactory
from chat.net.backpressure import DirectOutflow, SendQueue
from tests.helpers import connections, new_service
from tests.live import TIMEOUT, ProcessRunner, RawClient, connect_raw

reactor: Any = _reactor


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """
    A throw-away self-signed certificate for localhost and 127.0.0.1, and its key.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class TLSTests(TestCase):
    async def serve(
        self, settings: Settings | None = None
    ) -> tuple[ChatService, Any, Any, Path, Path]:
        """
        A chat on a TLS port and a plain one, with the server's certificate
        and a stranger's (of another CA).
        """
        folder = Path(self.mktemp()).resolve()
        folder.mkdir()
        key, cert = certificate(folder, "server")
        _, stranger = certificate(folder, "stranger")
        service = new_service(reactor, settings or Settings())
        service.startService()
        self.addCleanup(service.stopService)
        factory = LineFactory(service)
        tls_port = await serverFromString(
            reactor, f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"
        ).listen(factory)
        self.addCleanup(tls_port.stopListening)
        plain_port = await serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(factory)
        self.addCleanup(plain_port.stopListening)
        return service, tls_port, plain_port, cert, stranger

    async def test_tls_next_to_plain(self) -> None:
        """
        A client that verifies the server's certificate chats over TLS with a
        plain-TCP client; one that trusts another CA refuses the connection.
        """
        service, tls_port, plain_port, cert, stranger = await self.serve()

        def tls_client(trusted: Path) -> Deferred[RawClient]:
            options = optionsForClientTLS(
                "localhost", trustRoot=Certificate.loadPEM(trusted.read_bytes())
            )
            endpoint = wrapClientTLS(
                options, TCP4ClientEndpoint(reactor, "127.0.0.1", tls_port.getHost().port)
            )
            connected: Deferred[RawClient] = connectProtocol(endpoint, RawClient())
            return connected

        secure = await tls_client(cert)
        await secure.wait_line("*** Welcome to chat.")
        secure.send("alice")
        plain = await connect_raw(plain_port.getHost().port)
        plain.send("bob")
        await secure.wait_line("*** bob has joined")
        secure.send("over TLS")
        await plain.wait_line("<alice> over TLS")
        plain.send("over TCP")
        await secure.wait_line("<bob> over TCP")
        # Only the plain connection is written to the socket directly; TLS bytes go through TLS.
        outflows = {
            c.session.user.nickname: type(c._outflow)
            for c in connections(service)
            if c.session.user
        }
        self.assertEqual(outflows, {"alice": SendQueue, "bob": DirectOutflow})

        # The bundled client, verifying the certificate with --ca, chats too ...
        port = str(tls_port.getHost().port)
        bundled = ProcessRunner(b"carol\nhello from the bundled client\n")
        argv = [sys.executable, "-m", "chat.client", "--host", "localhost", "--port", port]
        reactor.spawnProcess(
            bundled, sys.executable, [*argv, "--tls", "--ca", str(cert)], env=os.environ.copy()
        )
        await plain.wait_line("<carol> hello from the bundled client")
        _, err, code = await bundled.finished.addTimeout(TIMEOUT, reactor)
        self.assertEqual((code, err), (0, b""))
        # ... and refuses a server whose certificate it cannot verify.
        doubtful = ProcessRunner(None)
        reactor.spawnProcess(
            doubtful, sys.executable, [*argv, "--ca", str(stranger), "dave"], env=os.environ.copy()
        )
        _, err, code = await doubtful.finished.addTimeout(TIMEOUT, reactor)
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            b"chat-client: the server's TLS certificate could not be verified; not connecting.\n",
        )
        self.assertNotIn("dave", service.chat.online())

        suspicious = await tls_client(stranger)
        await suspicious.closed.addTimeout(TIMEOUT, reactor)
        self.assertEqual(suspicious.lines, [])
        self.assertEqual(service.chat.online(), ["alice", "bob"])
        # Quitting over TLS closes at once (not after the 10 s grace period).
        secure.send("/quit")
        plain.send("/quit")
        await secure.closed.addTimeout(5, reactor)
        await plain.closed.addTimeout(5, reactor)
        self.assertEqual(secure.lines[-1], "*** Goodbye.")

    async def test_bundled_client_tls_mistakes(self) -> None:
        """
        In a pipe (its input ended, so it is quitting), each TLS mistake is
        one line and status 1: a certificate it cannot verify, a plain
        client on the TLS port, --tls against a plain port.
        """
        service, tls_port, plain_port, cert, stranger = await self.serve()

        async def run(port: int, *options: str) -> tuple[int, bytes]:
            client = ProcessRunner(b"dave\nhello\n")
            argv = [sys.executable, "-m", "chat.client", "--host", "localhost", "--port", str(port)]
            reactor.spawnProcess(client, sys.executable, [*argv, *options], env=os.environ.copy())
            _, err, code = await client.finished.addTimeout(TIMEOUT, reactor)
            return code, err

        tls, plain = tls_port.getHost().port, plain_port.getHost().port
        self.assertEqual(
            await run(tls, "--ca", str(stranger)),
            (
                1,
                b"chat-client: the server's TLS certificate could not be verified; "
                b"not connecting.\n",
            ),
        )
        self.assertEqual(
            await run(tls),
            (
                1,
                f"chat-client: localhost:{tls} closed the connection without a word "
                "(a TLS port? then use --tls).\n".encode(),
            ),
        )
        self.assertEqual(
            await run(plain, "--tls", "--ca", str(cert)),
            (
                1,
                f"chat-client: localhost:{plain} does not speak TLS (without --tls the client "
                "connects in plain text).\n".encode(),
            ),
        )
        self.assertEqual(service.chat.online(), [])

    async def test_refused_before_the_handshake(self) -> None:
        """
        A TLS connection the server turns away (here: the server is full) is
        dropped at once, before any handshake is spent on it; a plain one
        is told why.
        """
        _, tls_port, plain_port, cert, _ = await self.serve(Settings(max_clients=1))
        first = await connect_raw(plain_port.getHost().port)
        await first.wait_line("*** Welcome to chat.")
        options = optionsForClientTLS("localhost", trustRoot=Certificate.loadPEM(cert.read_bytes()))
        endpoint = wrapClientTLS(
            options, TCP4ClientEndpoint(reactor, "127.0.0.1", tls_port.getHost().port)
        )
        turned_away: RawClient = await connectProtocol(endpoint, RawClient())
        await turned_away.closed.addTimeout(TIMEOUT, reactor)
        self.assertEqual(turned_away.lines, [])
        plain = await connect_raw(plain_port.getHost().port)
        await plain.closed.addTimeout(TIMEOUT, reactor)
        self.assertEqual(
            plain.lines, ["!!! The server is full (1 connection); try again later. Goodbye."]
        )
        first.transport.loseConnection()  # type: ignore[union-attr]
