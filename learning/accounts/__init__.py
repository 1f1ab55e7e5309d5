"""Accounts: users, roles, organisations, sign-in, tokens, privacy."""
