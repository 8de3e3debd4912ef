"""Warehouse access, owned here: the connections every module opens to a DuckDB file (read-only, writer,
scratch), the served relations' names, SQL quoting, the plain Python form of a database value, and the
scoring version a warehouse was built with. One place, so a relation name, a quoting rule or the way a file
is opened is written once (dbt opens its own connections through the profile)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import duckdb

# The relations BI reads (dbt models; their schemas are set in dbt_project.yml).
LEAD_SCORES = "marts.lead_scores"
LEAD_SCORE_BREAKDOWN = "marts.lead_score_breakdown"
REJECTED_ROWS = "marts.rejected_rows"


def connect_read_only(path: Path | str, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a DuckDB file (the served file, the pipeline database or a sandbox): it never
    blocks readers and never changes the file. config: DuckDB settings such as memory_limit."""
    return duckdb.connect(str(path), read_only=True, config=config or {})


def connect_writer(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A read-write connection to a DuckDB file, for the one writer of that file: the loader and the build
    under the writer lock, a publish writing a new served file, a sandbox it owns."""
    return duckdb.connect(str(path))


def connect_scratch() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection of no warehouse, for reading or writing files (Parquet, CSV)."""
    return duckdb.connect()


class _Executes(Protocol):
    def execute(self, query: str, parameters: object = ...) -> Any: ...  # noqa: ANN401 - a DB-API cursor


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (DuckDB, PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when the message is empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def plain_value(value: Any) -> Any:  # noqa: ANN401 - any database value
    """A database value as JSON has it: decimals as floats, dates and timestamps as ISO 8601 text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


def latest_scoring_version(con: _Executes) -> str | None:
    """The scoring version (fingerprint of the point tables) of the scores a warehouse holds."""
    row = con.execute(f"select max(scoring_version) from {LEAD_SCORES}").fetchone()
    return None if row is None else row[0]
