"""Tests for the demo data generator: contract, determinism, realism, hidden model, bad rows.

Everything runs on real DuckDB with small data (a few thousand leads), generated once per module.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.demo_data import (
    BAD_AMOUNT,
    BAD_EMPLOYEE_COUNT,
    BAD_ROW_KINDS,
    BAD_TIMESTAMPS,
    COMPETITOR_DOMAINS,
    EVENT_TYPES,
    FREE_MAIL_DOMAINS,
    UNKNOWN_EVENT_TYPE,
    UNKNOWN_LEAD_ID,
    generate_demo_data,
)
from orchestration.settings import RAW_CONTRACT

END = date(2025, 6, 30)
END_TS = "2025-06-30 23:59:59"
LEADS = 3000
SEED = 7
INDUSTRY_KEYS = {
    "technology",
    "retail",
    "finance",
    "healthcare",
    "manufacturing",
    "education",
    "media",
    "government",
    "consulting",
    "energy",
    "logistics",
    "real estate",
}
LIFECYCLE_STAGES = {"subscriber", "lead", "mql", "sql", "opportunity", "customer"}


def _connect(directory: Path, fmt: str = "parquet") -> duckdb.DuckDBPyConnection:
    """A connection with leads/events/orders views over the files, plus a UTC timestamp parser `ts(text)`."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in RAW_CONTRACT:
        path = directory / f"{table}.{fmt}"
        reader = f"read_parquet('{path}')" if fmt == "parquet" else f"read_csv('{path}', all_varchar = true)"
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM {reader}")
    # every accepted timestamp form (Z, +hh:mm, naive = UTC) parses as TIMESTAMPTZ; back to naive UTC
    con.execute("CREATE MACRO ts(t) AS t::TIMESTAMPTZ::TIMESTAMP")
    con.execute("CREATE MACRO try_ts(t) AS try_cast(t AS TIMESTAMPTZ)::TIMESTAMP")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    """The single value of a query."""
    return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("clean")
    counts = generate_demo_data(out, leads=LEADS, seed=SEED, fmt="parquet", end_date=END)
    return out, counts


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("csv")
    counts = generate_demo_data(out, leads=LEADS, seed=SEED, fmt="csv", end_date=END)
    return out, counts


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("bad")
    counts = generate_demo_data(
        out, leads=LEADS, seed=SEED, fmt="parquet", end_date=END, bad_row_fraction=0.02
    )
    return out, counts


@pytest.fixture(scope="module")
def con(clean_dir: tuple[Path, dict[str, int]]) -> duckdb.DuckDBPyConnection:
    return _connect(clean_dir[0])


# ----------------------------------------------------------------------------------------------- contract


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_columns_are_exactly_the_contract_all_text(fmt, clean_dir, csv_dir):
    directory = clean_dir[0] if fmt == "parquet" else csv_dir[0]
    con = _connect(directory, fmt)
    for table, columns in RAW_CONTRACT.items():
        described = con.execute(f"DESCRIBE {table}").fetchall()
        assert tuple(row[0] for row in described) == columns
        assert {row[1] for row in described} == {"VARCHAR"}


def test_only_the_three_files_are_written(clean_dir):
    assert sorted(p.name for p in clean_dir[0].iterdir()) == [
        "events.parquet",
        "leads.parquet",
        "orders.parquet",
    ]


def test_returned_counts_match_files(con, clean_dir):
    counts = clean_dir[1]
    assert counts["leads"] == LEADS
    for table, n in counts.items():
        assert _one(con, f"SELECT count(*) FROM {table}") == n
    assert counts["events"] > 20 * LEADS  # ~50 events per lead on average


def test_ids_are_unique_well_formed_and_sorted(con):
    for table, prefix, width in (("leads", "L", 7), ("events", "E", 9), ("orders", "O", 7)):
        id_col = RAW_CONTRACT[table][0]
        total, distinct, well_formed = con.execute(
            f"SELECT count(*), count(DISTINCT {id_col}), "
            f"count(*) FILTER (WHERE regexp_full_match({id_col}, '{prefix}[0-9]{{{width}}}')) FROM {table}"
        ).fetchone()
        assert total == distinct == well_formed
        # the file is written in id order
        ids = [row[0] for row in con.execute(f"SELECT {id_col} FROM {table}").fetchall()]
        assert ids == sorted(ids)


