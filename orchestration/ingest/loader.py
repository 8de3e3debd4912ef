"""Load the raw layer: the leads, events and orders files of a folder into schema `raw` of the warehouse.

Every source column is stored as VARCHAR: typing, parsing and business checks happen later in dbt, where a bad
value becomes a reject that points back at its file and line through the lineage columns `_source_file`,
`_source_line` and `_loaded_at`. The loader itself only refuses files it cannot read as a table: a missing or
ambiguous file, a malformed CSV (wrong number of fields, bad quoting, invalid UTF-8, mixed line endings), a
header without a contract column or with a duplicated name, an empty file, an unreadable Parquet file.

The load is atomic: the three files are first read into staging tables `raw._loading_<table>`; only when all
three are valid are the live tables replaced, in one transaction (DROP + RENAME, no data copy). An append
load (`leadscore load --append`) stages the files present the same way, then inserts their rows into the live
tables in one transaction.

CSV files are read by DuckDB with a fixed dialect (comma, double quote, doubled-quote escape, header on
line 1, no sniffing) and `store_rejects`, so a 50M-row file loads at DuckDB speed. DuckDB behaviours this
module relies on or works around (DuckDB 1.5):

* `auto_detect=false` needs explicit `columns`: the header is parsed here, so its names are exact and the
  sniffer can never mis-detect a delimiter, a quote or a comment character and drop or merge columns.
* `reject_errors.line` counts *logical* lines: blank lines count, but the line breaks inside a quoted
  multi-line field do not. `reject_errors.byte_position` points at the faulty character, not at the row
  start (and can be past the newline of a short row), so neither is a physical line number on its own.
* DuckDB gives no line number for the rows it accepts, and silently skips blank lines of a multi-column file.
* A file mixing line endings (LF and CRLF) raises "state machine reached an invalid state" with no line
  number, and passing `new_line='\\r\\n'` silently returns no rows: `new_line` is left to DuckDB.
* An empty file (0 bytes) reads as an empty table without error: it is checked here.
* Empty and quoted-empty (`""`) CSV fields are read as NULL.

Physical line numbers therefore come from a quote-aware scan of the file's lines done here (about a quarter
of a second per million lines): header = line 1, and each row's `_source_line` is the line its record starts
on (for a record with a quoted multi-line field: the line where the record starts).
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orchestration.progress import report
from orchestration.settings import (
    LINEAGE_COLUMNS,
    LOAD_LOG_TABLE,
    RAW_CONTRACT,
    RAW_SCHEMA,
    RAW_TABLES,
    STAGING_PREFIX,
)
from orchestration.warehouse import connect_scratch, first_line, quote_ident, quote_literal

SOURCE_FORMATS: tuple[str, ...] = ("csv", "parquet")
MAX_REPORTED_PROBLEMS = 5
_REJECTS_LIMIT = 1000
_CHUNK_BYTES = 1 << 24
_MAX_HEADER_BYTES = 1 << 20
# The longest CSV line (record) read: real exports carry JSON properties of several MB (DuckDB's own default
# is 2 MiB). A longer line is refused, naming its line and this limit.
MAX_LINE_BYTES = 64 << 20
_BOM = b"\xef\xbb\xbf"
_QUOTE = 34  # ord('"')
_COMMA = 44  # ord(',')
_ORDINAL = "__leadscore_ordinal"
_SHIFTS_VIEW = "__leadscore_line_shifts"
_RESERVED = {*LINEAGE_COLUMNS, _ORDINAL}

# DuckDB reject error types, in words an analyst understands.
_REJECT_WORDS = {
    "TOO MANY COLUMNS": "too many fields",
    "MISSING COLUMNS": "too few fields",
    "UNQUOTED VALUE": "unterminated or misplaced quote",
    "INVALID ENCODING": "invalid UTF-8",
    "LINE SIZE OVER MAXIMUM": f"line longer than {MAX_LINE_BYTES >> 20} MiB, the longest line read",
}


class RawLoadError(Exception):
    """A raw source file is missing, ambiguous or malformed; the message names the file, line and column."""


@dataclass(frozen=True)
class SourceFile:
    """The file that feeds one raw table."""

    table: str
    path: Path

    @property
    def name(self) -> str:
        """The file name, as stored in `_source_file`."""
        return self.path.name

    @property
    def fmt(self) -> str:
        """`csv` or `parquet`."""
        return self.path.suffix.lstrip(".")


@dataclass(frozen=True)
class CsvHeader:
    """The parsed header of a CSV file."""

    columns: tuple[str, ...]
    newline: bytes  # the header's line terminator: b"\n", b"\r\n" or b"\r"


@dataclass
class LineMap:
    """Physical line numbers of a CSV file, as sparse step functions.

    `record_from`/`record_extra` give, for data record n (1-based, in file order, blank lines skipped), the
    number of extra lines before it: its physical line is n + 1 + extra. `logical_from`/`logical_extra` do
    the same for DuckDB's logical line numbers (blank lines counted, line breaks inside quoted fields not):
    physical = logical + extra. Each pair of arrays lists the points where `extra` changes.
    """

    records: int = 0
    record_from: array = field(default_factory=lambda: array("q"))
    record_extra: array = field(default_factory=lambda: array("q"))
    logical_from: array = field(default_factory=lambda: array("q"))
    logical_extra: array = field(default_factory=lambda: array("q"))

    def physical_line(self, logical_line: int) -> int:
        """Physical line of DuckDB's logical line number."""
        return logical_line + _step(self.logical_from, self.logical_extra, logical_line)


