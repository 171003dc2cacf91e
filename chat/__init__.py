"""
A small, self-hosted, multi-user chat server built on Twisted.

The package is layered so that doors stay thin: L{chat.core} is the chat
itself (the chat behind one interface, the session, replies, rights, limits),
door-neutral and importing nothing else of ours; L{chat.store} keeps history,
accounts and bans behind the core's interfaces; L{chat.net} is what every
door shares (the transport-neutral connection, and the byte stream that
carries it); L{chat.line} and L{chat.irc} are the two dialects; L{chat.tap}
is what C{twistd chat} runs. docs/architecture.md draws one message's path
through them.
"""

__version__ = "0.1.0"
