"""The statement that locks a learner's own enrolment, with what a lesson's completion needs of its course.

A leaf module (SQLAlchemy and ``learning.models_base`` only) shared by ``learning.enrolment.hot``, which
runs it alone, and ``learning.accounts.tokens``, which joins it to the token's own statement on the
learner's hot routes (``caller_for_token(..., lock_enrolment=...)``): neither imports the other.

Result columns are given in order (``column(...)``, not keywords): SQLAlchemy then matches them by position
and keeps the result's metadata with the compiled statement, where keyword columns are matched by name on
every execution (``_merge_cursor_description``: ~8 % of a request's CPU under cProfile).

The caller's own enrolment only (someone else's reads nothing and locks nothing: 404), locked; its
course's content version and LTI flag come with it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, column

from learning.models_base import UTCDateTime

LOCK_OWN_SQL = (
    "SELECT e.course_id, e.cohort_id, e.status, e.enrolled_at, e.completed_at, e.withdrawn_at, "
    "c.created_at, c.content_version, c.lti_linked "
    "FROM enrolments AS e JOIN courses AS c ON c.id = e.course_id "
    "WHERE e.id = :enrolment_id AND e.user_id = :user_id FOR UPDATE OF e")
LOCK_OWN_COLUMNS = (
    column("course_id", Integer), column("cohort_id", Integer), column("status", String),
    column("enrolled_at", UTCDateTime), column("completed_at", UTCDateTime), column("withdrawn_at", UTCDateTime),
    column("created_at", UTCDateTime), column("content_version", Integer), column("lti_linked", Boolean))
