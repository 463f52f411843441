"""Authentication: API tokens (and, later, users and permissions)."""
