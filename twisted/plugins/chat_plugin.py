# A twistd dropin: `twistd chat` runs chat.tap. Keep it tiny; it is imported by
# every plugin scan. There must be no __init__.py beside it.
from twisted.application.service import ServiceMaker

chat = ServiceMaker("chat", "chat.tap", "A multi-user chat server: netcat, IRC and more.", "chat")
