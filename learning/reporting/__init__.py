"""Reporting: statistics queries, the dashboard, exports, the public impact page."""
