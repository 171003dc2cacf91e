"""
A small, self-hosted, multi-user chat server built on Twisted.

The package is layered so that each module has one job: L{chat.domain} holds
users and routes messages without ever seeing bytes, L{chat.wire} turns domain
events into protocol lines, L{chat.protocol} is the line front-end,
L{chat.service} owns the connections for a clean shutdown, and L{chat.tap} is
what C{twistd chat} runs.
"""

__version__ = "0.1.0"
