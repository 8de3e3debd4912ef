"""Rules on any lead property, end to end through load, build and top: extra export columns, folded matching,
blank apart from otherwise, new values, and a rule on a column an export lacks."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from conftest import CliRunner, Project
from golden_data import AS_OF, write_export

# Two extra columns, values as real exports carry them: stray and no-break spaces, mixed case, a decomposed
# accent (e + combining acute), numbers as text with spaces and an exponent.
SEGMENTS = {"G1": "\u00a0 ENTERPRISE  ", "N1": "Cafe\u0301", "D1": "", "C1": "startup"}
SEATS = {"G1": " 250 ", "N1": "1.2e2", "D1": "99", "C1": ""}
RULES = """segment_enterprise,Segment,equals,Enterprise,,,1,segment,4,Enterprise accounts
segment_cafe,segment,in_list,bistro | CAF\u00c9,,,2,segment,2,Cafes and bistros
segment_blank,segment,blank,,,,,segment,-1,No segment given
segment_other,segment,otherwise,,,,,segment,1,Any other segment
seats_large,seats,range,,100,,1,seats,3,100 seats or more
seats_small,seats,range,,0,100,2,seats,0.5,Fewer than 100 seats
"""
WEIGHTS = """segment,adjustment,1,Fit: the customer segment (an extra export column)
seats,adjustment,1,Fit: seats (an extra export column)
"""


def export_with_extra_columns(folder: Path) -> Path:
    write_export(folder)
    leads = folder / "leads.csv"
    lines = leads.read_text().splitlines()
    rows = [lines[0] + ",segment,seats"]
    for line in lines[1:]:
        lead_id = line.split(",", 1)[0]
        rows.append(f'{line},"{SEGMENTS[lead_id]}","{SEATS[lead_id]}"')
    leads.write_text("\n".join(rows) + "\n")
    return folder


def add_rules(project: Project) -> None:
    seeds = project.dir / "seeds"
    with (seeds / "lead_property_rules.csv").open("a") as rules:
        rules.write(RULES)
    with (seeds / "score_weights.csv").open("a") as weights:
        weights.write(WEIGHTS)


def test_rules_on_extra_columns_score_end_to_end(tmp_path: Path, project: Project, leadscore: CliRunner):
    add_rules(project)
    leadscore("load", str(export_with_extra_columns(tmp_path / "export")))
    leadscore("build", "--as-of", AS_OF)
    top = {row["lead_id"]: row for row in json.loads(leadscore("top", "4", "--format", "json").stdout)}

    # The golden lead: its 15 points, plus an enterprise segment (4) and 250 seats (3).
    assert top["G1"]["score_total"] == 22.0
    assert top["G1"]["lead_rank"] == 1
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        fired = dict(
            con.execute(
                """
                select lead_id || ':' || rule_key, score_points from marts.lead_score_breakdown
                where dimension_key in ('segment', 'seats')
                """
            ).fetchall()
        )
        totals = dict(
            con.execute("select lead_id, cast(score_total as double) from marts.lead_scores").fetchall()
        )
    assert {key: float(points) for key, points in fired.items()} == {
        "G1:segment_enterprise": 4.0,  # stray and no-break spaces, upper case
        "G1:seats_large": 3.0,  # ' 250 '
        "N1:segment_cafe": 2.0,  # a decomposed accent matches the list's composed CAFÉ
        "N1:seats_large": 3.0,  # '1.2e2' is 120
        "D1:segment_blank": -1.0,  # blank is not otherwise
        "D1:seats_small": 0.5,
        "C1:segment_other": 1.0,  # a value no rule names: otherwise
    }

    assert totals["G1"] == 22.0  # the mart agrees with top


def test_a_rule_on_a_column_the_export_lacks_fails_naming_rule_and_column(
    tmp_path: Path, project: Project, leadscore: CliRunner
):
    add_rules(project)
    leadscore("load", str(write_export(tmp_path / "export")))  # no segment, no seats
    failed = leadscore("build", "--as-of", AS_OF, check=False)
    assert failed.returncode == 1
    assert "names_lead_property" in failed.stderr
    for rule, column in (("segment_enterprise", "Segment"), ("seats_large", "seats")):
        assert f"rule_key={rule}" in failed.stderr and f"property={column}" in failed.stderr, failed.stderr
    assert "not published" in failed.stdout + failed.stderr
