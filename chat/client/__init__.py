"""
The bundled client: C{chat-client} (or C{python -m chat.client}).

In a terminal it shows a chat view over an input line (L{chat.client.screen});
in a pipe it passes lines through unchanged (L{chat.client.pipe}). Both
drive the same L{chat.client.session.Session}.
"""
