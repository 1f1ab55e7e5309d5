"""Knowledge tests before and after a course (pre-test, post-test) and the learning gain they show.

A course may have a pre-test, taken when the learner starts, and a post-test, taken once the
lessons are done: the same questions or parallel ones, scored on the server. Each enrolment has at
most one scored attempt at each; the learning-gain report (``report.py``) compares them over the
people who took both, attributed by what their enrolment recorded (DESIGN.md rule 3).

Attempts hang off the enrolment, like quiz attempts: an erasure scrubs the person and keeps the
enrolment, so the attempts stay as anonymous facts and last year's figures do not move.
"""
