"""Tests of the seed checker: the real seeds pass; copies with one bad edit fail naming file, line and column."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from orchestration.build.seed_check import SeedError, check_seeds, column_checker, find_seed_problems

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of dbt_project.yml and the seeds folder that tests may edit."""
    shutil.copy2(REPO / "dbt_project.yml", tmp_path / "dbt_project.yml")
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    return tmp_path


def edit(project: Path, seed: str, old: str, new: str) -> None:
    """Replace the first occurrence of `old` in a seed CSV."""
    path = project / "seeds" / f"{seed}.csv"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {seed}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append_rows(project: Path, seed: str, rows: str) -> None:
    """Append CSV rows to a seed."""
    path = project / "seeds" / f"{seed}.csv"
    path.write_text(path.read_text(encoding="utf-8") + rows, encoding="utf-8")


def edit_project(project: Path, change: callable) -> None:
    """Apply `change` to the parsed dbt_project.yml and write it back."""
    path = project / "dbt_project.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def problems_of(project: Path) -> list[str]:
    """The problems check_seeds raises (it must raise)."""
    with pytest.raises(SeedError) as caught:
        check_seeds(project)
    assert str(caught.value).count("\n") == len(caught.value.problems)
    return caught.value.problems


def test_repository_seeds_pass() -> None:
    check_seeds(REPO)
    assert find_seed_problems(REPO) == []


def test_non_numeric_points(project: Path) -> None:
    edit(project, "lead_property_rules", ",501,1001,3,company_size,10,", ",501,1001,3,company_size,ten,")
    assert problems_of(project) == [
        "seeds/lead_property_rules.csv line 7, column points: 'ten' is not a decimal(10,4)"
    ]


def test_invalid_regular_expression(project: Path) -> None:
    edit(
        project,
        "lead_property_rules",
        "manager,job_title,pattern,manager,",
        "manager,job_title,pattern,manager[,",
    )
    (problem,) = problems_of(project)
    assert problem.startswith(
        "seeds/lead_property_rules.csv line 25, column match_values: 'manager[' is not a valid regular expression ("
    )


def test_lookahead_is_refused_where_duckdb_cannot_compile_it(project: Path) -> None:
    # Python's re accepts a look-ahead; DuckDB's RE2, which scores the rules, does not.
    edit(
        project,
        "lead_property_rules",
        "manager,job_title,pattern,manager,",
        "manager,job_title,pattern,man(?=ager),",
    )
    (problem,) = problems_of(project)
    assert "'man(?=ager)' is not a valid regular expression" in problem and "perl operator" in problem


def test_extra_column(project: Path) -> None:
    path = project / "seeds" / "engagement_levels.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",comment", *(line + ",x" for line in lines[1:])]) + "\n")
    problems = problems_of(project)
    assert len(problems) == 1
    assert problems[0].startswith("seeds/engagement_levels.csv line 1, column comment: unexpected column")


def test_missing_column(project: Path) -> None:
    path = project / "seeds" / "fx_rates.csv"
    path.write_text("".join(line.split(",")[0] + "\n" for line in path.read_text().splitlines()))
    assert problems_of(project) == [
        "seeds/fx_rates.csv line 1, column rate_to_eur: declared column missing from the header"
    ]


def test_too_many_fields_on_a_row(project: Path) -> None:
    edit(project, "score_tiers", "nurture,10,15,2,nurture,", "nurture,10,15,2,nurture,oops,")
    assert problems_of(project) == [
        "seeds/score_tiers.csv line 3, column 7 (after the last column description): "
        "too many fields (7 fields, the header has 6)"
    ]


def test_too_few_fields_on_a_row(project: Path) -> None:
    edit(project, "negative_email_domains", "googlemail.com,free_mail_domain", "googlemail.com")
    assert problems_of(project) == [
        "seeds/negative_email_domains.csv line 3, column rule_key: too few fields (1 fields, the header has 2)"
    ]


def test_undeclared_seed(project: Path) -> None:
    (project / "seeds" / "new_points.csv").write_text("key,points\na,1\n")
    assert problems_of(project) == [
        "seeds/new_points.csv: no +column_types declared in dbt_project.yml under seeds: <project>: new_points"
        " (the seed is not configured at all)"
    ]


def test_declared_seed_without_csv(project: Path) -> None:
    (project / "seeds" / "rfm_bands.csv").unlink()
    (problem,) = problems_of(project)
    assert problem.startswith("dbt_project.yml: seeds: <project>: rfm_bands is configured")
    assert "seeds/rfm_bands.csv" in problem


def test_every_problem_is_listed(project: Path) -> None:
    edit(project, "lead_property_rules", ",2,industry,8,", ",2,industry,eight,")
    edit(
        project, "lead_property_rules", "micro,employee_count,range,,0,", "micro,employee_count,range,,zero,"
    )
    edit(
        project, "lead_property_rules", ",1001,,4,company_size,5,", ",1001,,4,company_size,5.5,"
    )  # still valid
    edit(project, "rfm_segments", "champions,1,4,5", "champions,1.5,4,5")
    problems = problems_of(project)
    assert problems == [
        "seeds/lead_property_rules.csv line 3, column points: 'eight' is not a decimal(10,4)",
        "seeds/lead_property_rules.csv line 5, column min_value: 'zero' is not a decimal(18,4)",
        "seeds/rfm_segments.csv line 2, column match_priority: '1.5' is not an integer",
    ]


