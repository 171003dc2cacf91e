"""
The opening handshake: what becomes a WebSocket, with which subprotocol,
from which pages, and from which address behind a trusted proxy.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chat.web.handshake import (
    Refused,
    accept,
    accept_key,
    client_address,
    networks,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def headers(**given: str):  # type: ignore[no-untyped-def]
    values = {
        "upgrade": "websocket",
        "connection": "keep-alive, Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": KEY,
        "host": "chat.example:8080",
    }
    values.update({k.replace("_", "-"): v for k, v in given.items()})
    return lambda name: values.get(name) or None


class AcceptTests(SynchronousTestCase):
    def test_rfc_example(self) -> None:
        """
        RFC 6455's own example key and answer.
        """
        self.assertEqual(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_subprotocols(self) -> None:
        """
        The first IRCv3 subprotocol the client offers is chosen; none
        offered is text; only others offered is refused.
        """
        for offered, chosen in (
            ("binary.ircv3.net, text.ircv3.net", "binary.ircv3.net"),
            ("text.ircv3.net,binary.ircv3.net", "text.ircv3.net"),
            ("chat, text.ircv3.net", "text.ircv3.net"),
        ):
            accepted = accept(headers(sec_websocket_protocol=offered))
            self.assertEqual(accepted.subprotocol, chosen)
            self.assertIn(f"Sec-WebSocket-Protocol: {chosen}\r\n".encode(), accepted.response)
        bare = accept(headers())
        self.assertEqual(bare.subprotocol, "text.ircv3.net")
        self.assertNotIn(b"Sec-WebSocket-Protocol", bare.response)
        self.assertIn(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", bare.response)
        with self.assertRaises(Refused) as caught:
            accept(headers(sec_websocket_protocol="mqtt"))
        self.assertEqual(caught.exception.status, 400)

    def test_bad_requests(self) -> None:
        for given, status in (
            ({"upgrade": "h2c"}, 426),
            ({"connection": "keep-alive"}, 400),
            ({"sec_websocket_version": "8"}, 426),
            ({"sec_websocket_key": "short"}, 400),
            ({"sec_websocket_key": ""}, 400),
        ):
            with self.assertRaises(Refused, msg=str(given)) as caught:
                accept(headers(**given))
            self.assertEqual(caught.exception.status, status, given)

    def test_origin(self) -> None:
        """
        A page of the server's own may connect, and one the operator lists;
        any other page is refused; a program that sends no Origin may.
        """
        accept(headers(origin="http://chat.example:8080"))
        accept(headers(origin="https://CHAT.example:8080"))
        accept(headers())
        accept(headers(origin="https://friends.example"), origins=["https://friends.example/"])
        accept(headers(origin="https://anyone.example"), origins=["*"])
        for origin in ("https://evil.example", "http://chat.example:9999", "null", "http://"):
            with self.assertRaises(Refused, msg=origin) as caught:
                accept(headers(origin=origin), origins=["https://friends.example"])
            self.assertEqual(caught.exception.status, 403)


class ForwardedTests(SynchronousTestCase):
    proxies = networks(["127.0.0.1", "10.0.0.0/8"])

    def test_only_trusted_proxies_are_believed(self) -> None:
        forged = headers(x_forwarded_for="203.0.113.9")
        self.assertEqual(client_address("198.51.100.7", forged, self.proxies), "198.51.100.7")
        self.assertEqual(client_address("127.0.0.1", forged, self.proxies), "203.0.113.9")
        self.assertEqual(client_address("127.0.0.1", headers(), self.proxies), "127.0.0.1")

    def test_read_from_the_right(self) -> None:
        """
        What the client wrote itself (the left) is not believed past the
        first address that is not a trusted proxy.
        """
        chain = headers(x_forwarded_for="1.2.3.4, 203.0.113.9, 10.1.1.1")
        self.assertEqual(client_address("127.0.0.1", chain, self.proxies), "203.0.113.9")

    def test_forwarded_is_not_believed(self) -> None:
        """
        A Forwarded header is the client's own (proxies pass it on): only
        X-Forwarded-For counts.
        """
        given = headers(forwarded="for=6.6.6.6", x_forwarded_for="203.0.113.7")
        self.assertEqual(client_address("10.0.0.2", given, self.proxies), "203.0.113.7")

    def test_bad_proxy_option(self) -> None:
        self.assertRaises(ValueError, networks, ["not-an-address"])
