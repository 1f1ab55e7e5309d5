"""Enrolments, progress and the completion rules."""
