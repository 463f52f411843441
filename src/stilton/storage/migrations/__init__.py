"""Alembic migrations of Stilton's schema."""
