"""A bad edit of a point table fails the build with a message naming the seed and the row."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CliRunner, Project
from golden_data import AS_OF, write_export


def edit_seed(project: Project, seed: str, old: str, new: str) -> None:
    path = project.dir / "seeds" / f"{seed}.csv"
    text = path.read_text()
    assert old in text, f"{old!r} not in {seed}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def loaded(tmp_path: Path, leadscore: CliRunner) -> CliRunner:
    leadscore("load", str(write_export(tmp_path / "export")))
    return leadscore


def test_non_numeric_points_name_file_line_and_column(project: Project, loaded: CliRunner):
    edit_seed(
        project, "fit_industry_points", "retail,Retail and e-commerce,8", "retail,Retail and e-commerce,eight"
    )
    failed = loaded("build", "--as-of", AS_OF, check=False)
    assert failed.returncode == 1
    assert "fit_industry_points.csv line 3, column points" in failed.stderr
    assert "eight" in failed.stderr


# Seven bad edits, each in another point table, made together: one build must fail on every one of them and name
# each seed's offending row under that seed's failed test (one build instead of seven: dbt runs every seed test
# even when others fail, and the failure message lists them all).
SEMANTIC_EDITS = {
    # bands that overlap: mid_market now starts at 90, inside micro [0, 100)
    "overlapping-bands": (
        "fit_company_size_bands",
        "mid_market,100,501,15",
        "mid_market,90,501,15",
        ["fit_company_size_bands", "band_key=micro", "overlaps"],
    ),
    # a gap between bands
    "gapped-bands": (
        "engagement_levels",
        "medium,15,50,10",
        "medium,16,50,10",
        ["engagement_levels", "band_key=low", "gap"],
    ),
    # weights that do not add up
    "weights": (
        "score_weights",
        "engagement,base,0.35",
        "engagement,base,0.45",
        ["score_weights_base_add_up_to_one", "actual_sum=1.1"],
    ),
    # a duplicate key
    "duplicate-key": (
        "fit_geo_zones",
        "DE,secondary",
        "FR,secondary",
        ["unique_fit_geo_zones_country_code", "unique_field=FR"],
    ),
    # a negative rule on an event type that does not exist
    "unknown-event-type": (
        "negative_rules",
        "unsubscribed,event,unsubscribe,",
        "unsubscribed,event,unsubscribed,",
        ["negative_rules_event_types_known", "rule_key=unsubscribed"],
    ),
    # an unknown buying stage
    "unknown-stage": (
        "engagement_event_points",
        "demo_request,decision,",
        "demo_request,purchase,",
        ["engagement_event_points_buying_stage", "purchase"],
    ),
    # two bands with the same (dimension, score): the unique_combination_of_columns test names the pair
    "duplicate-combination": (
        "rfm_bands",
        "recency,4,31,91",
        "recency,5,31,91",
        ["unique_combination_of_columns_rfm_bands", "rfm_dimension=recency, rfm_score=5, occurrences=2"],
    ),
}


def failure_blocks(message: str) -> list[str]:
    """The build's failure message cut into one block per failed node: its `- name (status): ...` line and
    the failing rows under it."""
    blocks: list[str] = []
    for line in message.splitlines():
        if line.startswith("- "):
            blocks.append(line)
        elif blocks and line.startswith("    failing row:"):
            blocks[-1] += "\n" + line
    return blocks


def test_semantic_seed_errors_fail_the_build_naming_each_row(project: Project, loaded: CliRunner):
    for seed, old, new, _ in SEMANTIC_EDITS.values():
        edit_seed(project, seed, old, new)
    failed = loaded("build", "--as-of", AS_OF, check=False)
    assert failed.returncode == 1, failed.stdout
    assert "build failed" in failed.stderr
    blocks = failure_blocks(failed.stderr)
    for case, (_, _, _, expected) in SEMANTIC_EDITS.items():
        named = [block for block in blocks if expected[0] in block.splitlines()[0]]
        assert named, f"{case}: no failed test names {expected[0]!r} in:\n{failed.stderr}"
        for fragment in expected[1:]:
            assert any(fragment in block for block in named), (
                f"{case}: {fragment!r} not under {expected[0]!r} in:\n{failed.stderr}"
            )
