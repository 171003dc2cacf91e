"""
The page the web door serves: a few static files from the package, read
once when the door is made, so that it works offline on a LAN (no CDN, no
build step) and serving them never touches the disk.

Every answer forbids what the page never needs: scripts from anywhere but
this server, being framed by another site, guessing content types. The
page itself never puts user text into HTML (docs/web.md).
"""

from __future__ import annotations

from importlib import resources

from twisted.web.server import Request

FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/chat.js": ("chat.js", "text/javascript; charset=utf-8"),
    "/chat.css": ("chat.css", "text/css; charset=utf-8"),
    "/icon.svg": ("icon.svg", "image/svg+xml"),
}
"""
What is served, by path: the file in C{chat/web/static} and its type.
"""

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""
The page's Content-Security-Policy: even if user text reached the page as
HTML, no script in it would run (no inline scripts, no other origin).
"""


class Page:
    """
    The static files of the page, in memory.
    """

    def __init__(self) -> None:
        folder = resources.files("chat.web") / "static"
        self.files = {
            path: ((folder / name).read_bytes(), kind) for path, (name, kind) in FILES.items()
        }

    def render(self, request: Request) -> bytes:
        """
        The file C{request} asks for, or a 404.
        """
        path = (request.path or b"/").decode("ascii", "replace")
        found = self.files.get(path)
        request.setHeader("x-content-type-options", "nosniff")
        request.setHeader("referrer-policy", "no-referrer")
        if found is None:
            request.setResponseCode(404)
            request.setHeader("content-type", "text/plain; charset=utf-8")
            return b"Not found: the page is at /\n"
        body, kind = found
        request.setHeader("content-type", kind)
        request.setHeader("content-security-policy", POLICY)
        request.setHeader("cache-control", "no-cache")
        return body
