"""Reliable events between the database and the queue (DESIGN.md rule 1)."""