def test_references_point_at_existing_leads(con):
    for table in ("events", "orders"):
        assert (
            _one(con, f"SELECT count(*) FROM {table} WHERE lead_id NOT IN (SELECT lead_id FROM leads)") == 0
        )
        assert _one(con, f"SELECT count(*) FROM {table} WHERE lead_id IS NULL") == 0


def test_timestamps_mostly_z_some_offsets_some_naive(con):
    z, offset, naive, other = con.execute(
        """
        SELECT avg(regexp_full_match(t, '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ')::INT),
               avg(regexp_full_match(t, '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d[+-]\\d\\d:\\d\\d')::INT),
               avg(regexp_full_match(t, '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d')::INT),
               count(*) FILTER (WHERE ts(t) IS NULL)
        FROM (SELECT occurred_at AS t FROM events UNION ALL SELECT created_at FROM leads
              UNION ALL SELECT ordered_at FROM orders)
        """
    ).fetchone()
    assert 0.85 < z < 0.95
    assert 0.03 < offset < 0.07
    assert 0.03 < naive < 0.07
    assert other == 0


def test_numbers_are_plain_decimal_text(con):
    assert _one(con, "SELECT count(*) FROM leads WHERE NOT regexp_full_match(employee_count, '[0-9]+')") == 0
    assert _one(con, "SELECT count(*) FROM leads WHERE NOT regexp_full_match(annual_revenue, '[0-9]+')") == 0
    assert (
        _one(con, "SELECT count(*) FROM orders WHERE NOT regexp_full_match(amount, '[0-9]+\\.[0-9]{2}')") == 0
    )


def test_properties_are_json_and_bounces_have_a_type(con):
    assert _one(con, "SELECT count(*) FROM events WHERE NOT json_valid(properties)") == 0
    bounce_types = con.execute(
        "SELECT DISTINCT properties ->> 'bounce_type' FROM events WHERE event_type = 'email_bounce'"
    ).fetchall()
    assert {row[0] for row in bounce_types} == {"hard", "soft"}
    assert _one(con, "SELECT count(*) FROM events WHERE properties ->> 'campaign' IS NOT NULL") > 0


# ------------------------------------------------------------------------------------ determinism / formats


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_arguments_give_byte_identical_files(tmp_path, fmt):
    args = {"leads": 500, "seed": 11, "fmt": fmt, "end_date": END, "bad_row_fraction": 0.05}
    generate_demo_data(tmp_path / "a", **args)
    generate_demo_data(tmp_path / "b", **args)
    generate_demo_data(tmp_path / "c", **{**args, "seed": 12})
    for table in RAW_CONTRACT:
        a, b, c = ((tmp_path / d / f"{table}.{fmt}").read_bytes() for d in "abc")
        assert a == b
        assert a != c


def test_csv_and_parquet_carry_the_same_rows(clean_dir, csv_dir):
    assert clean_dir[1] == csv_dir[1]
    con = duckdb.connect()
    for table in RAW_CONTRACT:
        parquet = f"read_parquet('{clean_dir[0] / f'{table}.parquet'}')"
        csv = f"read_csv('{csv_dir[0] / f'{table}.csv'}', all_varchar = true)"
        for left, right in ((parquet, csv), (csv, parquet)):
            assert _one(con, f"SELECT count(*) FROM (FROM {left} EXCEPT ALL FROM {right})") == 0


