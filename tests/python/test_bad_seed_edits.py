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
    edit_seed(project, "lead_property_rules", "industry,8,Retail", "industry,eight,Retail")
    failed = loaded("build", "--as-of", AS_OF, check=False)
    assert failed.returncode == 1
    assert "lead_property_rules.csv line 3, column points" in failed.stderr
    assert "eight" in failed.stderr


def test_invalid_pattern_names_the_seed_row(project: Project, loaded: CliRunner):
    edit_seed(
        project,
        "lead_property_rules",
        "director,job_title,pattern,director,",
        "director,job_title,pattern,(director,",
    )
    failed = loaded("build", "--as-of", AS_OF, check=False)
    assert failed.returncode == 1
    assert (
        "lead_property_rules.csv line 24, column match_values: '(director' is not a valid regular expression"
        in (failed.stderr)
    )


FREQUENCY_BANDS = "".join(f"frequency,{n},value,{low},{high}\n" for n, low, high in ((1, 1, 2), (2, 2, 3), (3, 3, 4), (4, 4, 6), (5, 6, "")))  # fmt: skip
LAST_EVENT_RULE = "email_bounce,email_bounce,,,,none,0,0,30,"

# Bad edits, several point tables at once: one build must fail on every one of them and name each seed's
# offending row under that seed's failed test (one build instead of one per edit: dbt runs every seed test
# even when others fail, and the failure message lists them all).
SEMANTIC_EDITS = {
    # bands that overlap: grade B now starts at 4, inside C [3, 5)
    "overlapping-bands": (
        "fit_grade_bands",
        "B,5,7",
        "B,4,7",
        ["fit_grade_bands", "band_key=C", "overlaps"],
    ),
    # a range rule whose min is above its max
    "inverted-range": (
        "lead_property_rules",
        "mid_market,employee_count,range,,100,501,",
        "mid_market,employee_count,range,,600,501,",
        ["lead_property_rules_values_fit_the_match_kind", "rule_key=mid_market"],
    ),
    # a rule on a column the loaded leads do not have
    "missing-column": (
        "lead_property_rules",
        "retail,industry,equals,retail,",
        "retail,sector,equals,retail,",
        ["names_lead_property_lead_property_rules_property", "rule_key=retail", "property=sector"],
    ),
    # a rule counting in a dimension score_weights does not have
    "unknown-dimension": (
        "lead_property_rules",
        ",1,geography,10,Primary market zone",
        ",1,geographie,10,Primary market zone",
        ["lead_property_rules_dimension", "geographie"],
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
        "lead_property_rules",
        "cfo,job_title,pattern",
        "ceo,job_title,pattern",
        ["unique_lead_property_rules_rule_key", "unique_field=ceo"],
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
        "demo_request,demo_request,,,,decision,",
        "demo_request,demo_request,,,,purchase,",
        ["engagement_event_points_buying_stage", "purchase"],
    ),
    # two bands with the same (dimension, score): the unique_combination_of_columns test names the pair
    "duplicate-combination": (
        "rfm_bands",
        "recency,4,value,31,91",
        "recency,5,value,31,91",
        ["unique_combination_of_columns_rfm_bands", "rfm_dimension=recency, rfm_score=5, occurrences=2"],
    ),
    # a second event rule without a property for page_view: which one would take its events?
    "second-rule-without-property": (
        "engagement_event_points",
        LAST_EVENT_RULE,
        "page_view_again,page_view,,,,discovery,1,10,30,Any page again\n" + LAST_EVENT_RULE,
        ["engagement_event_points_one_rule_without_property_per_type", "event_type=page_view"],
    ),
    # a property rule without its pattern
    "property-rule-without-pattern": (
        "engagement_event_points",
        LAST_EVENT_RULE,
        "pricing_page,page_view,url,,1,evaluation,5,25,30,No pattern\n" + LAST_EVENT_RULE,
        ["engagement_event_points_property_rules_complete", "event_rule=pricing_page"],
    ),
    # a property name the engines' JSON paths cannot quote
    "quoted-property-name": (
        "engagement_event_points",
        LAST_EVENT_RULE,
        "quoted_key,page_view,it's,x,1,evaluation,5,25,30,A quote in the key\n" + LAST_EVENT_RULE,
        ["engagement_event_points_property_rules_complete", "event_rule=quoted_key"],
    ),
    # a rule that takes points while the lowest engagement level starts at 0: a lead below 0 gets no level
    "negative-points-without-open-level": (
        "engagement_levels",
        "low,,15,0",
        "low,0,15,0",
        ["engagement_levels_cover_negative_points", "level_key=low"],
    ),
    "negative-event-rule": (
        "engagement_event_points",
        LAST_EVENT_RULE,
        "careers_page,page_view,url,careers,2,none,-2,-6,30,Careers pages\n" + LAST_EVENT_RULE,
        ["engagement_levels_cover_negative_points", "level_key=medium"],
    ),
    # one monetary band in quantiles, the others in EUR
    "mixed-bound-kinds": (
        "rfm_bands",
        "monetary,1,value,0,500",
        "monetary,1,quantile,0,500",
        ["rfm_bands_one_bound_kind_per_dimension", "rfm_dimension=monetary, rfm_score=1"],
    ),
    # quantile bounds past 1
    "quantile-out-of-range": (
        "rfm_bands",
        FREQUENCY_BANDS,
        "".join(
            f"frequency,{n},quantile,{low},{high}\n"
            for n, low, high in ((1, 0, 0.2), (2, 0.2, 0.4), (3, 0.4, 0.6), (4, 0.6, 1.5), (5, 1.5, ""))
        ),  # fmt: skip
        ["rfm_bands_quantiles_within_zero_and_one", "rfm_dimension=frequency, rfm_score=4"],
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
