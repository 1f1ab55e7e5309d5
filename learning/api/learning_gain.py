"""The learning-gain report (admins): pre-test and post-test means over the people who took both,
with the summary's filters; small groups suppressed (``learning.assessment.report``)."""

from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Float, Integer, List, Nested, String
from flask import request

from learning.api.auth import auth, current_api_user
from learning.api.reports import (
    FilterQuerySchema,
    csv_attachment,
    published_count,
    requested_filters,
)
from learning.assessment import exports
from learning.assessment import report as gain
from learning.i18n import current_language
from learning.reporting import services

bp = APIBlueprint("api_learning_gain", __name__, url_prefix="/api/v1", tag="Reports")

DOC = (
    "People who took both the pre-test and the post-test of an enrolment, counted once. The period "
    "(`from`, `to`, UTC days, inclusive) applies to the post-test's date; the other filters and the groups "
    "use what the enrolment recorded. Means are percent scores, a person's own scores averaged first, "
    "rounded to one decimal; `gain` is `post_mean - pre_mean`. A group of fewer people than the "
    "small-cell threshold has its count published as \"<5\" and no means, and the groups that would let "
    "it be derived as \"x\". Bad filters answer 422 naming the field."
)


def _mean(description: str) -> Float:
    return Float(allow_none=True, required=True, metadata={"description": description})


class GainFiguresSchema(Schema):
    people = published_count()
    pre_mean = _mean("Mean pre-test score, percent; null when the group is suppressed")
    post_mean = _mean("Mean post-test score, percent; null when the group is suppressed")
    gain = _mean("post_mean - pre_mean, in points; null when the group is suppressed")


class GainByCountrySchema(GainFiguresSchema):
    country = String(allow_none=True, required=True)


class GainBySectorSchema(GainFiguresSchema):
    sector = String(allow_none=True, required=True)


class GainByCourseSchema(GainFiguresSchema):
    course = String(required=True, metadata={"description": "The course slug"})


class GainByCohortSchema(GainFiguresSchema):
    cohort = Integer(allow_none=True, required=True, metadata={"description": "The cohort id; null: no cohort"})


class LearningGainSchema(GainFiguresSchema):
    small_cell_threshold = Integer(required=True)
    by_country = List(Nested(GainByCountrySchema), required=True)
    by_sector = List(Nested(GainBySectorSchema), required=True)
    by_course = List(Nested(GainByCourseSchema), required=True)
    by_cohort = List(Nested(GainByCohortSchema), required=True)


class GainExportQuerySchema(FilterQuerySchema):
    group_by = String(metadata={"description": "country, sector, course, cohort or organisation",
                                "example": "country"})


@bp.get("/reports/learning-gain")
@bp.auth_required(auth, roles=["admin"])
@bp.input(FilterQuerySchema, location="query", arg_name="query")
@bp.output(LearningGainSchema)
@bp.doc(summary="Learning gain: pre-test and post-test means (admin)", description=DOC,
        responses={401: "Not signed in", 403: "Not an admin", 422: "A filter is invalid"})
def learning_gain(query):
    return gain.learning_gain(requested_filters(), services.small_cell_threshold(),
                              groups=("country", "sector", "course", "cohort"))


@bp.get("/reports/learning-gain.csv")
@bp.auth_required(auth, roles=["admin"])
@bp.input(GainExportQuerySchema, location="query", arg_name="query")
@bp.output({}, content_type="text/csv",
           description="CSV: code, label, people, pre_mean, post_mean, gain; suppressed groups as \"<5\" or "
                       "\"x\" with their means empty")
@bp.doc(summary="Export the learning gain as CSV (admin)", description=DOC,
        responses={401: "Not signed in", 403: "Not an admin", 422: "A filter or the grouping is invalid"})
def learning_gain_csv(query):
    report = requested_filters()
    group = exports.parse_group_by(request.args.get("group_by"))
    exports.audit_export(current_api_user().id, group, report)
    return csv_attachment(exports.csv_text(report, group, current_language()), exports.file_name(group))
