"""
The web door: a WebSocket carrying IRC, and the page that speaks it.
"""
