"""Bad input the issue found getting through, through the real `leadscore` CLI on real DuckDB files: each case is
refused with a message that says where and what to do, rejected row by row with its reason, or held back from
publishing until explicitly accepted; nothing is silently dropped, coerced or published. docs/bad-input.md
lists what happens to every kind of bad input."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.settings import RAW_CONTRACT

from conftest import CliRunner, Project, Published, pipeline_db
from golden_data import AS_OF, write_export


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def header(table: str, separator: str = ",") -> str:
    return separator.join(RAW_CONTRACT[table]) + "\n"


def edit_file(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new))


def export_with(folder: Path, edit: Callable[[Path], None]) -> Path:
    """The golden export, edited."""
    write_export(folder)
    edit(folder)
    return folder


def only_header(table: str) -> Callable[[Path], None]:
    return lambda folder: (folder / f"{table}.csv").write_text(header(table))


def separated_by(separator: str) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        path = folder / "leads.csv"
        path.write_text(path.read_text().replace(",", separator))

    return edit


def with_long_properties(size: int) -> Callable[[Path], None]:
    """events.csv with one event (line 3) whose JSON properties are `size` bytes long."""

    def edit(folder: Path) -> None:
        value = '"{""blob"": ""' + "x" * size + '""}"'
        with (folder / "events.csv").open("a") as out:
            out.write(f"E99,G1,page_view,2026-11-19T10:00:00Z,{value}\n")

    return edit


TOMORROW = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()

# Refused by the command itself: (export edit or None, command, exit code, fragments of the one-line error).
REFUSALS = {
    "header-only-orders": (
        only_header("orders"),
        ("load", "EXPORT"),
        1,
        ["orders.csv: no rows", "--allow-shrink"],
    ),
    "header-only-leads": (only_header("leads"), ("load", "EXPORT"), 1, ["leads.csv: no rows", "raw.leads"]),
    "semicolon-separated": (
        separated_by(";"),
        ("load", "EXPORT"),
        1,
        ["leads.csv line 1, column lead_id", "separated by semicolons", "comma"],
    ),
    "tab-separated": (
        separated_by("\t"),
        ("load", "EXPORT"),
        1,
        ["leads.csv line 1, column lead_id", "separated by tabs"],
    ),
    "line-over-64-mib": (
        with_long_properties(65 * 1024 * 1024),
        ("load", "EXPORT"),
        1,
        ["events.csv line 19: line longer than 64 MiB"],
    ),
    "top-negative": (None, ("top", "-5"), 2, ["N must be a positive whole number of leads", "'-5'"]),
    "top-zero": (None, ("top", "0"), 2, ["N must be a positive whole number of leads"]),
    "as-of-after-today": (None, ("build", "--as-of", TOMORROW), 1, [f"--as-of {TOMORROW} is after today"]),
}


@pytest.mark.parametrize(("edit", "command", "code", "expected"), REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_with_a_message_a_user_can_act_on(
    tmp_path: Path,
    project: Project,
    leadscore: CliRunner,
    edit: Callable[[Path], None] | None,
    command: tuple[str, ...],
    code: int,
    expected: list[str],
):
    export = export_with(tmp_path / "export", edit) if edit else None
    args = [str(export) if part == "EXPORT" else part for part in command]
    refused = leadscore(*args, check=False)
    assert refused.returncode == code, refused
    assert "Traceback" not in refused.stderr
    for fragment in expected:
        assert fragment in refused.stderr, refused.stderr
    if command[0] == "load":
        assert "nothing loaded" in refused.stderr
        assert not pipeline_db(project.warehouse).exists() or not list(
            duckdb.connect(str(pipeline_db(project.warehouse)), read_only=True)
            .execute("select table_name from duckdb_tables() where schema_name = 'raw'")
            .fetchall()
        ), "a refused first load left raw tables"


ACCEPTED_LOADS = {
    # A real export's properties value of 10 MB loads (DuckDB's own limit is 2 MiB a line).
    "properties-of-10-mb": (with_long_properties(10 * 1024 * 1024), (), {"events": 18}),
    # An export that really is empty is loaded when the user says so.
    "header-only-orders-allowed": (only_header("orders"), ("--allow-shrink",), {"orders": 0}),
}


@pytest.mark.parametrize(("edit", "flags", "counts"), ACCEPTED_LOADS.values(), ids=ACCEPTED_LOADS.keys())
def test_accepted_when_it_is_what_the_user_means(
    tmp_path: Path,
    project: Project,
    leadscore: CliRunner,
    edit: Callable[[Path], None],
    flags: tuple[str, ...],
    counts: dict[str, int],
):
    loaded = leadscore("load", *flags, str(export_with(tmp_path / "export", edit)))
    for table, count in counts.items():
        assert f"{table} {count:,}" in loaded.stdout, loaded.stdout


def test_an_empty_append_adds_nothing_and_is_accepted(tmp_path: Path, leadscore: CliRunner):
    leadscore("load", str(write_export(tmp_path / "export")))
    (tmp_path / "day").mkdir()
    (tmp_path / "day" / "orders.csv").write_text(header("orders"))
    appended = leadscore("load", "--append", str(tmp_path / "day"))
    assert "appended orders 0" in appended.stdout


# ----------------------------------------------------------------------------------------------------------
# Held back from publishing against the last published build, until accepted.
# ----------------------------------------------------------------------------------------------------------


def served_rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_seed_typo_that_orphans_an_event_type_blocks_publishing_until_accepted(
    project: Project, leadscore: CliRunner, golden_published: Published
):
    served = golden_published.warehouse
    before = digest(served)
    seed = project.dir / "seeds" / "engagement_event_points.csv"
    edit_file(seed, "pricing_page_view,", "pricing_pageview,")
    blocked = leadscore("build", "--as-of", AS_OF, check=False)
    assert blocked.returncode == 1
    # The seed, the value and the count (G1's three pricing page views and N1's one).
    assert "seeds/engagement_event_points.csv no longer lists event type 'pricing_page_view' (4 rows)" in (
        blocked.stderr
    ), blocked.stderr
    assert "now rejected as unknown_event_type" in blocked.stderr
    assert "rejected share: raw.events: 7 of 17 rows rejected (41.2%), 17.6% in the last published build" in (
        blocked.stderr
    )
    assert "--accept-rejects" in blocked.stderr and "not published" in blocked.stderr
    assert digest(served) == before

    accepted = leadscore("build", "--as-of", AS_OF, "--accept-rejects")
    assert "rejected rows accepted (--accept-rejects)" in accepted.stdout
    assert served_rows(
        served, "select count(*) from marts.rejected_rows where reject_reason = 'unknown_event_type'"
    ) == [(5,)]


def test_unknown_values_in_new_data_block_publishing_naming_value_and_seed(
    tmp_path: Path, leadscore: CliRunner, golden_published: Published
):
    """Not a seed edit: an appended export whose event types are written another way ('Page View')."""
    day = tmp_path / "day"
    day.mkdir()
    rows = [f"V{i},G1,Page View,2026-11-19T1{i % 10}:00:00Z,{{}}\n" for i in range(6)]
    (day / "events.csv").write_text(header("events") + "".join(rows))
    leadscore("load", "--append", str(day))
    blocked = leadscore("build", "--as-of", AS_OF, check=False)
    assert blocked.returncode == 1
    assert "rejected share: raw.events: 9 of 23 rows rejected (39.1%)" in blocked.stderr, blocked.stderr
    assert "unknown_event_type 7 (was 1): event type 'page view' 6, 'page_veiw' 1, not in " in blocked.stderr
    assert "seeds/engagement_event_points.csv" in blocked.stderr


@pytest.mark.parametrize(
    ("seed", "old", "new"),
    [
        ("engagement_event_points", "\nunsubscribe,unsubscribe,", "\nunsubscribed,unsubscribed,"),
        ("negative_rules", "unsubscribed,event,unsubscribe,", "unsubscribed,event,unsubscribes,"),
    ],
    ids=["referenced-seed-edited", "referencing-seed-edited"],
)
def test_a_broken_reference_between_seeds_names_the_edited_seed(
    project: Project, leadscore: CliRunner, golden_published: Published, seed: str, old: str, new: str
):
    edit_file(project.dir / "seeds" / f"{seed}.csv", old, new)
    failed = leadscore("build", "--as-of", AS_OF, check=False)
    assert failed.returncode == 1
    assert "negative_rules_event_types_known" in failed.stderr
    assert (
        "checks seeds/negative_rules.csv against seeds/engagement_event_points.csv; "
        f"edited since the last published build: seeds/{seed}.csv"
    ) in failed.stderr, failed.stderr


def test_an_export_that_shrank_blocks_publishing_until_loaded_with_allow_shrink(
    tmp_path: Path, leadscore: CliRunner, golden_published: Published
):
    served = golden_published.warehouse
    cut = export_with(
        tmp_path / "cut",
        lambda folder: (folder / "orders.csv").write_text(
            header("orders") + "O1,C1,2025-02-01T10:00:00Z,1200.00,EUR,completed\n"
        ),
    )
    leadscore("load", str(cut))
    blocked = leadscore("build", "--as-of", AS_OF, check=False)
    assert blocked.returncode == 1
    assert (
        "raw row counts: raw.orders: 1 row, 3 rows in the last published build: 67% fewer, more than the 25% "
        "bound (LEADSCORE_MAX_SHRINK)"
    ) in blocked.stderr, blocked.stderr
    assert "leadscore load --allow-shrink" in blocked.stderr
    # The served file keeps the raw row counts of the last published build (it has no raw layer itself).
    published_orders = "select row_count from audit.published_raw_layer where raw_table = 'orders'"
    assert served_rows(served, published_orders) == [(3,)]
    assert served_rows(pipeline_db(served), "select count(*) from raw.orders") == [(1,)]

    leadscore("load", "--allow-shrink", str(cut))
    leadscore("build", "--as-of", AS_OF)
    assert served_rows(served, published_orders) == [(1,)]
    last_load = "select allow_shrink from raw.load_log order by loaded_at desc limit 1"
    assert served_rows(pipeline_db(served), last_load) == [(True,)]


@pytest.mark.parametrize(
    ("setup", "as_of", "expected"),
    [
        (None, "2020-01-01", "the first of the 4 accepted leads was created on 2024-01-01"),
        ("header-only-leads", AS_OF, "raw.leads has no rows (load an export with leads)"),
    ],
    ids=["as-of-before-the-first-lead", "header-only-leads-allowed"],
)
def test_no_leads_to_score_is_said_in_one_line(
    tmp_path: Path,
    leadscore: CliRunner,
    golden_published: Published,
    setup: str | None,
    as_of: str,
    expected: str,
):
    if setup:
        empty = export_with(tmp_path / "empty", lambda f: [only_header(t)(f) for t in RAW_CONTRACT])
        leadscore("load", "--allow-shrink", str(empty))
    before = digest(golden_published.warehouse)
    failed = leadscore("build", "--as-of", as_of, check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"build failed: no leads to score as of {as_of}: {expected}"
        + ("; score as of that date or later" if setup is None else "")
        + "; nothing published"
    ]
    assert digest(golden_published.warehouse) == before


# ----------------------------------------------------------------------------------------------------------
# Rejected row by row instead of coerced; a country name mapped by a documented seed.
# ----------------------------------------------------------------------------------------------------------

COERCION_LEADS = {
    # lead: (column values, expected reject reason or None, expected country_code when accepted)
    "F1": ({"country_code": "France"}, None, "FR"),
    "F2": ({"country_code": " france "}, None, "FR"),
    "F3": ({"country_code": "fr"}, None, "FR"),
    "F4": ({"country_code": "UK"}, None, "GB"),
    "F5": ({"country_code": "Frankreich"}, "unknown_country", None),
    "F6": ({"country_code": "F1"}, "unknown_country", None),
    "F7": ({"employee_count": "12.7"}, "fractional_employee_count", None),
    "F8": ({"employee_count": "12.0"}, None, "FR"),
    "F9": ({"annual_revenue": "1000.005"}, "sub_cent_annual_revenue", None),
}
COERCION_ORDERS = {
    "P1": ("10.005", "sub_cent_amount"),
    "P2": ("10.049999999999999", None),  # a double written as text: the 10.05 it stands for
    "P3": ("10.5", None),
}


def add_coercion_rows(folder: Path) -> None:
    columns = RAW_CONTRACT["leads"]
    base = {
        **dict.fromkeys(columns, ""),
        "email": "x@acme.fr",
        "company_name": "Acme",
        "industry": "technology",
        "employee_count": "300",
        "annual_revenue": "25000000",
        "country_code": "FR",
        "lead_source": "web",
        "created_at": "2025-03-01",
        "lifecycle_stage": "lead",
    }
    with (folder / "leads.csv").open("a") as out:
        for lead_id, (values, _, _) in COERCION_LEADS.items():
            row = {**base, **values, "lead_id": lead_id}
            out.write(",".join(row[c] for c in columns) + "\n")
    with (folder / "orders.csv").open("a") as out:
        for order_id, (amount, _) in COERCION_ORDERS.items():
            out.write(f"{order_id},C1,2025-03-01T10:00:00Z,{amount},EUR,completed\n")


def test_values_not_in_the_contracts_form_are_rejected_not_coerced(
    tmp_path: Path, project: Project, leadscore: CliRunner
):
    leadscore("load", str(export_with(tmp_path / "export", add_coercion_rows)))
    built = leadscore("build", "--as-of", AS_OF)
    assert "published:" in built.stdout
    served = project.warehouse
    rejected = dict(served_rows(served, "select row_id, reject_reason from marts.rejected_rows"))
    scored = dict(served_rows(served, "select lead_id, country_code from marts.lead_scores"))
    for lead_id, (_, reason, country) in COERCION_LEADS.items():
        if reason:
            assert rejected.get(lead_id) == reason, (lead_id, rejected)
            assert lead_id not in scored
        else:
            assert scored.get(lead_id) == country and lead_id not in rejected, (lead_id, scored, rejected)
    amounts = dict(
        served_rows(
            pipeline_db(served),
            "select order_id, amount from intermediate.int_orders_validated where order_id like 'P%'",
        )
    )
    for order_id, (_, reason) in COERCION_ORDERS.items():
        assert rejected.get(order_id) == reason, (order_id, rejected)
    assert float(amounts["P2"]) == 10.05 and float(amounts["P3"]) == 10.5
    # France is in the primary zone: the mapped lead scores its geography points, like FR.
    points = dict(served_rows(served, "select lead_id, geography_points from marts.lead_scores"))
    assert points["F1"] == points["F3"] == points["G1"] == 10
