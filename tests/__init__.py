"""
Tests for the chat server: domain, wire format, protocol, service, plugin, client.
"""