def test_end_date_defaults_to_today_utc(tmp_path):
    generate_demo_data(tmp_path, leads=200, seed=1)
    con = _connect(tmp_path)
    latest = _one(con, "SELECT max(ts(occurred_at)) FROM events")
    today = _one(con, "SELECT (now() AT TIME ZONE 'UTC')::DATE")
    assert latest.date() <= today
    assert (today - latest.date()).days < 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "json"}, "fmt"),
        ({"leads": 0}, "leads"),
        ({"bad_row_fraction": -0.1}, "bad_row_fraction"),
        ({"bad_row_fraction": 1.0}, "bad_row_fraction"),
    ],
)
def test_invalid_arguments_are_rejected(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_demo_data(tmp_path, **{"leads": 10, "seed": 1, **kwargs})


# ------------------------------------------------------------------------------------------------- timing


def test_events_fall_within_the_lead_lifetime_and_before_end_date(con):
    before_creation, after_end = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE ts(e.occurred_at) < ts(l.created_at)),
               count(*) FILTER (WHERE ts(e.occurred_at) > TIMESTAMP '{END_TS}')
        FROM events e JOIN leads l USING (lead_id)
        """
    ).fetchone()
    assert before_creation == 0
    assert after_end == 0
    assert _one(con, f"SELECT count(*) FROM leads WHERE ts(created_at) > TIMESTAMP '{END_TS}'") == 0


def test_leads_created_over_two_years_more_recent_more_frequent(con):
    oldest, older_year, recent_year = con.execute(
        f"""
        SELECT min(ts(created_at)),
               count(*) FILTER (WHERE ts(created_at) < TIMESTAMP '{END_TS}' - INTERVAL 365 DAY),
               count(*) FILTER (WHERE ts(created_at) >= TIMESTAMP '{END_TS}' - INTERVAL 365 DAY)
        FROM leads
        """
    ).fetchone()
    assert oldest.date() >= date(2023, 6, 30)
    assert oldest.date() < date(2023, 9, 1)
    assert recent_year > 1.3 * older_year


def test_sessions_bursts_and_quiet_periods(con):
    # gaps between consecutive web events of a lead: mostly minutes (sessions), also days (bursts) and months
    minutes, days, months = con.execute(
        """
        WITH web AS (
            SELECT lead_id, ts(occurred_at) AS t FROM events
            WHERE event_type IN ('page_view', 'pricing_page_view', 'content_download')
        ), gaps AS (
            SELECT date_diff('second', lag(t) OVER (PARTITION BY lead_id ORDER BY t), t) AS gap FROM web
        )
        SELECT avg((gap BETWEEN 60 AND 600)::INT), avg((gap > 86400)::INT), avg((gap > 30 * 86400)::INT)
        FROM gaps WHERE gap IS NOT NULL
        """
    ).fetchone()
    assert minutes > 0.4
    assert days > 0.1
    assert months > 0.01


def test_events_per_lead_average_about_fifty_with_a_long_tail(con):
    mean, median, p99, zero_share = con.execute(
        """
        WITH n AS (SELECT l.lead_id, count(e.event_id) AS n FROM leads l LEFT JOIN events e USING (lead_id)
                   GROUP BY 1)
        SELECT avg(n), median(n), quantile_cont(n, 0.99), avg((n = 0)::INT) FROM n
        """
    ).fetchone()
    assert 35 < mean < 65
    assert median < mean  # right-skewed
    assert p99 > 3 * mean
    assert 0.01 < zero_share < 0.2


def test_email_funnel_and_rare_events(con):
    counts = dict(con.execute("SELECT event_type, count(*) FROM events GROUP BY 1").fetchall())
    assert set(counts) == set(EVENT_TYPES)
    assert counts["email_sent"] > 2 * counts["email_open"] > 0
    assert counts["email_open"] > 2 * counts["email_click"] > 0
    total = sum(counts.values())
    for rare in ("demo_request", "trial_start", "unsubscribe", "email_bounce"):
        assert counts[rare] < 0.01 * total
    assert counts["webinar_attended"] < counts["webinar_registration"]
    assert counts["page_view"] == max(counts.values())


def test_opens_and_clicks_follow_a_send(con):
    # per lead, the first open never precedes the first send, the first click never precedes the first open
    violations = _one(
        con,
        """
        WITH firsts AS (
            SELECT lead_id,
                min(ts(occurred_at)) FILTER (WHERE event_type = 'email_sent') AS sent,
                min(ts(occurred_at)) FILTER (WHERE event_type = 'email_open') AS opened,
                min(ts(occurred_at)) FILTER (WHERE event_type = 'email_click') AS clicked
            FROM events GROUP BY lead_id
        )
        SELECT count(*) FROM firsts WHERE opened < sent OR clicked < opened OR (opened IS NOT NULL AND sent IS NULL)
        """,
    )
    assert violations == 0


# ------------------------------------------------------------------------------------------------ realism


def test_lead_attributes_look_realistic(con):
    rows = con.execute(
        "SELECT industry, country_code, job_title, email, employee_count FROM leads"
    ).fetchall()
    n = len(rows)
    industries = [r[0] for r in rows]
    canonical = sum(i in INDUSTRY_KEYS for i in industries) / n
    assert 0.9 < canonical < 0.98
    assert sum(i is None for i in industries) / n < 0.04
    assert any(
        i is not None and i not in INDUSTRY_KEYS and i.strip().lower() in INDUSTRY_KEYS for i in industries
    )
    top = con.execute("SELECT industry FROM leads GROUP BY 1 ORDER BY count(*) DESC LIMIT 2").fetchall()
    assert {r[0] for r in top} == {"technology", "retail"}

    countries = [r[1] for r in rows]
    assert max(set(countries), key=countries.count) == "FR"
    assert all(re.fullmatch("[A-Za-z]{2}", c) for c in countries)
    assert "fr" in countries

    empty_titles = sum(r[2] is None for r in rows) / n
    assert 0.1 < empty_titles < 0.2

    domains = [r[3].split("@")[1] for r in rows]
    assert all(re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}", r[3]) for r in rows)
    assert 0.08 < sum(d in FREE_MAIL_DOMAINS for d in domains) / n < 0.16
    assert 0 < sum(d in COMPETITOR_DOMAINS for d in domains) / n < 0.03

    sizes = [int(r[4]) for r in rows if r[4] is not None]
    assert min(sizes) >= 1
    assert max(sizes) <= 50000
    assert sum(100 <= s <= 1000 for s in sizes) / len(sizes) > 0.1


def test_revenue_grows_with_company_size(con):
    correlation = _one(
        con,
        "SELECT corr(ln(employee_count::DOUBLE), ln(annual_revenue::DOUBLE)) FROM leads "
        "WHERE employee_count IS NOT NULL AND annual_revenue IS NOT NULL",
    )
    assert correlation > 0.8


# ----------------------------------------------------------------------------------------- conversions


def test_lifecycle_stage_matches_conversion(con):
    stages = {row[0] for row in con.execute("SELECT DISTINCT lifecycle_stage FROM leads").fetchall()}
    assert stages == LIFECYCLE_STAGES
    mismatched = _one(
        con, "SELECT count(*) FROM leads WHERE (lifecycle_stage = 'customer') <> (converted_at IS NOT NULL)"
    )
    assert mismatched == 0
    assert _one(con, f"SELECT count(*) FROM leads WHERE ts(converted_at) > TIMESTAMP '{END_TS}'") == 0
    assert _one(con, "SELECT count(*) FROM leads WHERE ts(converted_at) <= ts(created_at)") == 0


def test_conversion_rate_is_plausible(con):
    rate = _one(con, "SELECT avg((lifecycle_stage = 'customer')::INT) FROM leads")
    assert 0.04 < rate < 0.10


def test_conversion_comes_after_the_decisive_events(con):
    late = _one(
        con,
        """
        SELECT count(*) FROM leads l JOIN events e USING (lead_id)
        WHERE e.event_type IN ('demo_request', 'trial_start') AND ts(e.occurred_at) > ts(l.converted_at)
        """,
    )
    assert late == 0  # no customer has a demo request or trial after converting
    gap_days = _one(
        con,
        """
        SELECT median(date_diff('day', last_demo, ts(converted_at))) FROM leads JOIN (
            SELECT lead_id, max(ts(occurred_at)) AS last_demo FROM events
            WHERE event_type IN ('demo_request', 'trial_start') GROUP BY 1) USING (lead_id)
        WHERE converted_at IS NOT NULL
        """,
    )
    assert 1 <= gap_days <= 10


def test_conversion_correlates_with_behaviour(con):
    with_demo, without_demo = con.execute(
        """
        WITH demo AS (SELECT DISTINCT lead_id FROM events WHERE event_type IN ('demo_request', 'trial_start'))
        SELECT avg((lifecycle_stage = 'customer')::INT) FILTER (WHERE d.lead_id IS NOT NULL),
               avg((lifecycle_stage = 'customer')::INT) FILTER (WHERE d.lead_id IS NULL)
        FROM leads l LEFT JOIN demo d USING (lead_id)
        """
    ).fetchone()
    assert with_demo > 4 * without_demo


def test_conversion_correlates_with_fit(con):
    good, bad = con.execute(
        f"""
        WITH graded AS (
            SELECT lifecycle_stage = 'customer' AS converted,
                CASE WHEN job_title IN ('Student', 'Intern', 'PhD Student')
                       OR split_part(email, '@', 2) IN {tuple(FREE_MAIL_DOMAINS + COMPETITOR_DOMAINS)}
                       OR upper(country_code) NOT IN ('FR', 'BE', 'CH', 'LU', 'DE', 'ES', 'IT', 'NL', 'GB', 'US')
                     THEN 'bad'
                     WHEN trim(lower(industry)) IN ('technology', 'retail', 'finance')
                      AND upper(country_code) IN ('FR', 'BE', 'CH', 'LU')
                     THEN 'good' END AS grade
            FROM leads
        )
        SELECT avg(converted::INT) FILTER (WHERE grade = 'good'), avg(converted::INT) FILTER (WHERE grade = 'bad')
        FROM graded
        """
    ).fetchone()
    assert good > 2.5 * bad


def test_hidden_model_is_not_exposed(clean_dir):
    con = _connect(clean_dir[0])
    names = {row[0] for t in RAW_CONTRACT for row in con.execute(f"DESCRIBE {t}").fetchall()}
    assert not names & {"propensity", "fit", "intent", "behaviour", "engagement"}


# ----------------------------------------------------------------------------------------------- orders


def test_orders_belong_to_customers_after_conversion(con):
    not_customer, before_conversion, after_end = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE l.converted_at IS NULL),
               count(*) FILTER (WHERE ts(o.ordered_at) <= ts(l.converted_at)),
               count(*) FILTER (WHERE ts(o.ordered_at) > TIMESTAMP '{END_TS}')
        FROM orders o JOIN leads l USING (lead_id)
        """
    ).fetchone()
    assert (not_customer, before_conversion, after_end) == (0, 0, 0)
    per_customer = con.execute(
        """
        SELECT min(n), max(n) FROM (
            SELECT l.lead_id, count(o.order_id) AS n FROM leads l LEFT JOIN orders o USING (lead_id)
            WHERE l.lifecycle_stage = 'customer' GROUP BY 1)
        """
    ).fetchone()
    assert per_customer[0] >= 1
    assert per_customer[1] <= 6


