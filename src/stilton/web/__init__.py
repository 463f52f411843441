"""The ASGI app: thin route handlers that parse a request, call an index and render."""
