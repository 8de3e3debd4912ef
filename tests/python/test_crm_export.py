"""`leadscore export` and marts.crm_score_changes on a real warehouse, through the real CLI.

One module-scoped scenario, step by step as a RevOps user runs it: build, export everything, export again
(nothing), a day's new events appended and built (export exactly the leads whose CRM fields changed), the
daily roll to the next as-of date (the same), `--full`, a failed write (the watermark stays), personal data
turned on (the email column appears), and a warehouse rebuilt from scratch (the stale watermark is refused).
What changed is recomputed here from lead_scores snapshots and the breakdown, independently of the SQL.
"""

from __future__ import annotations

import csv
import json
import subprocess
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from cli_warehouse import Warehouse

END_DATE = "2026-10-31"
DAY_ONE = "2026-11-01"  # the demo data's next day (demo-data --next-day-of) is scored as of this date
DAY_TWO = "2026-11-02"
FIELDS = ("score", "tier", "grade_cell", "is_mql", "suggested_lifecycle_stage")


class CrmWarehouse(Warehouse):
    def crm_fields(self) -> dict[str, tuple[Any, ...]]:
        """Each scored lead's CRM fields, from lead_scores (the score rounded as the CRM gets it)."""
        rows = self.records(
            "select lead_id, score_total, tier, grade_cell, is_mql, suggested_lifecycle_stage "
            "from marts.lead_scores"
        )
        return {
            r["lead_id"]: (
                r["score_total"].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                r["tier"],
                r["grade_cell"],
                r["is_mql"],
                r["suggested_lifecycle_stage"],
            )
            for r in rows
        }

    def top_reasons(self) -> dict[str, str]:
        """The three counted breakdown rules with the largest points per lead, as the export words them."""
        rows = self.records(
            "select lead_id, breakdown_id, rule_type, rule_key, score_points from marts.lead_score_breakdown "
            "where is_counted_in_total and score_points <> 0"
        )
        by_lead: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_lead.setdefault(row["lead_id"], []).append(row)
        reasons = {}
        for lead, rules in by_lead.items():
            rules.sort(key=lambda r: (-abs(r["score_points"]), r["breakdown_id"]))
            reasons[lead] = "; ".join(
                f"{r['rule_type']}: {r['rule_key']} ("
                f"{'+' if r['score_points'] > 0 else ''}{r['score_points'].quantize(Decimal('0.01'))})"
                for r in rules[:3]
            )
        return reasons

    def export(self, *args: str, name: str, check: bool = True) -> Exported:
        out = self.root / "exports" / name
        completed = self.leadscore("export", *args, "--out", str(out), check=check)
        return Exported(completed, out)


@dataclass
class Exported:
    completed: subprocess.CompletedProcess[str]
    path: Path

    def rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def header(self) -> list[str]:
        return self.path.read_text().splitlines()[0].split(",")


@dataclass
class Scenario:
    warehouse: CrmWarehouse
    fields: dict[str, dict[str, tuple[Any, ...]]] = field(default_factory=dict)
    reasons: dict[str, dict[str, str]] = field(default_factory=dict)
    exports: dict[str, Exported] = field(default_factory=dict)
    outputs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    mart: list[dict[str, Any]] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)

    def snapshot(self, step: str) -> None:
        self.fields[step] = self.warehouse.crm_fields()
        self.reasons[step] = self.warehouse.top_reasons()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    warehouse = CrmWarehouse(tmp_path_factory.mktemp("crm_export"))
    s = Scenario(warehouse)
    demo, next_day = warehouse.root / "demo", warehouse.root / "next_day"
    warehouse.leadscore(
        "demo-data", "--leads", "800", "--seed", "11", "--out", str(demo), "--end-date", END_DATE
    )
    warehouse.leadscore("load", str(demo))
    warehouse.leadscore("build", "--as-of", DAY_ONE)
    s.snapshot("first")
    s.exports["first"] = warehouse.export(name="first.csv")
    s.exports["again"] = warehouse.export(name="again.csv")
    s.outputs["again_json"] = warehouse.leadscore("export", "--format", "json")

    warehouse.leadscore("demo-data", "--next-day-of", str(demo), "--out", str(next_day))
    warehouse.leadscore("load", "--append", str(next_day))
    s.outputs["refresh"] = warehouse.leadscore("build", "--as-of", DAY_ONE)
    s.snapshot("refresh")
    s.exports["refresh"] = warehouse.export(name="refresh.csv")

    s.outputs["roll"] = warehouse.leadscore("build", "--as-of", DAY_TWO)
    s.snapshot("roll")
    s.exports["roll"] = warehouse.export("--format", "csv", name="roll.csv")
    s.exports["roll_again"] = warehouse.export(name="roll_again.csv")
    s.mart = warehouse.records("select * from marts.crm_score_changes")
    s.outputs["full_json"] = warehouse.leadscore("export", "--full", "--format", "json")

    # A destination that cannot be written (its folder is a file): nothing recorded.
    blocker = warehouse.root / "not_a_folder"
    blocker.write_text("")
    s.outputs["failed_write"] = warehouse.leadscore(
        "export", "--full", "--out", str(blocker / "x.csv"), check=False
    )

    # Personal data on: the project's var, as a team would set it.
    project_yml = warehouse.project.dir / "dbt_project.yml"
    project_yml.write_text(
        project_yml.read_text().replace("expose_personal_data: false", "expose_personal_data: true")
    )
    warehouse.leadscore("build", "--as-of", DAY_TWO)
    s.exports["personal"] = warehouse.export("--full", name="personal.csv")
    s.emails = {
        r["lead_id"]: r["email"] for r in warehouse.pipeline_records("select lead_id, email from raw.leads")
    }

    # The warehouse rebuilt from scratch: the watermark is not this warehouse's any more.
    for path in warehouse.project.warehouse.parent.glob("leadscore.*"):  # the pipeline database too
        if not path.name.endswith((".crm-export.json", ".crm-export.json.lock")):
            path.unlink()
    warehouse.leadscore("load", str(demo))
    warehouse.leadscore("build", "--as-of", DAY_ONE)
    s.exports["stale"] = warehouse.export(name="stale.csv", check=False)
    s.exports["after_stale_full"] = warehouse.export("--full", name="after_stale_full.csv")
    return s


