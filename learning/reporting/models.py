"""Reporting reads the other features' tables; it owns no tables yet."""
