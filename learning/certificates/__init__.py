"""Certificates: issuing, PDF, public verification, signed credentials, revocation, expiry."""
