"""Cohorts: trainers, rosters, CSV import, sessions, attendance, sign-off."""
