"""`leadscore export`: the leads whose CRM fields changed since the last export, as a file a CRM imports.

The rows are those of marts.crm_score_changes (one row per scored lead, with the change_batch its CRM fields
last changed in; see models/marts/history/crm_score_change_log.sql). An export sends the rows whose batch is
above its watermark, the last batch the previous export read, then moves the watermark to the newest batch of
the served warehouse; `--full` sends every row.

Where the watermark lives: in a small state file beside the served warehouse file
(`<warehouse>.crm-export.json`), never in the served file, which readers only ever open read-only (write,
audit, publish: see orchestration/build/publishing.py). So an export needs no writer lock (it does not wait
for a running build, and a BI tool holding the file open does not block it), and a publish, which replaces the
served file only, leaves the watermark as it was. The state names the build that logged the watermark's batch:
an export against a warehouse whose log does not have that batch from that build (a warehouse rebuilt from
scratch or restored from a copy) refuses to guess and asks for `--full`.

Delivery is at least once: the watermark moves only after the file is complete, so an export that fails or is
killed half-way sends the same rows again next time (a CRM import upserts by lead id).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from orchestration.build.publishing import writer_lock
from orchestration.settings import Settings
from orchestration.warehouse import LEAD_SCORES, connect_read_only, plain_value

CHANGES_RELATION = "marts.crm_score_changes"
LOG_RELATION = "history.crm_score_change_log"
# The fields a CRM import maps, in file order; email only when the served mart exposes personal data.
EXPORT_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "email",
    "score",
    "tier",
    "grade_cell",
    "is_mql",
    "suggested_lifecycle_stage",
    "top_reasons",
    "as_of_date",
)
PERSONAL_COLUMNS = frozenset({"email"})
# Past exports kept in the state file (the last one is the watermark; the others are an audit trail).
KEPT_EXPORTS = 100


class ExportError(Exception):
    """Nothing was exported and the watermark did not move; the message says why."""


@dataclass(frozen=True)
class ExportRecord:
    """One export, as the state file keeps it."""

    exported_at: str
    mode: str
    after_batch: int
    through_batch: int
    through_build_id: str | None
    rows: int
    format: str
    destination: str


def state_path(settings: Settings) -> Path:
    """The export state beside the served warehouse file (the same folder, so it moves with it)."""
    served = settings.warehouse_path
    return served.with_name(served.name + ".crm-export.json")


def read_history(settings: Settings) -> list[ExportRecord]:
    """Every export the state file remembers, oldest first (empty before the first export)."""
    path = state_path(settings)
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["exports"]
        return [ExportRecord(**entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportError(
            f"{path}: unreadable export state ({exc}); move it away and run `leadscore export --full`"
        ) from exc


def _write_history(settings: Settings, history: list[ExportRecord]) -> None:
    path = state_path(settings)
    partial = path.with_name(path.name + ".partial")
    body = {"exports": [asdict(record) for record in history[-KEPT_EXPORTS:]]}
    partial.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def _export_lock(settings: Settings) -> AbstractContextManager[None]:
    """One export at a time per warehouse (two at once would both send the same batches): the writer lock's
    file lock, on a file beside the state file (`<state>.lock`), not the warehouse's own writer lock."""
    return writer_lock(replace(settings, warehouse_path=state_path(settings)))


def _batch_build(con: duckdb.DuckDBPyConnection, batch: int) -> str | None:
    row = con.execute(f"select min(build_id) from {LOG_RELATION} where change_batch = ?", [batch]).fetchone()
    return row[0] if row else None


def _check_watermark(con: duckdb.DuckDBPyConnection, last: ExportRecord, served: Path) -> None:
    """Refuse a watermark that does not belong to this warehouse's change log."""
    if last.through_batch == 0:
        return
    found = _batch_build(con, last.through_batch)
    if found != last.through_build_id:
        raise ExportError(
            f"the last export read up to change batch {last.through_batch} (build {last.through_build_id}), "
            f"which the change log of {served} does not have (it has {found or 'no such batch'}): the "
            "warehouse was rebuilt or replaced since; run `leadscore export --full` to send every lead again"
        )


def _read_rows(
    con: duckdb.DuckDBPyConnection, after_batch: int
) -> tuple[list[str], list[tuple[Any, ...]], int, str | None]:
    """The columns to send, the rows changed after after_batch, and the newest batch with its build."""
    personal = con.execute(f"select count(email) > 0 from {LEAD_SCORES}").fetchone()[0]
    columns = [c for c in EXPORT_COLUMNS if personal or c not in PERSONAL_COLUMNS]
    rows = con.execute(
        f"select {', '.join(columns)} from {CHANGES_RELATION} where change_batch > ? order by lead_id",
        [after_batch],
    ).fetchall()
    newest = con.execute(f"select coalesce(max(change_batch), 0) from {LOG_RELATION}").fetchone()[0]
    return columns, rows, newest, _batch_build(con, newest)


def _csv_value(value: Any) -> str:  # noqa: ANN401 - any database value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)  # as the column's scale has it: 15.80
    return str(plain_value(value))


def render(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    """The rows as CSV (header line, `true`/`false`, empty for null) or as a JSON array of objects."""
    if fmt == "json":
        records = [{c: plain_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        return json.dumps(records, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_csv_value(value) for value in row] for row in rows)
    return buffer.getvalue()


def write_file(out: Path, text: str) -> None:
    """The whole file or nothing: written beside the destination, then renamed onto it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def export_changes(settings: Settings, full: bool, fmt: str, deliver: Callable[[str], str]) -> ExportRecord:
    """Export the CRM rows changed since the last export (every row with full): render them, hand the text
    to deliver (which writes it and returns where to), then record the new watermark. Raise ExportError, with
    nothing recorded, when the served warehouse has no change log or the watermark is not this warehouse's;
    an exception from deliver records nothing either."""
    served = settings.warehouse_path
    if not served.exists():
        raise ExportError(f"no warehouse at {served}: run `leadscore build` first")
    with _export_lock(settings):
        history = read_history(settings)
        last = history[-1] if history and not full else None
        with connect_read_only(served) as con:
            try:
                if last is not None:
                    _check_watermark(con, last, served)
                after = last.through_batch if last else 0
                columns, rows, newest, newest_build = _read_rows(con, after)
            except duckdb.CatalogException as exc:
                raise ExportError(
                    f"{served} has no {CHANGES_RELATION}: build it with this version (`leadscore build`)"
                ) from exc
        destination = deliver(render(columns, rows, fmt))
        record = ExportRecord(
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            mode="full" if full else "since-last",
            after_batch=after,
            through_batch=newest,
            through_build_id=newest_build,
            rows=len(rows),
            format=fmt,
            destination=destination,
        )
        _write_history(settings, [*history, record])
    return record