def test_decimal_precision_and_rounding(project: Path) -> None:
    edit(project, "score_weights", "industry,base,0.25", "industry,base,0.33333")
    edit(project, "lead_property_rules", ",1,industry,10,", ",1,industry,1234567,")
    assert problems_of(project) == [
        "seeds/lead_property_rules.csv line 2, column points: '1234567' is out of range for decimal(10,4) "
        "(at most 6 digits before the decimal point)",
        "seeds/score_weights.csv line 2, column weight: '0.33333' has more than 4 decimals for decimal(10,4) "
        "(it would be rounded)",
    ]


def test_empty_values_are_allowed(project: Path) -> None:
    edit(project, "lead_property_rules", ",1,industry,10,Technology and software", ",,industry,,")
    check_seeds(project)


def test_quoted_multiline_value_and_blank_line_keep_physical_line_numbers(project: Path) -> None:
    path = project / "seeds" / "buying_stages.csv"
    path.write_text(
        "stage_key,stage_order,description\n"
        'discovery,1,"Researching,\nand reading"\n'  # lines 2-3
        "\n"  # line 4, ignored
        "evaluation,x,Comparing\n"  # line 5
    )
    assert problems_of(project) == [
        "seeds/buying_stages.csv line 5, column stage_order: 'x' is not an integer"
    ]


def test_duplicated_header_column(project: Path) -> None:
    edit(project, "negative_email_domains", "email_domain,rule_key", "email_domain,rule_key,rule_key")
    (problem, *others) = problems_of(project)
    assert problem == "seeds/negative_email_domains.csv line 1, column rule_key: duplicated column"
    assert others and all("too few fields" in other for other in others)


def test_unterminated_quote(project: Path) -> None:
    edit(project, "score_weights", "company_size,base,0.30,", 'company_size,base,0.30,"unclosed')
    (problem,) = problems_of(project)
    assert problem.startswith("seeds/score_weights.csv line 3: malformed CSV")


def test_invalid_utf8(project: Path) -> None:
    path = project / "seeds" / "buying_stages.csv"
    path.write_bytes(path.read_bytes().replace(b"Ready to buy", b"Pr\xeat \xe0 acheter"))
    assert problems_of(project) == [
        "seeds/buying_stages.csv line 5: invalid UTF-8 (invalid continuation byte); save the file as UTF-8"
    ]


def test_empty_seed_file(project: Path) -> None:
    (project / "seeds" / "negative_email_domains.csv").write_text("")
    assert problems_of(project) == [
        "seeds/negative_email_domains.csv line 1: empty file (a header line is required)"
    ]


def test_folder_level_column_types_are_inherited_and_disabled_seeds_skipped(project: Path) -> None:
    folder = project / "seeds" / "extra"
    folder.mkdir()
    (folder / "partner_points.csv").write_text("partner,points\nacme,5\nbeta,high\n")
    (folder / "draft.csv").write_text("anything\n")

    def configure(config: dict) -> None:
        config["seeds"]["leadscore"]["extra"] = {
            "+column_types": {"partner": "varchar"},
            "partner_points": {"+column_types": {"points": "integer"}},
            "draft": {"+enabled": False},
        }

    edit_project(project, configure)
    assert problems_of(project) == [
        "seeds/extra/partner_points.csv line 3, column points: 'high' is not an integer"
    ]


def test_unsupported_declared_type(project: Path) -> None:
    edit_project(
        project, lambda c: c["seeds"]["leadscore"]["fx_rates"]["+column_types"].update(currency="geometry")
    )
    assert problems_of(project) == [
        "seeds/fx_rates.csv: column currency: declared type 'geometry' cannot be checked"
    ]


@pytest.mark.parametrize(
    ("declared", "valid", "invalid"),
    [
        ("integer", ["0", "-12", " 7 ", "2147483647"], ["10.5", "1e3", "0x10", "1_000", "2147483648", "ten"]),
        ("bigint", ["9223372036854775807"], ["9223372036854775808"]),
        (
            "decimal(10,4)",
            ["1", "-0.5", ".5", "5.", "123456.1234", "1.50000"],
            ["1,5", "NaN", "1e-2", "0.00001"],
        ),
        ("decimal(18,8)", ["1.12345678"], ["1.123456789"]),
        ("DECIMAL", ["123.456"], ["1.2345"]),  # DuckDB's DECIMAL is DECIMAL(18,3)
        ("double", ["1e-3", "-2.5"], ["abc"]),
        ("boolean", ["true", "F", "0"], ["maybe"]),
        ("date", ["2024-02-29"], ["2023-02-29", "01/02/2024"]),
        ("timestamp", ["2024-01-01 10:00:00", "2024-01-01T10:00"], ["yesterday"]),
        ("varchar", ["anything, at all"], []),
        ("varchar(10)", ["longer than ten characters"], []),
    ],
)
def test_column_checkers(declared: str, valid: list[str], invalid: list[str]) -> None:
    checker = column_checker(declared)
    assert checker is not None
    assert [v for v in valid if checker(v)] == []
    assert [v for v in invalid if not checker(v)] == []


def test_invalid_event_rule_pattern_names_the_row(project: Path) -> None:
    append_rows(
        project,
        "engagement_event_points",
        "pricing_page,page_view,url,pricing,1,evaluation,5,25,30,Pricing pages\n"
        "careers_page,page_view,url,(careers,2,none,-2,-6,30,An unclosed group\n",
    )
    [problem] = problems_of(project)
    assert problem.startswith(
        "seeds/engagement_event_points.csv line 17, column match_values: '(careers' is not a valid regular"
        " expression ("
    ), problem


def test_event_rule_without_pattern_is_not_checked(project: Path) -> None:
    # A rule without a property has no pattern; a pattern Python and DuckDB both compile passes.
    append_rows(
        project,
        "engagement_event_points",
        "careers_page,page_view,url,^/careers(/|$),2,none,-2,-6,30,Careers\n",
    )
    check_seeds(project)
