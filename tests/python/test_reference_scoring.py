"""The benchmark's hand-written floor query and its pandas implementation compute exactly the mart's totals
and ranks (on clean demo data), so `leadscore bench` compares like with like."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from orchestration.reference_scoring import read_seed_frames, score_with_floor_query, score_with_pandas

from conftest import CliRunner, Project

AS_OF = date(2026, 10, 31)


def test_floor_query_and_pandas_match_the_mart(tmp_path: Path, project: Project, leadscore: CliRunner):
    out = tmp_path / "demo"
    leadscore(
        "demo-data", "--leads", "1500", "--seed", "11", "--out", str(out), "--end-date", AS_OF.isoformat()
    )
    leadscore("load", str(out))
    leadscore("build", "--as-of", AS_OF.isoformat())

    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        mart = con.execute("select lead_id, score_total, lead_rank from marts.lead_scores").df()
        floor = score_with_floor_query(con, AS_OF)
        raw = {
            table: con.execute(f"select * from raw.{table}").df() for table in ("leads", "events", "orders")
        }
    seeds = read_seed_frames(project.dir / "seeds")
    pandas_scores = score_with_pandas(raw, seeds, AS_OF)

    assert len(mart) > 1000
    for name, other in (("floor", floor), ("pandas", pandas_scores)):
        merged = mart.merge(other, on="lead_id", how="outer", suffixes=("", f"_{name}"), indicator=True)
        assert (merged["_merge"] == "both").all(), f"{name}: lead sets differ"
        differences = (
            merged["score_total"].astype(float) - merged[f"score_total_{name}"].astype(float)
        ).abs()
        assert differences.max() < 1e-9, f"{name}: totals differ, e.g.\n{merged[differences >= 1e-9].head()}"
        assert (merged["lead_rank"] == merged[f"lead_rank_{name}"]).all(), f"{name}: ranks differ"
