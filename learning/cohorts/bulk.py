"""Set-based inserts: one statement per table on PostgreSQL, a batched executemany elsewhere.

On PostgreSQL the varying values travel as one array per column and are
expanded with ``unnest``: a single round trip for 10,000 rows, instead of
thousands of bound parameters that the driver would have to rewrite.
Columns the caller does not give get their model default, as the ORM would.
"""

from __future__ import annotations

from sqlalchemy import String, Table, any_, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import NullType

from learning.extensions import db


def _defaults(table: Table, given: set[str]) -> dict:
    values = {}
    for column in table.columns:
        if column.name in given or column.default is None or column.primary_key:
            continue
        default = column.default
        if default.is_scalar:
            values[column.name] = default.arg
        elif default.is_callable:
            values[column.name] = default.arg(None)
    return values


def bulk_insert(table: Table, rows: list[dict], constants: dict | None = None, returning: tuple = ()):
    """Insert ``rows`` (the varying columns) with ``constants`` (the same for every row); returns RETURNING rows."""
    if not rows:
        return []
    constants = dict(constants or {})
    varying = list(rows[0])
    constants = {**_defaults(table, set(varying) | set(constants)), **constants}
    if db.session.get_bind().dialect.name != "postgresql":
        statement = insert(table)
        if returning:
            statement = statement.returning(*returning, sort_by_parameter_order=True)
        result = db.session.execute(statement, [{**constants, **row} for row in rows])
        return result.all() if returning else []
    arrays = [
        literal([row[name] for row in rows], type_=ARRAY(table.c[name].type)) for name in varying
    ]
    source = func.unnest(*arrays).table_valued(*[f"v{i}" for i in range(len(varying))]).render_derived()
    columns = [source.c[f"v{i}"] for i in range(len(varying))]
    columns += [literal(value, type_=table.c[name].type) for name, value in constants.items()]
    statement = insert(table).from_select(varying + list(constants), select(*columns))
    if returning:
        statement = statement.returning(*returning)
    result = db.session.execute(statement)
    return result.all() if returning else []


def among(column, values: list):
    """``column IN values`` as one array parameter on PostgreSQL (no rewriting of thousands of placeholders)."""
    if db.session.get_bind().dialect.name == "postgresql":
        element_type = String() if isinstance(column.type, NullType) else column.type
        return column == any_(literal(list(values), type_=ARRAY(element_type)))
    return column.in_(values)
