"""
One person on any door: L{Session}, cut by concern into the modules of this package.
"""

from chat.core.session.session import Session

__all__ = ["Session"]