def _step(starts: array, values: array, key: int) -> int:
    """Value of a step function given as sorted start points (0 before the first one)."""
    i = bisect.bisect_right(starts, key)
    return values[i - 1] if i else 0


# ----------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------


def load_raw(
    source_dir: Path,
    warehouse_path: Path,
    loaded_at: datetime | None = None,
    append: bool = False,
    allow_shrink: bool = False,
) -> dict[str, int]:
    """Load leads, events, orders from source_dir into schema `raw` of the DuckDB file; return row counts.

    All files are read and validated into staging tables first; only if all are valid does one transaction
    change the live raw tables, so a failed load leaves the previous raw layer exactly as it was. A full load
    (the default) needs all three files and replaces the three tables; a file with no rows is refused unless
    allow_shrink (an empty export would silently empty its table). With append=True, the files present
    (one to three of them) add their rows to the existing tables, stamped with this load's time: that is how
    new data arrives between builds (the next build validates and scores only what is new); an empty append
    file adds nothing and is accepted. Every load is recorded in `raw.load_log`, with allow_shrink: the build
    refuses to publish a raw table much smaller than the published one unless a load since allowed it.
    """
    sources = find_source_files(Path(source_dir), require_all=not append)
    stamp = _utc_naive(loaded_at)
    warehouse_path = Path(warehouse_path)
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(warehouse_path)
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_SCHEMA)}")
        _drop_staging(con)
        try:
            counts = {table: _stage(con, source, stamp) for table, source in sources.items()}
            if not append and not allow_shrink:
                _refuse_empty(sources, counts)
            log = _LoadRecord(stamp, "append" if append else "full", counts, allow_shrink)
            report("load: " + ("appending to" if append else "replacing") + " the raw tables")
            if append:
                _append_staging(con, sources, stamp, log)
            else:
                _swap_in_staging(con, log)
        finally:
            _drop_staging(con)
    finally:
        con.close()
    return counts


# Every load, in the raw schema (it travels with the raw layer in the pipeline database; never served).
LOAD_LOG = f'"{RAW_SCHEMA}"."{LOAD_LOG_TABLE}"'
_LOAD_LOG_COLUMNS = (
    "loaded_at TIMESTAMP, mode VARCHAR, leads BIGINT, events BIGINT, orders BIGINT, allow_shrink BOOLEAN"
)


@dataclass(frozen=True)
class _LoadRecord:
    """A row of raw.load_log: when, full or append, the rows loaded per table (None: no file), and whether
    the load was allowed to shrink the raw layer."""

    loaded_at: datetime
    mode: str
    counts: dict[str, int]
    allow_shrink: bool

    def insert(self, con: duckdb.DuckDBPyConnection) -> None:
        """Log the load (inside the load's transaction: a failed load logs nothing, creates nothing)."""
        con.execute(f"CREATE TABLE IF NOT EXISTS {LOAD_LOG} ({_LOAD_LOG_COLUMNS})")
        con.execute(
            f"INSERT INTO {LOAD_LOG} VALUES (?, ?, ?, ?, ?, ?)",
            [self.loaded_at, self.mode, *(self.counts.get(table) for table in RAW_TABLES), self.allow_shrink],
        )