def changed_leads(before: dict[str, tuple], after: dict[str, tuple]) -> set[str]:
    return {lead for lead, values in after.items() if before.get(lead) != values}


def as_exported(values: tuple[Any, ...]) -> tuple[str, ...]:
    score, tier, grade, mql, stage = values
    return (str(score), tier, grade, "true" if mql else "false", stage)


def check_rows(
    rows: list[dict[str, str]], fields: dict[str, tuple], reasons: dict[str, str], as_of: str
) -> None:
    for row in rows:
        assert tuple(row[f] for f in FIELDS) == as_exported(fields[row["lead_id"]]), row
        assert row["top_reasons"] == reasons.get(row["lead_id"], ""), row
        assert row["as_of_date"] == as_of


def test_the_first_export_sends_every_scored_lead_with_its_crm_fields(scenario):
    first = scenario.exports["first"]
    rows = first.rows()
    assert first.header() == [
        "lead_id",
        "score",
        "tier",
        "grade_cell",
        "is_mql",
        "suggested_lifecycle_stage",
        "top_reasons",
        "as_of_date",
    ]  # no email: personal data is off by default
    assert sorted(r["lead_id"] for r in rows) == sorted(scenario.fields["first"])
    check_rows(rows, scenario.fields["first"], scenario.reasons["first"], DAY_ONE)
    assert any(r["is_mql"] == "true" for r in rows) and any(r["top_reasons"].count(";") == 2 for r in rows)
    assert "exported 800 leads" in first.completed.stderr


def test_a_second_export_sends_nothing(scenario):
    assert scenario.exports["again"].rows() == []
    assert "exported 0 leads" in scenario.exports["again"].completed.stderr
    assert json.loads(scenario.outputs["again_json"].stdout) == []


def test_a_refresh_with_new_events_exports_exactly_the_leads_that_changed(scenario):
    assert "lead tables: patched" in scenario.outputs["refresh"].stdout
    expected = changed_leads(scenario.fields["first"], scenario.fields["refresh"])
    assert 0 < len(expected) < len(scenario.fields["refresh"])
    rows = scenario.exports["refresh"].rows()
    assert {r["lead_id"] for r in rows} == expected and len(rows) == len(expected)
    check_rows(rows, scenario.fields["refresh"], scenario.reasons["refresh"], DAY_ONE)


def test_the_daily_roll_exports_exactly_the_leads_that_changed(scenario):
    expected = changed_leads(scenario.fields["refresh"], scenario.fields["roll"])
    assert 0 < len(expected) < len(scenario.fields["roll"])
    rows = scenario.exports["roll"].rows()
    assert {r["lead_id"] for r in rows} == expected and len(rows) == len(expected)
    check_rows(rows, scenario.fields["roll"], scenario.reasons["roll"], DAY_TWO)
    assert scenario.exports["roll_again"].rows() == []


def test_the_mart_holds_the_same_rows_with_the_batch_they_changed_in(scenario):
    mart = {row["lead_id"]: row for row in scenario.mart}
    state = json.loads(
        scenario.warehouse.project.warehouse.with_name("leadscore.duckdb.crm-export.json").read_text()
    )
    roll = next(e for e in state["exports"] if e["destination"].endswith("roll.csv"))
    assert (roll["after_batch"], roll["through_batch"]) == (2, 3)
    # What a reverse-ETL tool reading the mart past batch 2 would send is what the export sent.
    assert {lead for lead, row in mart.items() if row["change_batch"] > 2} == {
        r["lead_id"] for r in scenario.exports["roll"].rows()
    }
    full = json.loads(scenario.outputs["full_json"].stdout)
    assert len(full) == len(mart) == len(scenario.fields["roll"])
    for record in full:
        row = mart[record["lead_id"]]
        assert record["score"] == float(row["score"]) and record["is_mql"] is row["is_mql"]
        assert record["top_reasons"] == row["top_reasons"] and record["as_of_date"] == str(row["as_of_date"])


def test_a_failed_write_leaves_the_watermark_and_no_partial_file(scenario):
    failed = scenario.outputs["failed_write"]
    assert failed.returncode == 1
    assert "export failed, watermark unchanged" in failed.stderr
    state = json.loads(
        scenario.warehouse.project.warehouse.with_name("leadscore.duckdb.crm-export.json").read_text()
    )
    assert not any("not_a_folder" in e["destination"] for e in state["exports"])


def test_email_is_exported_only_when_personal_data_is_on(scenario):
    personal = scenario.exports["personal"]
    assert personal.header()[:2] == ["lead_id", "email"]
    rows = personal.rows()
    assert rows and all(r["email"] == scenario.emails[r["lead_id"]] for r in rows)


def test_a_watermark_from_another_warehouse_is_refused(scenario):
    stale = scenario.exports["stale"]
    assert stale.completed.returncode == 1
    assert "run `leadscore export --full`" in stale.completed.stderr
    assert not stale.path.exists()
    assert len(scenario.exports["after_stale_full"].rows()) == len(scenario.fields["first"])
