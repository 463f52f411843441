"""The web interface for people: server-rendered pages (Jinja2) over the same indexes, permission
checks and caches the package clients use, with every asset served by Stilton itself."""