def _refuse_empty(sources: dict[str, SourceFile], counts: dict[str, int]) -> None:
    """A full load of a file with no rows would empty its raw table (and every score built on it)."""
    for table, count in counts.items():
        if count == 0:
            raise RawLoadError(
                f"{sources[table].name}: no rows (a header only): loading it would empty raw.{table}. "
                "If the export really is empty, load it with `leadscore load --allow-shrink`"
            )


def _connect(warehouse_path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a lock held by another process becomes a RawLoadError naming the file."""
    try:
        # Attach under a fixed catalog name: a file named raw.duckdb would otherwise make the catalog `raw`
        # clash with the schema `raw` ("ambiguous reference").
        con = connect_scratch()
        # Spill beside the warehouse file, where the next writer sweeps what a killed load left (an
        # in-memory database would spill into `.tmp` of the current folder).
        con.execute(f"SET temp_directory = {quote_literal(str(warehouse_path) + '.tmp')}")
        con.execute(f"ATTACH {quote_literal(str(warehouse_path))} AS warehouse")
        con.execute("USE warehouse")
        return con
    except duckdb.Error as exc:
        raise RawLoadError(f"{warehouse_path}: cannot open the warehouse ({first_line(exc)})") from exc


def find_source_files(source_dir: Path, require_all: bool = True) -> dict[str, SourceFile]:
    """The source file of each raw table in source_dir (`<table>.csv` or `<table>.parquet`): every table's
    when require_all, else those present (at least one)."""
    if not source_dir.is_dir():
        raise RawLoadError(f"{source_dir}: source folder not found")
    found: dict[str, SourceFile] = {}
    for table in RAW_TABLES:
        candidates = [source_dir / f"{table}.{fmt}" for fmt in SOURCE_FORMATS]
        present = [path for path in candidates if path.is_file()]
        names = " or ".join(path.name for path in candidates)
        if not present and not require_all:
            continue
        if not present:
            raise RawLoadError(f"{source_dir}: no source file for table {table!r} (expected {names})")
        if len(present) > 1:
            raise RawLoadError(f"{source_dir}: both {names} present for table {table!r}; keep exactly one")
        found[table] = SourceFile(table, present[0])
    if not found:
        expected = ", ".join(f"{table}.csv or {table}.parquet" for table in RAW_TABLES)
        raise RawLoadError(f"{source_dir}: no source file to append (expected one of {expected})")
    return found


def _utc_naive(loaded_at: datetime | None) -> datetime:
    """The load timestamp as a naive UTC datetime (DuckDB TIMESTAMP); naive input is taken as UTC."""
    stamp = loaded_at or datetime.now(UTC)
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC).replace(tzinfo=None)
    return stamp


# ----------------------------------------------------------------------------------------------------
# Staging and swap
# ----------------------------------------------------------------------------------------------------


def _staging_table(table: str) -> str:
    """Qualified name of the staging table of a raw table."""
    return f"{quote_ident(RAW_SCHEMA)}.{quote_ident(STAGING_PREFIX + table)}"


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop staging tables left by this or an interrupted load."""
    for table in RAW_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {_staging_table(table)}")


def _swap_in_staging(con: duckdb.DuckDBPyConnection, log: _LoadRecord) -> None:
    """Replace the three live raw tables by their staging tables, and log the load, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        for table in RAW_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(RAW_SCHEMA)}.{quote_ident(table)}")
            con.execute(f"ALTER TABLE {_staging_table(table)} RENAME TO {quote_ident(table)}")
        log.insert(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _append_staging(
    con: duckdb.DuckDBPyConnection, sources: dict[str, SourceFile], stamp: datetime, log: _LoadRecord
) -> None:
    """Add the staged rows to the live raw tables in one transaction. Each table must exist (a full load
    comes first), the load must be later than every row already there (the builds rely on load times only
    growing), and the file's columns must be ones the table has (a column it lacks is refused, by name)."""
    existing_tables = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_catalog = "
            "current_database()",
            [RAW_SCHEMA],
        ).fetchall()
    }
    _, _, loaded_col = LINEAGE_COLUMNS
    for table, source in sources.items():
        if table not in existing_tables:
            raise RawLoadError(
                f"{source.name}: cannot append to raw.{table}, which does not exist yet: "
                "load a full folder (leads, events and orders) first"
            )
        live = f"{quote_ident(RAW_SCHEMA)}.{quote_ident(table)}"
        columns = {row[0].lower() for row in con.execute(f"DESCRIBE {live}").fetchall()}
        staged = [row[0] for row in con.execute(f"DESCRIBE {_staging_table(table)}").fetchall()]
        unknown = [name for name in staged if name.lower() not in columns]
        if unknown:
            raise RawLoadError(
                f"{source.name} line 1, column {unknown[0]}: not a column of raw.{table}, which this file "
                "appends to (append files carry the columns of the first full load, or fewer)"
            )
        latest = con.execute(f"SELECT max({quote_ident(loaded_col)}) FROM {live}").fetchone()[0]
        if latest is not None and latest >= stamp:
            raise RawLoadError(
                f"{source.name}: load time {stamp} is not after the latest load of raw.{table} ({latest})"
            )
    con.execute("BEGIN TRANSACTION")
    try:
        for table in sources:
            live = f"{quote_ident(RAW_SCHEMA)}.{quote_ident(table)}"
            con.execute(f"INSERT INTO {live} BY NAME SELECT * FROM {_staging_table(table)}")
        log.insert(con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _stage(con: duckdb.DuckDBPyConnection, source: SourceFile, loaded_at: datetime) -> int:
    """Read one source file into its staging table; return its row count."""
    report(f"load: reading and checking {source.name}")
    if source.fmt == "csv":
        _stage_csv(con, source, loaded_at)
    else:
        _stage_parquet(con, source, loaded_at)
    count = con.execute(f"SELECT count(*) FROM {_staging_table(source.table)}").fetchone()[0]
    report(f"load: {source.name}: {count:,} rows read")
    return count


def _lineage_select(source: SourceFile, line_expr: str) -> str:
    """The select-list items of the lineage columns (file name and load time are parameters 1 and 2)."""
    file_col, line_col, loaded_col = LINEAGE_COLUMNS
    return (
        f"CAST($1 AS VARCHAR) AS {quote_ident(file_col)}, "
        f"CAST({line_expr} AS BIGINT) AS {quote_ident(line_col)}, "
        f"CAST($2 AS TIMESTAMP) AS {quote_ident(loaded_col)}"
    )


def check_columns(source: SourceFile, columns: list[str]) -> None:
    """Refuse empty, duplicated (case-insensitive, as in DuckDB) or reserved names; require the contract's."""
    seen: dict[str, int] = {}
    for position, name in enumerate(columns, start=1):
        where = f"{source.name} line 1, column {position}"
        if not name.strip():
            raise RawLoadError(f"{where}: empty column name in the header")
        if name.lower() in seen:
            raise RawLoadError(
                f"{where} ({name!r}): duplicated header name (also column {seen[name.lower()]})"
            )
        if name.lower() in _RESERVED:
            raise RawLoadError(f"{where} ({name!r}): reserved name, added by the loader")
        seen[name.lower()] = position
    for required in RAW_CONTRACT[source.table]:
        if required.lower() not in seen:
            raise RawLoadError(
                f"{source.name} line 1, column {required}: required column missing from the header"
                + _delimiter_hint(columns)
            )


_OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _delimiter_hint(columns: list[str]) -> str:
    """A hint when the header names look joined by another delimiter than the comma."""
    for delimiter, name in _OTHER_DELIMITERS.items():
        joined = [column for column in columns if delimiter in column]
        if joined:
            return (
                f" (the header {joined[0][:80]!r} looks separated by {name}: leadscore reads "
                "comma-separated files; export or save the file as CSV with commas)"
            )
    return ""


# ----------------------------------------------------------------------------------------------------
# Parquet
# ----------------------------------------------------------------------------------------------------


def _stage_parquet(con: duckdb.DuckDBPyConnection, source: SourceFile, loaded_at: datetime) -> None:
    """Stage a Parquet file: columns cast to VARCHAR ('' -> NULL as in CSV), line = 1-based row number."""
    columns = _parquet_columns(con, source)
    check_columns(source, columns)
    select = ", ".join(f"NULLIF(CAST({quote_ident(c)} AS VARCHAR), '') AS {quote_ident(c)}" for c in columns)
    sql = (
        f"CREATE TABLE {_staging_table(source.table)} AS SELECT {select}, "
        f"{_lineage_select(source, 'row_number() OVER ()')} "
        f"FROM read_parquet({quote_literal(str(source.path.resolve()))})"
    )
    try:
        con.execute(sql, [source.name, loaded_at])
    except duckdb.Error as exc:
        raise RawLoadError(f"{source.name}: unreadable Parquet file ({first_line(exc)})") from exc


def _parquet_columns(con: duckdb.DuckDBPyConnection, source: SourceFile) -> list[str]:
    """Top-level column names as written in the file (DuckDB would rename duplicates, so read the schema)."""
    try:
        rows = con.execute(
            "SELECT name, num_children FROM parquet_schema(?)", [str(source.path.resolve())]
        ).fetchall()
    except duckdb.Error as exc:
        raise RawLoadError(f"{source.name}: unreadable Parquet file ({first_line(exc)})") from exc
    columns: list[str] = []
    index = 1  # rows[0] is the root; walk its children, skipping their subtrees
    while index < len(rows):
        columns.append(rows[index][0])
        index = _skip_subtree(rows, index)
    return columns


def _skip_subtree(rows: list[tuple[str, int | None]], index: int) -> int:
    """Index of the next sibling of the schema element at `index` (elements are in depth-first order)."""
    pending = 1
    while pending:
        pending += (rows[index][1] or 0) - 1
        index += 1
    return index


# ----------------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------------


def _stage_csv(con: duckdb.DuckDBPyConnection, source: SourceFile, loaded_at: datetime) -> None:
    """Stage a CSV file with DuckDB's reader; fail on any rejected line or on inconsistent line numbering."""
    header = read_csv_header(source)
    check_columns(source, list(header.columns))
    multi_column = len(header.columns) > 1
    lines = scan_lines(source.path, header.newline, multi_column, precise=False)
    _create_csv_staging(con, source, header, lines, loaded_at)
    staged = con.execute(f"SELECT count(*) FROM {_staging_table(source.table)}").fetchone()[0]
    if staged != lines.records:
        # Only a literal quote inside an unquoted field can fool the fast scan: redo it char by char.
        lines = scan_lines(source.path, header.newline, multi_column, precise=True)
        if staged != lines.records:
            raise RawLoadError(
                f"{source.name}: cannot number its lines (DuckDB read {staged} rows, "
                f"the line scan found {lines.records} records)"
            )
        _create_csv_staging(con, source, header, lines, loaded_at)


def _create_csv_staging(
    con: duckdb.DuckDBPyConnection, source: SourceFile, header: CsvHeader, lines: LineMap, loaded_at: datetime
) -> None:
    """(Re)create the staging table of a CSV file; raise RawLoadError naming line and column on any reject."""
    staging = _staging_table(source.table)
    rejects, scans = f"_rejects_{source.table}", f"_reject_scans_{source.table}"
    con.execute(f"DROP TABLE IF EXISTS {staging}")
    con.execute(f"DROP TABLE IF EXISTS temp.{quote_ident(rejects)}")
    con.execute(f"DROP TABLE IF EXISTS temp.{quote_ident(scans)}")
    columns = ", ".join(f"{quote_literal(c)}: 'VARCHAR'" for c in header.columns)
    reader = (
        f"read_csv({quote_literal(str(source.path.resolve()))}, columns={{{columns}}}, header=true, "
        "auto_detect=false, delim=',', quote='\"', escape='\"', strict_mode=true, encoding='utf-8', "
        f"store_rejects=true, rejects_table={quote_literal(rejects)}, rejects_scan={quote_literal(scans)}, "
        f"rejects_limit={_REJECTS_LIMIT}, max_line_size={MAX_LINE_BYTES}, buffer_size={MAX_LINE_BYTES})"
    )
    shifts = _line_shift_source(con, lines)
    sql = _csv_staging_sql(source, header, reader, shifts)
    try:
        con.execute(sql, [source.name, loaded_at])
    except duckdb.Error as exc:
        raise _csv_read_error(source, header, exc) from exc
    finally:
        if shifts is not None:
            con.unregister(shifts)
    problems = con.execute(
        f"SELECT line, column_idx, column_name, error_type, error_message FROM temp.{quote_ident(rejects)} "
        "ORDER BY line, column_idx"
    ).fetchall()
    if problems:
        raise RawLoadError(_describe_rejects(source, header, lines, problems))


def _csv_staging_sql(source: SourceFile, header: CsvHeader, reader: str, shifts: str | None) -> str:
    """CREATE TABLE AS for a CSV file; `shifts` is the view of the record line shifts, if any."""
    columns = ", ".join(f"src.{quote_ident(c)}" for c in header.columns)
    numbered = f"(SELECT *, row_number() OVER () AS {_ordinal()} FROM {reader}) AS src"
    if shifts is None:
        return (
            f"CREATE TABLE {_staging_table(source.table)} AS SELECT {columns}, "
            f"{_lineage_select(source, f'src.{_ordinal()} + 1')} FROM {numbered}"
        )
    # The shifts are a step function of the record ordinal: an equi-join marks the records where the shift
    # changes and a running last_value carries it forward (DuckDB's ASOF join was far slower here).
    order = f"src.{_ordinal()}"
    carried = (
        f"last_value(shift.extra IGNORE NULLS) OVER (ORDER BY {order} "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    )
    line = f"{order} + 1 + coalesce({carried}, 0)"
    return (
        f"CREATE TABLE {_staging_table(source.table)} AS SELECT {columns}, {_lineage_select(source, line)} "
        f"FROM {numbered} LEFT JOIN {shifts} AS shift ON {order} = shift.first_record ORDER BY {order}"
    )


def _ordinal() -> str:
    """The quoted name of the temporary record-ordinal column."""
    return quote_ident(_ORDINAL)


def _line_shift_source(con: duckdb.DuckDBPyConnection, lines: LineMap) -> str | None:
    """Register the record line shifts with the connection (numpy views of the scan's arrays: no copy, no
    temporary file a killed load could leave behind); return the view's name (None if no shift)."""
    if not lines.record_from:
        return None
    import numpy as np

    con.register(
        _SHIFTS_VIEW,
        {
            "first_record": np.frombuffer(lines.record_from, dtype=np.int64),
            "extra": np.frombuffer(lines.record_extra, dtype=np.int64),
        },
    )
    return _SHIFTS_VIEW


def _describe_rejects(source: SourceFile, header: CsvHeader, lines: LineMap, problems: list[tuple]) -> str:
    """A message listing the first rejected lines of a CSV file (one problem per line)."""
    by_line: dict[int, str] = {}
    for line, column_idx, column_name, error_type, message in problems:
        if line not in by_line:
            by_line[line] = _describe_reject(
                source, header, lines, line, column_idx, column_name, error_type, message
            )
    shown = list(by_line.values())[:MAX_REPORTED_PROBLEMS]
    more = len(by_line) - len(shown)
    suffix = f"\n  ... and {more} more malformed line(s)" if more > 0 else ""
    if len(problems) >= _REJECTS_LIMIT:
        suffix = f"\n  ... and more malformed lines (only the first {_REJECTS_LIMIT} errors were collected)"
    return f"{source.name} is malformed:\n  " + "\n  ".join(shown) + suffix


def _describe_reject(
    source: SourceFile,
    header: CsvHeader,
    lines: LineMap,
    logical_line: int,
    column_idx: int | None,
    column_name: str | None,
    error_type: str,
    message: str,
) -> str:
    """One rejected line: `<file> line N, column C: <problem> (<DuckDB message>)`."""
    line = lines.physical_line(int(logical_line))
    if column_name:
        column = column_name
    elif column_idx:
        column = f"{column_idx} (after the last header column {header.columns[-1]!r})"
    else:
        column = None  # DuckDB does not say (a line too long)
    problem = _REJECT_WORDS.get(error_type, error_type.lower())
    detail = " ".join(str(message).split())
    where = f"{source.name} line {line}" + (f", column {column}" if column else "")
    return f"{where}: {problem} ({detail})"


def _csv_read_error(source: SourceFile, header: CsvHeader, exc: duckdb.Error) -> RawLoadError:
    """A RawLoadError for a DuckDB failure that is not a per-line reject (so far: mixed line endings)."""
    mixed = find_mixed_line_ending(source.path, header.newline)
    if mixed is not None:
        line, position = mixed
        column = header.columns[position - 1] if position <= len(header.columns) else position
        return RawLoadError(
            f"{source.name} line {line}, column {column}: line ending differs from the header's "
            f"({_newline_name(header.newline)}); use one line ending style in the whole file"
        )
    return RawLoadError(f"{source.name}: cannot be read as CSV ({first_line(exc)})")


def _newline_name(newline: bytes) -> str:
    """LF, CRLF or CR."""
    return {b"\n": "LF", b"\r\n": "CRLF", b"\r": "CR"}[newline]


# ----------------------------------------------------------------------------------------------------
# CSV header
# ----------------------------------------------------------------------------------------------------


def read_csv_header(source: SourceFile) -> CsvHeader:
    """Parse the header record (line 1) of a CSV file: column names and line terminator."""
    with source.path.open("rb") as handle:
        data = handle.read(_MAX_HEADER_BYTES)
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip(b"\r\n"):
        raise RawLoadError(f"{source.name} line 1, column 1: empty file (a header line is required)")
    raw_fields, newline = _split_header(source, data)
    names = [_decode_header_field(source, position, raw) for position, raw in enumerate(raw_fields, start=1)]
    return CsvHeader(tuple(names), newline)


def _split_header(source: SourceFile, data: bytes) -> tuple[list[bytes], bytes]:
    """Split the first CSV record of `data` into raw fields; return them and the record's line terminator."""
    fields: list[bytes] = []
    current = bytearray()
    state = "start"  # start | unquoted | quoted | closed
    index = 0
    while index < len(data):
        char = data[index]
        if state == "quoted":
            if char == _QUOTE and data[index + 1 : index + 2] == b'"':
                current.append(_QUOTE)
                index += 1
            elif char == _QUOTE:
                state = "closed"
            else:
                current.append(char)
        elif char == _COMMA:
            fields.append(bytes(current))
            current, state = bytearray(), "start"
        elif char in b"\r\n":
            fields.append(bytes(current))
            return fields, b"\r\n" if data[index : index + 2] == b"\r\n" else bytes([char])
        elif state == "closed":
            raise RawLoadError(
                f"{source.name} line 1, column {len(fields) + 1}: unexpected character after a closing quote"
            )
        elif char == _QUOTE and state == "start":
            state = "quoted"
        else:
            current.append(char)
            state = "unquoted"
        index += 1
    if state == "quoted":
        raise RawLoadError(
            f"{source.name} line 1, column {len(fields) + 1}: unterminated quote in the header"
        )
    if len(data) >= _MAX_HEADER_BYTES:
        raise RawLoadError(f"{source.name} line 1: header longer than {_MAX_HEADER_BYTES} bytes")
    fields.append(bytes(current))
    return fields, b"\n"


def _decode_header_field(source: SourceFile, position: int, raw: bytes) -> str:
    """A header name decoded as UTF-8, as written."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RawLoadError(
            f"{source.name} line 1, column {position}: invalid UTF-8 in the header name ({exc.reason})"
        ) from exc


# ----------------------------------------------------------------------------------------------------
# CSV line scan
# ----------------------------------------------------------------------------------------------------


def iter_physical_lines(path: Path, newline: bytes) -> Iterator[bytes]:
    """The physical lines of a file split on LF (LF and CRLF files; CRLF lines keep their CR) or on CR."""
    separator = b"\r" if newline == b"\r" else b"\n"
    for chunk in _iter_line_chunks(path, separator):
        yield from chunk


def _iter_line_chunks(path: Path, separator: bytes) -> Iterator[list[bytes]]:
    """The physical lines of a file, a list per chunk of about 16 MiB (last line may lack a terminator)."""
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            lines = (tail + chunk).split(separator)
            tail = lines.pop()
            yield lines
    if tail:
        yield [tail]


def quote_state_after(line: bytes, in_quote: bool) -> bool:
    """Whether a line ends inside a quoted field, given whether it starts inside one."""
    return walk_quotes(line, in_quote)[0]


def walk_quotes(line: bytes, in_quote: bool, stray: int = -1) -> tuple[bool, int, int]:
    """Walk a line with CSV quoting rules.

    Returns (ends inside quotes, index of the first `stray` byte outside quotes or -1, field number there).

    A quote opens a quoted field only at the start of a field; elsewhere outside quotes it is a literal
    character (DuckDB's strict mode accepts `a"b`). Inside quotes, a doubled quote is an escaped quote.
    `stray` is a byte value to look for outside quotes (a carriage return or line feed of the wrong style).
    """
    field_start, field_no = not in_quote, 1
    index, length = 0, len(line)
    while index < length:
        char = line[index]
        if in_quote:
            if char == _QUOTE:
                if index + 1 < length and line[index + 1] == _QUOTE:
                    index += 2
                    continue
                in_quote = False
        elif char == _COMMA:
            field_start, field_no = True, field_no + 1
            index += 1
            continue
        elif char == stray:
            return in_quote, index, field_no
        elif char == _QUOTE and field_start:
            in_quote = True
        field_start = False
        index += 1
    return in_quote, -1, field_no


@dataclass
class _ScanState:
    """Counters of the line scan."""

    physical: int = 0
    logical: int = 0
    record: int = -1  # the header is record 0
    in_quote: bool = False
    record_extra: int = 0
    logical_extra: int = 0


def scan_lines(path: Path, newline: bytes, multi_column: bool, precise: bool) -> LineMap:
    """Number the physical lines of a CSV file the way DuckDB reads its records.

    A record starts on a line that begins outside quotes; a blank line is skipped by DuckDB when the file
    has several columns. The fast mode (`precise=False`) assumes an even number of quotes leaves the quoting
    state unchanged, which only a literal quote inside an unquoted field can break; the caller checks the
    record count against DuckDB's and rescans precisely on a mismatch.
    """
    result, state = LineMap(), _ScanState()
    for lines in _iter_line_chunks(path, b"\r" if newline == b"\r" else b"\n"):
        if not precise and _chunk_is_plain(lines, state, multi_column):
            count = len(lines)
            state.physical += count
            state.logical += count
            state.record += count
            continue
        for line in lines:
            _scan_line(line, state, result, multi_column, precise)
    result.records = max(state.record, 0)
    return result


def _chunk_is_plain(lines: list[bytes], state: _ScanState, multi_column: bool) -> bool:
    """True when every line of the chunk is one whole record and no line shift can start in it."""
    if state.in_quote or state.record < 1:
        return False
    if multi_column and (b"" in lines or b"\r" in lines):
        return False
    return not any(line.count(b'"') & 1 for line in lines)


def _scan_line(line: bytes, state: _ScanState, result: LineMap, multi_column: bool, precise: bool) -> None:
    """Account for one physical line in the scan."""
    state.physical += 1
    if not state.in_quote:
        state.logical += 1
        if state.physical - state.logical != state.logical_extra:
            state.logical_extra = state.physical - state.logical
            result.logical_from.append(state.logical)
            result.logical_extra.append(state.logical_extra)
        if not (multi_column and line in (b"", b"\r")):
            state.record += 1
            extra = state.physical - state.record - 1
            if state.record > 0 and extra != state.record_extra:
                state.record_extra = extra
                result.record_from.append(state.record)
                result.record_extra.append(extra)
        if not precise and not (line.count(b'"') & 1):
            return
    state.in_quote = quote_state_after(line, state.in_quote)


def find_mixed_line_ending(path: Path, newline: bytes) -> tuple[int, int] | None:
    """(line, column) of the first line break outside quotes not in the header's style; None if none."""
    stray = 10 if newline == b"\r" else 13  # LF in a CR file, CR in an LF or CRLF file
    ends_with_newline = _ends_with(path, b"\r" if newline == b"\r" else b"\n")
    in_quote = False
    for number, (line, is_last) in enumerate(_flag_last(iter_physical_lines(path, newline)), start=1):
        crlf_ended = newline == b"\r\n" and line.endswith(b"\r")
        body = line[:-1] if crlf_ended else line
        in_quote, index, field_no = walk_quotes(body, in_quote, stray)
        if index >= 0:
            return number, field_no
        terminated = ends_with_newline or not is_last
        if newline == b"\r\n" and terminated and not in_quote and not crlf_ended:
            return number, field_no
    return None


def _flag_last(items: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Each item with a flag telling whether it is the last one."""
    previous: bytes | None = None
    for item in items:
        if previous is not None:
            yield previous, False
        previous = item
    if previous is not None:
        yield previous, True


def _ends_with(path: Path, suffix: bytes) -> bool:
    """Whether a file's last bytes are `suffix`."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < len(suffix):
            return False
        handle.seek(size - len(suffix))
        return handle.read() == suffix