def test_order_values_look_realistic(con):
    low, high, refunded, eur, currencies, statuses = con.execute(
        """
        SELECT min(amount::DECIMAL(10, 2)), max(amount::DECIMAL(10, 2)), avg((status = 'refunded')::INT),
               avg((currency = 'EUR')::INT), list(DISTINCT currency), list(DISTINCT status)
        FROM orders
        """
    ).fetchone()
    assert low >= 50
    assert high <= 20000
    assert 0.02 < refunded < 0.15
    assert eur > 0.6
    assert set(currencies) <= {"EUR", "USD", "GBP", "CHF"}
    assert set(statuses) == {"completed", "refunded"}


# -------------------------------------------------------------------------------------------- bad rows


def test_bad_rows_are_added_on_top_of_the_clean_rows(clean_dir, bad_dir):
    clean, bad = clean_dir[1], bad_dir[1]
    con = duckdb.connect()
    for table in RAW_CONTRACT:
        expected_bad = max(len(BAD_ROW_KINDS[table]), round(clean[table] * 0.02))
        assert bad[table] == clean[table] + expected_bad
        clean_file = f"read_parquet('{clean_dir[0] / f'{table}.parquet'}')"
        bad_file = f"read_parquet('{bad_dir[0] / f'{table}.parquet'}')"
        assert _one(con, f"SELECT count(*) FROM {bad_file}") == bad[table]
        # every clean row is still there, unchanged
        assert _one(con, f"SELECT count(*) FROM (FROM {clean_file} EXCEPT ALL FROM {bad_file})") == 0
        # the file stays sorted by id (missing ids last)
        id_col = RAW_CONTRACT[table][0]
        ids = [r[0] for r in con.execute(f"SELECT {id_col} FROM {bad_file}").fetchall()]
        present = [i for i in ids if i is not None]
        assert present == sorted(present)
        assert ids[: len(present)] == present


