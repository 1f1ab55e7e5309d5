"""Reminders: rules, scheduling, the sent-log, unsubscribe."""
