"""Schemas shared by every API module: the error body and pagination."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, Dict, Integer, List, Nested, String
from apiflask.validators import Range
from flask_babel import gettext as _
from marshmallow import ValidationError

from learning.parsing import DATABASE_YEARS_PATTERN, InvalidInput, check_date, parse_datetime


class ErrorDetailSchema(Schema):
    code = String(required=True, metadata={"example": "validation_error"})
    message = String(required=True)
    fields = Dict(keys=String(), values=List(String()), metadata={"description": "Per-field problems"})
    retry_after = Integer(metadata={"description": "With 429 `too_many_attempts`: seconds to wait before trying again"})
    suggestions = List(String(), metadata={
        "description": "With 422 from an export whose table has no figure to publish at its grain: the "
                       "groupings (`group_by` codes) of the same filters that do publish figures"})
    resource_links = Integer(metadata={
        "description": "With 409 `platform_in_use` (removing an LTI platform): its resource links"})
    linked_accounts = Integer(metadata={
        "description": "With 409 `platform_in_use` (removing an LTI platform): the accounts linked to its users"})


class ErrorSchema(Schema):
    error = Nested(ErrorDetailSchema, required=True)


MAX_PAGE = 1_000_000  # page * per_page must stay a number the database takes as an OFFSET
DATABASE_INT_MAX = 2**31 - 1  # the largest id an INTEGER column holds


def Id(**kwargs) -> Integer:  # noqa: N802 (a field, named like the others)
    """An integer field naming a row: positive, and small enough for the database to look up."""
    return Integer(validate=Range(min=1, max=DATABASE_INT_MAX), **kwargs)


class JsonBoolean(Boolean):
    """``true`` or ``false`` in a JSON body, nothing else: marshmallow's Boolean also takes ``"yes"``,
    ``"off"``, ``1`` or ``"0"``, guessing what a client that sent the wrong type meant (``"all_members":
    "yes"`` enrolled a whole organisation). A query string's flags keep Boolean (they are text)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class BoundedDate(Date):
    """A date (``YYYY-MM-DD``) within the years the platform handles (``learning.parsing``); the
    document says so with a pattern, so that a date the server refuses is not "valid"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"pattern": DATABASE_YEARS_PATTERN, **kwargs["metadata"]}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            return check_date(result)
        except InvalidInput as exc:
            raise ValidationError(_("Use a date such as 2025-03-31.")) from exc


class BoundedDateTime(DateTime):
    """A date and time with an offset, returned in UTC, within the platform's years: an offset that
    would carry it past the calendar's end is a 422, not an overflow."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {"pattern": DATABASE_YEARS_PATTERN, **kwargs["metadata"]}
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parse_datetime(result)
        except InvalidInput as exc:
            raise ValidationError(_("Use a date and time with an offset, such as 2025-03-31T09:00:00-05:00.")) from exc


class PageQuerySchema(Schema):
    page = Integer(load_default=1, validate=Range(min=1, max=MAX_PAGE))
    per_page = Integer(load_default=50, validate=Range(min=1, max=500))


def page_of(schema_cls, name: str | None = None):
    """A paginated list schema ``{items, page, per_page, total}`` of ``schema_cls``."""
    # A subclass of its own: APIFlask warns when a schema nested in a page is also used alone.
    item_cls = type(f"{schema_cls.__name__.removesuffix('Schema')}ItemSchema", (schema_cls,), {})
    attrs = {
        "items": List(Nested(item_cls), required=True),
        "page": Integer(required=True),
        "per_page": Integer(required=True),
        "total": Integer(required=True),
    }
    return type(name or f"{schema_cls.__name__.removesuffix('Schema')}PageSchema", (Schema,), attrs)
