"""The audit log of admin and trainer actions."""