def test_bad_rows_of_every_kind_are_injected(bad_dir):
    con = _connect(bad_dir[0])
    future = "try_ts(t) > TIMESTAMP '2026-07-01'"
    unparseable = f"t IN {BAD_TIMESTAMPS} AND try_ts(t) IS NULL"

    def count(sql: str) -> int:
        return _one(con, sql)

    # leads
    assert count("SELECT count(*) FROM leads WHERE lead_id IS NULL") > 0
    assert count(f"SELECT count(*) FROM (SELECT created_at AS t FROM leads) WHERE {unparseable}") > 0
    assert count(f"SELECT count(*) FROM (SELECT created_at AS t FROM leads) WHERE {future}") > 0
    assert count("SELECT count(*) - count(DISTINCT lead_id) FROM leads WHERE lead_id IS NOT NULL") > 0
    assert count(f"SELECT count(*) FROM leads WHERE employee_count = '{BAD_EMPLOYEE_COUNT}'") > 0
    # events
    assert count("SELECT count(*) FROM events WHERE lead_id IS NULL") > 0
    assert count(f"SELECT count(*) FROM events WHERE lead_id = '{UNKNOWN_LEAD_ID}'") > 0
    assert count(f"SELECT count(*) FROM events WHERE event_type = '{UNKNOWN_EVENT_TYPE}'") > 0
    assert count(f"SELECT count(*) FROM (SELECT occurred_at AS t FROM events) WHERE {unparseable}") > 0
    assert count(f"SELECT count(*) FROM (SELECT occurred_at AS t FROM events) WHERE {future}") > 0
    assert count("SELECT count(*) - count(DISTINCT event_id) FROM events") > 0
    # orders
    assert count("SELECT count(*) FROM orders WHERE lead_id IS NULL") > 0
    assert count(f"SELECT count(*) FROM orders WHERE lead_id = '{UNKNOWN_LEAD_ID}'") > 0
    assert count(f"SELECT count(*) FROM (SELECT ordered_at AS t FROM orders) WHERE {unparseable}") > 0
    assert count(f"SELECT count(*) FROM (SELECT ordered_at AS t FROM orders) WHERE {future}") > 0
    assert count("SELECT count(*) - count(DISTINCT order_id) FROM orders") > 0
    assert count("SELECT count(*) FROM orders WHERE amount LIKE '-%'") > 0
    assert count(f"SELECT count(*) FROM orders WHERE amount = '{BAD_AMOUNT}'") > 0


def test_duplicate_ids_carry_other_values(bad_dir):
    con = _connect(bad_dir[0])
    for table in RAW_CONTRACT:
        id_col = RAW_CONTRACT[table][0]
        differing = _one(
            con,
            f"SELECT count(*) FROM (SELECT {id_col} FROM {table} WHERE {id_col} IS NOT NULL GROUP BY 1 "
            f"HAVING count(*) > 1 AND count(DISTINCT {table}::VARCHAR) > 1)",
        )
        assert differing > 0


def test_bad_rows_keep_files_well_formed_in_csv(tmp_path):
    generate_demo_data(tmp_path, leads=300, seed=3, fmt="csv", end_date=END, bad_row_fraction=0.1)
    con = _connect(tmp_path, "csv")
    for table, columns in RAW_CONTRACT.items():
        assert tuple(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()) == columns
        assert _one(con, f"SELECT count(*) FROM {table}") > 0
