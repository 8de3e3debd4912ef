"""Read the best-ranked leads from the published mart, and format them for a terminal or a machine."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from orchestration.warehouse import LEAD_SCORES, connect_read_only, plain_value

TOP_COLUMNS: tuple[str, ...] = (
    "lead_rank",
    "lead_id",
    "company_name",
    "score_total",
    "tier",
    "tier_action",
    "grade_cell",
    "buying_stage",
    "is_mql",
    "fit_score",
    "engagement_score",
    "negative_score",
    "rfm_score",
    "as_of_date",
)


def top_leads(warehouse_path: Path, limit: int) -> list[dict[str, Any]]:
    """The `limit` best-ranked leads of marts.lead_scores, read through a read-only connection."""
    if not warehouse_path.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse_path}: run `leadscore build` first")
    with connect_read_only(warehouse_path) as con:
        cursor = con.execute(
            f"select {', '.join(TOP_COLUMNS)} from {LEAD_SCORES} where lead_rank <= ? order by lead_rank",
            [limit],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _text(value: Any) -> str:  # noqa: ANN401
    if value is None:
        return ""
    if isinstance(value, Decimal | float):
        return f"{float(value):.2f}"
    return str(plain_value(value))


def format_rows(rows: list[dict[str, Any]], fmt: str) -> str:
    """Render rows as an aligned table, CSV or JSON."""
    if fmt == "json":
        return json.dumps([{k: plain_value(v) for k, v in row.items()} for row in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(TOP_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: plain_value(v) for k, v in row.items()})
        return buffer.getvalue().rstrip("\n")
    cells = [[_text(row[c]) for c in TOP_COLUMNS] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(TOP_COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(TOP_COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
