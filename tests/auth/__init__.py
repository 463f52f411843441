"""Authentication, tokens, permissions, the brute-force guard and the audit log."""
