"""Tests of the raw loader: real DuckDB files, small CSV / Parquet fixtures written here."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.loader import RawLoadError, load_raw
from orchestration.settings import LINEAGE_COLUMNS, RAW_CONTRACT

LOADED_AT = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

LEADS_ROWS = [
    [
        "L1",
        "ann@acme.com",
        "Acme, Inc",
        "technology",
        "120",
        "1000000",
        "FR",
        "CEO",
        "web",
        "2024-01-01",
        "lead",
        "",
    ],
    ["L2", "bob@beta.io", "Beta", "retail", "", "", "BE", "CTO", "ads", "2024-01-02", "mql", "2024-03-01"],
    ["L3", "cy@gmail.com", 'Quote "Co"', "other", "abc", "-5", "US", "", "event", "not a date", "lead", ""],
]
EVENTS_ROWS = [
    ["E1", "L1", "page_view", "2024-01-05T10:00:00Z", '{"page": "/pricing"}'],
    ["E2", "L2", "email_open", "2024-01-06T10:00:00Z", ""],
]
ORDERS_ROWS = [
    ["O1", "L1", "2024-02-01", "1200.50", "EUR", "paid"],
    ["O2", "L2", "2024-02-02", "-10", "USD", "refunded"],
]


def csv_text(columns: list[str] | tuple[str, ...], rows: list[list[str]], newline: str = "\n") -> str:
    """CSV text as a spreadsheet would write it (minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def write_sources(folder: Path, fmt: str = "csv", **overrides: str | bytes) -> Path:
    """A source folder with the three tables; `overrides` maps a file name to its raw content."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {"leads": LEADS_ROWS, "events": EVENTS_ROWS, "orders": ORDERS_ROWS}
    for table, rows in data.items():
        name = f"{table}.{fmt}"
        if name in overrides:
            continue
        if fmt == "csv":
            (folder / name).write_text(csv_text(RAW_CONTRACT[table], rows), encoding="utf-8")
        else:
            write_parquet(folder / name, RAW_CONTRACT[table], rows)
    for name, content in overrides.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return folder


def write_parquet(path: Path, columns: tuple[str, ...] | list[str], rows: list[list[str]]) -> None:
    """A Parquet file of VARCHAR columns ('' written as NULL, as a CSV export would load)."""
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t ({', '.join(f'{c} VARCHAR' for c in columns)})")
    con.executemany(
        f"INSERT INTO t VALUES ({', '.join('?' for _ in columns)})", [[v or None for v in r] for r in rows]
    )
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    con.close()


def query(warehouse: Path, sql: str) -> list[tuple]:
    """Run a read-only query against the warehouse file."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def load_error(source: Path, warehouse: Path) -> str:
    """The message of the RawLoadError a load must raise."""
    with pytest.raises(RawLoadError) as caught:
        load_raw(source, warehouse, LOADED_AT)
    return str(caught.value)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse" / "leadscore.duckdb"


# --- happy path -------------------------------------------------------------------------------------------


def test_csv_load_counts_lineage_and_types(tmp_path: Path, warehouse: Path) -> None:
    counts = load_raw(write_sources(tmp_path / "src"), warehouse, LOADED_AT)

    assert counts == {"leads": 3, "events": 2, "orders": 2}
    assert warehouse.exists()  # parent folder created
    types = dict(
        query(warehouse, "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'leads'")
    )
    assert [types[c] for c in RAW_CONTRACT["leads"]] == ["VARCHAR"] * len(RAW_CONTRACT["leads"])
    assert (types["_source_file"], types["_source_line"], types["_loaded_at"]) == (
        "VARCHAR",
        "BIGINT",
        "TIMESTAMP",
    )
    rows = query(
        warehouse, "SELECT lead_id, _source_file, _source_line, _loaded_at FROM raw.leads ORDER BY 3"
    )
    assert rows == [(f"L{i}", "leads.csv", i + 1, datetime(2024, 5, 1, 12, 30)) for i in (1, 2, 3)]


def test_unparseable_values_are_kept_as_text(tmp_path: Path, warehouse: Path) -> None:
    load_raw(write_sources(tmp_path / "src"), warehouse, LOADED_AT)

    assert query(
        warehouse, "SELECT employee_count, annual_revenue, created_at FROM raw.leads WHERE lead_id = 'L3'"
    ) == [("abc", "-5", "not a date")]
    assert query(warehouse, "SELECT amount FROM raw.orders ORDER BY order_id") == [("1200.50",), ("-10",)]


def test_csv_and_parquet_load_the_same_rows(tmp_path: Path) -> None:
    csv_wh, parquet_wh = tmp_path / "csv.duckdb", tmp_path / "parquet.duckdb"
    load_raw(write_sources(tmp_path / "csv"), csv_wh, LOADED_AT)
    load_raw(write_sources(tmp_path / "parquet", fmt="parquet"), parquet_wh, LOADED_AT)

    for table, columns in RAW_CONTRACT.items():
        sql = f"SELECT {', '.join(columns)}, _source_line FROM raw.{table} ORDER BY _source_line"
        from_csv, from_parquet = query(csv_wh, sql), query(parquet_wh, sql)
        assert [r[:-1] for r in from_csv] == [r[:-1] for r in from_parquet]
        assert [r[-1] for r in from_csv] == [r[-1] + 1 for r in from_parquet]  # CSV line 2 = Parquet row 1
    assert query(parquet_wh, "SELECT DISTINCT _source_file FROM raw.orders") == [("orders.parquet",)]


def test_parquet_columns_are_cast_to_varchar(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src", fmt="parquet")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT 'O1' AS order_id, 'L1' AS lead_id, DATE '2024-02-01' AS ordered_at, 12.5::DECIMAL(10,2) AS amount,"
        f" 'EUR' AS currency, '' AS status, 7 AS quantity,"
        f" {{'k': 1, 'v': [2, 3]}} AS meta) TO '{source / 'orders.parquet'}' (FORMAT parquet)"
    )
    con.close()
    load_raw(source, warehouse, LOADED_AT)

    assert query(
        warehouse, "SELECT ordered_at, amount, status, quantity, meta, _source_line FROM raw.orders"
    ) == [("2024-02-01", "12.50", None, "7", "{'k': 1, 'v': [2, 3]}", 1)]
    assert {r[1] for r in query(warehouse, "DESCRIBE raw.orders")} == {"VARCHAR", "BIGINT", "TIMESTAMP"}


def test_extra_columns_kept_and_empty_strings_are_null(tmp_path: Path, warehouse: Path) -> None:
    columns = [*RAW_CONTRACT["orders"], "coupon", "Note"]
    text = ",".join(columns) + '\nO1,L1,2024-02-01,10,EUR,paid,,""\n'  # empty and quoted-empty fields
    load_raw(write_sources(tmp_path / "src", **{"orders.csv": text}), warehouse, LOADED_AT)

    assert query(warehouse, "SELECT coupon, Note, status FROM raw.orders") == [(None, None, "paid")]
    names = [r[0] for r in query(warehouse, "DESCRIBE raw.orders")]
    assert names == [*columns, *LINEAGE_COLUMNS]


def test_extra_unknown_files_are_ignored(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src", **{"notes.txt": "hello", "customers.csv": "a,b\n1"})
    assert load_raw(source, warehouse, LOADED_AT) == {"leads": 3, "events": 2, "orders": 2}


def test_loaded_at_is_utc_and_defaults_to_now(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src")
    paris = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    load_raw(source, warehouse, paris)
    assert query(warehouse, "SELECT DISTINCT _loaded_at FROM raw.events") == [(datetime(2024, 5, 1, 12, 30),)]

    before = datetime.now(UTC).replace(tzinfo=None)
    load_raw(source, warehouse)
    after = datetime.now(UTC).replace(tzinfo=None)
    (stamp,) = query(
        warehouse,
        "SELECT DISTINCT _loaded_at FROM raw.leads UNION SELECT DISTINCT _loaded_at FROM raw.orders",
    )
    assert before <= stamp[0] <= after


def test_reload_replaces_rows_and_leaves_no_staging_table(tmp_path: Path, warehouse: Path) -> None:
    load_raw(write_sources(tmp_path / "one"), warehouse, LOADED_AT)
    two = write_sources(tmp_path / "two", **{"orders.csv": csv_text(RAW_CONTRACT["orders"], ORDERS_ROWS[:1])})
    assert load_raw(two, warehouse, LOADED_AT)["orders"] == 1

    assert query(warehouse, "SELECT count(*) FROM raw.orders") == [(1,)]
    tables = query(warehouse, "SELECT table_name FROM information_schema.tables ORDER BY 1")
    assert tables == [("events",), ("leads",), ("load_log",), ("orders",)]


# --- line numbers -----------------------------------------------------------------------------------------


def test_line_numbers_with_multiline_fields_blank_lines_and_crlf(tmp_path: Path, warehouse: Path) -> None:
    header = ",".join(RAW_CONTRACT["events"])
    text = (
        f"{header}\r\n"  # line 1
        'E1,L1,page_view,2024-01-01,"{""a"":\r\n1}"\r\n'  # lines 2-3
        "\r\n"  # line 4, blank: skipped by DuckDB
        'E2,L1,note,2024-01-02,"three\r\nline\r\nnote"\r\n'  # lines 5-7
        "E3,L2,page_view,2024-01-03,\r\n"  # line 8
        "E4,L2,page_view,2024-01-04,"  # line 9, no final line break
    )
    load_raw(write_sources(tmp_path / "src", **{"events.csv": text}), warehouse, LOADED_AT)

    rows = query(warehouse, "SELECT event_id, properties, _source_line FROM raw.events")
    assert rows == [
        ("E1", '{"a":\r\n1}', 2),
        ("E2", "three\r\nline\r\nnote", 5),
        ("E3", None, 8),
        ("E4", None, 9),
    ]


def test_literal_quote_in_unquoted_field_before_multiline_field(tmp_path: Path, warehouse: Path) -> None:
    # `5"x` is a literal quote (not at a field start); the next field opens a real quoted multi-line value.
    header = ",".join(RAW_CONTRACT["events"])
    text = f'{header}\nE1,L1,5"x,"ab\ncd",p\nE2,L1,t,o,p\n'
    load_raw(write_sources(tmp_path / "src", **{"events.csv": text}), warehouse, LOADED_AT)

    rows = query(warehouse, "SELECT event_id, event_type, occurred_at, _source_line FROM raw.events")
    assert rows == [("E1", '5"x', "ab\ncd", 2), ("E2", "t", "o", 4)]


def test_single_column_blank_line_is_a_null_row(tmp_path: Path, warehouse: Path, monkeypatch) -> None:
    monkeypatch.setitem(RAW_CONTRACT, "orders", ("order_id",))
    source = write_sources(tmp_path / "src", **{"orders.csv": "order_id\nO1\n\nO3\n"})
    load_raw(source, warehouse, LOADED_AT)
    assert query(warehouse, "SELECT order_id, _source_line FROM raw.orders") == [
        ("O1", 2),
        (None, 3),
        ("O3", 4),
    ]


def random_field(rng: random.Random) -> str:
    """A value exercising quoting: commas, quotes, line breaks, empty."""
    return rng.choice(["", "plain", "a,b", 'say "hi"', "two\nlines", "x\r\ny", "\n", "é ü", '""', ",\n,"])


@pytest.mark.parametrize("seed", range(5))
def test_line_numbers_match_python_csv_on_random_files(tmp_path: Path, warehouse: Path, seed: int) -> None:
    rng = random.Random(seed)
    columns = RAW_CONTRACT["events"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for number in range(300):
        writer.writerow([f"E{number}", *(random_field(rng) for _ in columns[1:])])
        if rng.random() < 0.05:
            buffer.write("\n")
    text = buffer.getvalue()
    expected = []  # (event_id, start line) from Python's csv module
    reader = csv.reader(io.StringIO(text, newline=""))
    line_before = 0
    for record in reader:
        if record and record[0] != "event_id":
            expected.append((record[0], line_before + 1))
        line_before = reader.line_num
    load_raw(write_sources(tmp_path / "src", **{"events.csv": text}), warehouse, LOADED_AT)

    assert query(warehouse, "SELECT event_id, _source_line FROM raw.events") == expected


# --- malformed files --------------------------------------------------------------------------------------

LEADS_HEADER = ",".join(RAW_CONTRACT["leads"])
GOOD_LEAD = "L1,a@b.com,Acme,tech,10,5,FR,CEO,web,2024-01-01,lead,"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            f"{LEADS_HEADER}\n{GOOD_LEAD}\n{GOOD_LEAD},extra\n",
            ["line 3", "column 13", "too many fields"],
            id="too-many",
        ),
        pytest.param(
            f"{LEADS_HEADER}\n{GOOD_LEAD}\nL2,b@c.com,Beta\n",
            ["line 3", "column industry", "too few fields"],
            id="too-few",
        ),
        pytest.param(
            f'{LEADS_HEADER}\n{GOOD_LEAD}\nL2,b@c.com,"Beta,x,x,x,x,x,x,x,x,x\n',
            ["line 3", "column company_name", "quote"],
            id="unterminated-quote",
        ),
        pytest.param(
            f'{LEADS_HEADER}\nL2,b@c.com,"Be"ta,x,x,x,x,x,x,x,x,x\n',
            ["line 2", "column company_name", "quote"],
            id="text-after-quote",
        ),
        pytest.param(
            f"{LEADS_HEADER}\n{GOOD_LEAD}\n{GOOD_LEAD}2024-02-01\r\n{GOOD_LEAD}\n",
            ["line 3", "column converted_at", "line ending differs"],
            id="mixed-line-endings",
        ),
        pytest.param(
            f"{LEADS_HEADER.replace('email', 'e_mail')}\n{GOOD_LEAD}\n",
            ["line 1", "column email", "missing"],
            id="missing-column",
        ),
        pytest.param(
            f"{LEADS_HEADER},industry\n{GOOD_LEAD},x\n",
            ["line 1", "column 13", "'industry'", "duplicated"],
            id="duplicated-header",
        ),
        pytest.param(
            f"{LEADS_HEADER},INDUSTRY\n{GOOD_LEAD},x\n",
            ["line 1", "column 13", "duplicated"],
            id="duplicated-header-case",
        ),
        pytest.param(
            f"{LEADS_HEADER},\n{GOOD_LEAD},x\n",
            ["line 1", "column 13", "empty column name"],
            id="empty-header-name",
        ),
        pytest.param(
            f"{LEADS_HEADER},_source_line\n{GOOD_LEAD},x\n",
            ["line 1", "column 13", "reserved"],
            id="reserved-name",
        ),
        pytest.param("", ["line 1", "column 1", "empty file"], id="empty-file"),
        pytest.param(
            f'"lead_id,{LEADS_HEADER}\n', ["line 1", "column 1", "unterminated quote"], id="header-quote"
        ),
    ],
)
def test_malformed_csv_names_file_line_and_column(
    tmp_path: Path, warehouse: Path, content: str, expected: list[str]
) -> None:
    message = load_error(write_sources(tmp_path / "src", **{"leads.csv": content}), warehouse)
    assert "leads.csv" in message
    for part in expected:
        assert part in message, message


def test_invalid_utf8_names_line_and_column(tmp_path: Path, warehouse: Path) -> None:
    content = f"{LEADS_HEADER}\n{GOOD_LEAD}\nL2,b@c.com,Caf\xe9,x,x,x,x,x,x,x,x,x\n".encode("latin-1")
    message = load_error(write_sources(tmp_path / "src", **{"leads.csv": content}), warehouse)
    assert "leads.csv line 3, column company_name: invalid UTF-8" in message


def test_invalid_utf8_in_header(tmp_path: Path, warehouse: Path) -> None:
    content = f"{LEADS_HEADER},soci\xe9t\xe9\n{GOOD_LEAD},x\n".encode("latin-1")
    message = load_error(write_sources(tmp_path / "src", **{"leads.csv": content}), warehouse)
    assert "leads.csv line 1, column 13: invalid UTF-8" in message


def test_error_line_is_physical_after_multiline_fields(tmp_path: Path, warehouse: Path) -> None:
    # DuckDB reports logical line 4 (it does not count the break inside the quoted field); the file's line is 5.
    content = f'{LEADS_HEADER}\n{GOOD_LEAD}\nL2,b@c.com,"Multi\nline",x,x,x,x,x,x,x,x,x\nL3,short\n'
    message = load_error(write_sources(tmp_path / "src", **{"leads.csv": content}), warehouse)
    assert "leads.csv line 5, column company_name: too few fields" in message


def test_several_bad_lines_are_listed(tmp_path: Path, warehouse: Path) -> None:
    content = f"{LEADS_HEADER}\n{GOOD_LEAD}\nbad\n{GOOD_LEAD}\nworse,1\n"
    message = load_error(write_sources(tmp_path / "src", **{"leads.csv": content}), warehouse)
    assert "leads.csv line 3, column email" in message
    assert "leads.csv line 5, column company_name" in message


def test_unreadable_parquet(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src", fmt="parquet", **{"events.parquet": b"PAR1 this is not parquet"})
    message = load_error(source, warehouse)
    assert "events.parquet" in message
    assert "unreadable Parquet file" in message


def test_parquet_missing_column(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src", fmt="parquet")
    write_parquet(
        source / "orders.parquet", [c for c in RAW_CONTRACT["orders"] if c != "amount"], [["O1"] * 5]
    )
    assert "orders.parquet line 1, column amount: required column missing" in load_error(source, warehouse)


def test_parquet_duplicated_column(tmp_path: Path, warehouse: Path) -> None:
    # DuckDB renames duplicates when writing, so write a same-length placeholder and patch the footer.
    source = write_sources(tmp_path / "src", fmt="parquet")
    path = source / "orders.parquet"
    con = duckdb.connect()
    select = ", ".join(f"'x' AS {c}" for c in RAW_CONTRACT["orders"])
    con.execute(f"COPY (SELECT {select}, 'y' AS zzzzzz) TO '{path}' (FORMAT parquet)")
    con.close()
    path.write_bytes(path.read_bytes().replace(b"zzzzzz", b"amount"))
    message = load_error(source, warehouse)
    assert "orders.parquet line 1, column 7 ('amount'): duplicated header name (also column 4)" in message


# --- source folder ----------------------------------------------------------------------------------------


def test_missing_table_file(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src")
    (source / "orders.csv").unlink()
    message = load_error(source, warehouse)
    assert "orders" in message and "orders.csv or orders.parquet" in message
    assert not warehouse.exists()


def test_both_csv_and_parquet_present(tmp_path: Path, warehouse: Path) -> None:
    source = write_sources(tmp_path / "src")
    write_parquet(source / "events.parquet", RAW_CONTRACT["events"], EVENTS_ROWS)
    assert "both events.csv or events.parquet" in load_error(source, warehouse)


# --- atomicity --------------------------------------------------------------------------------------------


def test_failed_load_keeps_previous_raw_tables(tmp_path: Path, warehouse: Path) -> None:
    load_raw(write_sources(tmp_path / "good"), warehouse, LOADED_AT)
    before = {t: query(warehouse, f"SELECT * FROM raw.{t} ORDER BY _source_line") for t in RAW_CONTRACT}
    new_leads = csv_text(RAW_CONTRACT["leads"], [["NEW", *LEADS_ROWS[0][1:]]])
    broken_events = f"{','.join(RAW_CONTRACT['events'])}\nE1,L1,page_view\n"
    bad = write_sources(tmp_path / "bad", **{"leads.csv": new_leads, "events.csv": broken_events})

    message = load_error(bad, warehouse)

    assert "events.csv line 2, column occurred_at: too few fields" in message
    assert {
        t: query(warehouse, f"SELECT * FROM raw.{t} ORDER BY _source_line") for t in RAW_CONTRACT
    } == before
    tables = query(warehouse, "SELECT table_name FROM information_schema.tables ORDER BY 1")
    assert tables == [("events",), ("leads",), ("load_log",), ("orders",)]


def test_failed_first_load_creates_no_raw_table(tmp_path: Path, warehouse: Path) -> None:
    bad = write_sources(tmp_path / "bad", **{"orders.csv": "order_id\nO1\n"})
    assert "orders.csv line 1, column lead_id: required column missing" in load_error(bad, warehouse)
    assert query(warehouse, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'") == [
        (0,)
    ]


def test_unopenable_warehouse_is_a_load_error(tmp_path: Path) -> None:
    not_a_file = tmp_path / "warehouse.duckdb"
    not_a_file.mkdir()
    message = load_error(write_sources(tmp_path / "src"), not_a_file)
    assert "warehouse.duckdb: cannot open the warehouse" in message


def test_a_warehouse_file_named_raw_loads(tmp_path: Path) -> None:
    """The catalog of raw.duckdb is `raw`, like the schema: the loader must not trip over the clash."""
    source = tmp_path / "export"
    source.mkdir()
    (source / "leads.csv").write_text(",".join(RAW_CONTRACT["leads"]) + "\nL1" + "," * 11 + "\n")
    (source / "events.csv").write_text(",".join(RAW_CONTRACT["events"]) + "\n")
    (source / "orders.csv").write_text(",".join(RAW_CONTRACT["orders"]) + "\n")
    warehouse = tmp_path / "raw.duckdb"
    assert load_raw(source, warehouse, allow_shrink=True) == {"leads": 1, "events": 0, "orders": 0}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute('select lead_id from "raw"."raw"."leads"').fetchall() == [("L1",)]
