"""Storage adapters: the database (SQLAlchemy Core) and the blob store (obstore)."""
