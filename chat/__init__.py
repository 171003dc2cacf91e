"""
A small, self-hosted, multi-user chat server built on Twisted.

The package is layered so that front-ends stay thin: L{chat.core} is the chat
itself (domain, session, commands, replies), front-end neutral and importing
nothing else of ours; L{chat.store} keeps history, accounts and bans behind
the core's interfaces; L{chat.net} is what byte-stream front-ends share;
L{chat.line} is the line front-end; L{chat.tap} is what C{twistd chat} runs.
"""

__version__ = "0.1.0"
