"""The benchmark's hand-written floor query and its pandas implementation compute exactly the mart's totals
and ranks (on clean demo data), so `leadscore bench` compares like with like: with the default point tables,
and with event rules narrowed by a url (one type left without a rule for some events) and quintile RFM bands
(rule_seeds)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.bench.reference_scoring import read_seed_frames, score_with_floor_query, score_with_pandas

from conftest import CliRunner, Project, pipeline_db
from rule_seeds import narrow_event_rules, use_quantile_rfm_bands

AS_OF = date(2026, 10, 31)


@pytest.mark.parametrize("point_tables", ["default", "narrowed_rules_and_quantiles"])
def test_floor_query_and_pandas_match_the_mart(
    point_tables: str, tmp_path: Path, project: Project, leadscore: CliRunner
):
    if point_tables != "default":
        narrow_event_rules(project.dir / "seeds")
        use_quantile_rfm_bands(project.dir / "seeds")
    out = tmp_path / "demo"
    leadscore(
        "demo-data", "--leads", "1500", "--seed", "11", "--out", str(out), "--end-date", AS_OF.isoformat()
    )
    leadscore("load", str(out))
    leadscore("build", "--as-of", AS_OF.isoformat())

    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        mart = con.execute("select lead_id, score_total, lead_rank from marts.lead_scores").df()
    # The floor query and pandas read the raw layer, which only the pipeline database holds.
    with duckdb.connect(str(pipeline_db(project.warehouse)), read_only=True) as con:
        floor = score_with_floor_query(con, AS_OF)
        raw = {
            table: con.execute(f"select * from raw.{table}").df() for table in ("leads", "events", "orders")
        }
    seeds = read_seed_frames(project.dir / "seeds")
    pandas_scores = score_with_pandas(raw, seeds, AS_OF)

    assert len(mart) > 1000
    if point_tables != "default":
        with duckdb.connect(str(pipeline_db(project.warehouse)), read_only=True) as con:
            fired = dict(
                con.execute(
                    "select rule_key, count(*) from marts.lead_score_breakdown "
                    "where rule_key in ('careers_page', 'product_page', 'ebook_download', 'page_view') "
                    "group by rule_key"
                ).fetchall()
            )
            bands = con.execute(
                "select count(distinct frequency_score), count(distinct monetary_score) "
                "from intermediate.int_leads_rfm_scored"
            ).fetchone()
        assert set(fired) == {"careers_page", "product_page", "ebook_download", "page_view"}, fired
        assert bands[1] == 5 and bands[0] >= 2, bands
    for name, other in (("floor", floor), ("pandas", pandas_scores)):
        merged = mart.merge(other, on="lead_id", how="outer", suffixes=("", f"_{name}"), indicator=True)
        assert (merged["_merge"] == "both").all(), f"{name}: lead sets differ"
        differences = (
            merged["score_total"].astype(float) - merged[f"score_total_{name}"].astype(float)
        ).abs()
        assert differences.max() < 1e-9, f"{name}: totals differ, e.g.\n{merged[differences >= 1e-9].head()}"
        assert (merged["lead_rank"] == merged[f"lead_rank_{name}"]).all(), f"{name}: ranks differ"
