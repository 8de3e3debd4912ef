"""Check the seed CSVs (the point tables analysts edit) against the column types declared in dbt_project.yml.

dbt-duckdb loads a seed with DuckDB's `COPY ... (FORMAT CSV, HEADER TRUE)`, whose casts are lenient: `10.5`
becomes the integer 11, `0.33333` the decimal(10,4) 0.3333, `1e3` and `0x10` are integers, and a wrong header
is matched by position. A bad edit would load silently or fail with a message that does not say where. This
checker runs before dbt and reports every problem as `<seed file> line N, column C: <problem>`:

* every seed CSV must have `+column_types` declared under `seeds: <project>:` in dbt_project.yml (folder-level
  declarations are inherited and merged, as dbt does), and every configured seed must have its CSV;
* the header must hold exactly the declared columns (names compared as written, as dbt matches them);
* every row must have as many fields as the header;
* values must parse as their declared type, strictly: integers are plain digits within the type's range,
  decimals are plain decimal numbers that fit decimal(p,s) without rounding. Empty values are NULL and
  allowed: the dbt tests check required-ness.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = "dbt_project.yml"
DEFAULT_SEED_PATHS: tuple[str, ...] = ("seeds",)

# dbt configs a seed node can carry in dbt_project.yml without the `+` prefix.
SEED_CONFIG_KEYS = frozenset(
    {
        "alias",
        "column_types",
        "contract",
        "database",
        "delimiter",
        "docs",
        "enabled",
        "event_time",
        "full_refresh",
        "grants",
        "group",
        "meta",
        "persist_docs",
        "post-hook",
        "pre-hook",
        "quote_columns",
        "quoting",
        "schema",
        "tags",
    }
)

Checker = Callable[[str], str | None]  # a stripped non-empty value -> problem text, or None when it is valid


class SeedError(Exception):
    """One or more seed CSVs do not match their declared columns and types; `problems` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the seed files (point tables):"
        super().__init__("\n".join([header, *(f"  {problem}" for problem in self.problems)]))


@dataclass
class SeedNode:
    """A node of the `seeds:` tree of dbt_project.yml (a folder or a seed) with its merged config."""

    parts: tuple[str, ...]
    config: dict[str, Any]
    children: dict[str, SeedNode] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedFile:
    """A seed CSV, where it is configured and what it must contain."""

    path: Path
    label: str  # path relative to the project, for messages
    column_types: dict[str, str]
    delimiter: str


# -----------------------------------------------------------------------------------------------------------
# Entry points
# -----------------------------------------------------------------------------------------------------------


def check_seeds(project_dir: Path) -> None:
    """Raise SeedError listing every problem of the seed CSVs; return quietly if all are valid."""
    problems = find_seed_problems(Path(project_dir))
    if problems:
        raise SeedError(problems)


def find_seed_problems(project_dir: Path) -> list[str]:
    """Every problem found in the seed declarations and seed CSVs of the dbt project."""
    project = _read_project(project_dir)
    seed_dirs = [project_dir / path for path in project.get("seed-paths") or DEFAULT_SEED_PATHS]
    tree = _config_tree(project)
    problems = _unmatched_declarations(tree, seed_dirs)
    for seed_dir in seed_dirs:
        for csv_path in sorted(seed_dir.rglob("*.csv")):
            problems += _check_seed_path(project_dir, seed_dir, csv_path, tree)
    return problems


def _read_project(project_dir: Path) -> dict[str, Any]:
    """The parsed dbt_project.yml."""
    path = project_dir / PROJECT_FILE
    try:
        project = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError([f"{PROJECT_FILE}: cannot be read ({exc})"]) from exc
    if not isinstance(project, dict) or not project.get("name"):
        raise SeedError([f"{PROJECT_FILE}: not a dbt project file (no `name`)"])
    return project


# -----------------------------------------------------------------------------------------------------------
# dbt_project.yml seed configuration
# -----------------------------------------------------------------------------------------------------------


def _is_config_key(key: str) -> bool:
    """Whether a key of the seeds tree is a config (`+column_types`, `schema`...), not a folder or seed."""
    return key.startswith("+") or key in SEED_CONFIG_KEYS


def _merge_config(inherited: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """dbt's config inheritance: a child's value replaces its parent's, column_types are merged key by key."""
    merged = {**inherited, **own}
    if "column_types" in own and isinstance(inherited.get("column_types"), dict):
        merged["column_types"] = {**inherited["column_types"], **(own["column_types"] or {})}
    return merged


def _config_tree(project: dict[str, Any]) -> SeedNode:
    """The `seeds: <project name>:` tree with each node's merged config."""
    seeds = project.get("seeds") or {}
    root = seeds.get(project["name"]) if isinstance(seeds, dict) else None
    return _build_node(root if isinstance(root, dict) else {}, (), {})


def _build_node(raw: dict[str, Any], parts: tuple[str, ...], inherited: dict[str, Any]) -> SeedNode:
    """A SeedNode from its YAML mapping."""
    own = {key.lstrip("+"): value for key, value in raw.items() if _is_config_key(key)}
    node = SeedNode(parts, _merge_config(inherited, own))
    for key, value in raw.items():
        if not _is_config_key(key) and isinstance(value, dict):
            node.children[key] = _build_node(value, (*parts, key), node.config)
    return node


def _find_node(tree: SeedNode, parts: tuple[str, ...]) -> tuple[SeedNode, bool]:
    """The node configuring a seed path (the deepest configured ancestor) and whether it names the seed."""
    node = tree
    for part in parts:
        if part not in node.children:
            return node, False
        node = node.children[part]
    return node, True


def _iter_nodes(node: SeedNode) -> Iterator[SeedNode]:
    """Every node below `node` (not `node` itself), depth first."""
    for child in node.children.values():
        yield child
        yield from _iter_nodes(child)


def _config_path(parts: tuple[str, ...]) -> str:
    """A node's location in dbt_project.yml, for messages."""
    return "seeds: <project>: " + ": ".join(parts)


def _unmatched_declarations(tree: SeedNode, seed_dirs: list[Path]) -> list[str]:
    """Seeds configured in dbt_project.yml that are neither a seed CSV nor a seed folder."""
    problems = []
    for node in _iter_nodes(tree):
        relative = Path(*node.parts)
        exists = any(
            (seed_dir / relative).is_dir() or (seed_dir / relative).with_suffix(".csv").is_file()
            for seed_dir in seed_dirs
        )
        if not exists:
            expected = " or ".join(str(Path(d.name) / relative) + ".csv" for d in seed_dirs)
            problems.append(
                f"{PROJECT_FILE}: {_config_path(node.parts)} is configured but there is no {expected}"
            )
    return problems


def _seed_file(project_dir: Path, seed_dir: Path, csv_path: Path, tree: SeedNode) -> SeedFile | str | None:
    """The SeedFile of a CSV, a problem text if its column types are not declared, None if it is disabled."""
    relative = csv_path.relative_to(seed_dir).with_suffix("")
    label = (
        csv_path.relative_to(project_dir).as_posix()
        if csv_path.is_relative_to(project_dir)
        else str(csv_path)
    )
    node, named = _find_node(tree, relative.parts)
    if node.config.get("enabled") is False:
        return None
    column_types = node.config.get("column_types")
    if not isinstance(column_types, dict) or not column_types:
        where = _config_path(relative.parts)
        hint = "" if named else " (the seed is not configured at all)"
        return f"{label}: no +column_types declared in {PROJECT_FILE} under {where}{hint}"
    types = {str(column): str(declared) for column, declared in column_types.items()}
    return SeedFile(csv_path, label, types, str(node.config.get("delimiter") or ","))


# -----------------------------------------------------------------------------------------------------------
# Seed CSV
# -----------------------------------------------------------------------------------------------------------


def _check_seed_path(project_dir: Path, seed_dir: Path, csv_path: Path, tree: SeedNode) -> list[str]:
    """Problems of one seed CSV, including a missing declaration."""
    seed = _seed_file(project_dir, seed_dir, csv_path, tree)
    if seed is None:
        return []
    if isinstance(seed, str):
        return [seed]
    return check_seed_file(seed)


def check_seed_file(seed: SeedFile) -> list[str]:
    """Problems of a seed CSV against its declared columns and types."""
    checkers: dict[str, Checker] = {}
    problems: list[str] = []
    for column, declared in seed.column_types.items():
        checker = column_checker(declared)
        if checker is None:
            problems.append(f"{seed.label}: column {column}: declared type {declared!r} cannot be checked")
        else:
            checkers[column] = checker
    text = _read_text(seed, problems)
    if text is None:
        return problems
    records = _records(seed, text, problems)
    header = next(records, None)
    if header is None:
        return [*problems, f"{seed.label} line 1: empty file (a header line is required)"]
    problems += _check_header(seed, header[1])
    for line, row in records:
        problems += _check_row(seed, header[1], checkers, line, row)
        problems += _check_pattern(seed, header[1], line, row)
    return problems


def _read_text(seed: SeedFile, problems: list[str]) -> str | None:
    """The CSV as text (UTF-8, BOM dropped); invalid UTF-8 adds a problem naming the line, returns None."""
    data = seed.path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(f"{seed.label} line {line}: invalid UTF-8 ({exc.reason}); save the file as UTF-8")
        return None


def _records(seed: SeedFile, text: str, problems: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(start line, fields) of each non-blank record; a CSV syntax error adds a problem and ends the file."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=seed.delimiter, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(f"{seed.label} line {start}: malformed CSV ({exc})")
            return
        if row:
            yield start, row


def _check_header(seed: SeedFile, header: list[str]) -> list[str]:
    """Header problems: duplicated, unexpected and missing columns."""
    problems = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        column = name or f"{position} (empty name)"
        if name in seen:
            problems.append(f"{seed.label} line 1, column {column}: duplicated column")
        elif name not in seed.column_types:
            declared = ", ".join(seed.column_types)
            problems.append(f"{seed.label} line 1, column {column}: unexpected column (declared: {declared})")
        seen.add(name)
    for name in seed.column_types:
        if name not in seen:
            problems.append(f"{seed.label} line 1, column {name}: declared column missing from the header")
    return problems


def _check_row(
    seed: SeedFile, header: list[str], checkers: dict[str, Checker], line: int, row: list[str]
) -> list[str]:
    """Problems of one data row: its field count, then each declared value against its type."""
    if len(row) != len(header):
        return [_field_count_problem(seed, header, line, row)]
    problems = []
    for name, value in zip(header, row, strict=True):
        checker = checkers.get(name)
        if checker is None or value == "":
            continue
        problem = checker(value)
        if problem:
            problems.append(f"{seed.label} line {line}, column {name}: {value!r} {problem}")
    return problems


# Seeds whose rows may hold a regular expression: seed name -> (kind column, kind value, pattern column). A
# row's pattern column holds one when its kind column has that value, or whenever it is filled (no kind
# column).
PATTERN_COLUMNS: dict[str, tuple[str | None, str | None, str]] = {
    "lead_property_rules": ("match_kind", "pattern", "match_values"),
    "engagement_event_points": (None, None, "match_values"),
}


def _check_pattern(seed: SeedFile, header: list[str], line: int, row: list[str]) -> list[str]:
    """A regular expression that Python or DuckDB (the engine that scores, the default one) cannot compile.
    The rules compile it for every value: a bad one would fail the build without saying which row."""
    columns = PATTERN_COLUMNS.get(seed.path.stem)
    if columns is None or len(row) != len(header):
        return []
    kind_column, kind, pattern_column = columns
    if not {pattern_column, kind_column or pattern_column} <= set(header):
        return []
    values = dict(zip(header, row, strict=True))
    pattern = values[pattern_column]
    if pattern == "" or (kind_column is not None and values[kind_column].strip() != kind):
        return []
    problem = regex_problem(pattern)
    if problem is None:
        return []
    where = f"{seed.label} line {line}, column {pattern_column}"
    return [f"{where}: {pattern!r} is not a valid regular expression ({problem})"]


def regex_problem(pattern: str) -> str | None:
    """Why Python's re or DuckDB's RE2 refuses the pattern, or None when both compile it."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    import duckdb

    try:
        duckdb.sql("select regexp_matches('', $pattern, 'i')", params={"pattern": pattern}).fetchall()
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    return None


def _field_count_problem(seed: SeedFile, header: list[str], line: int, row: list[str]) -> str:
    """The message for a row with too many or too few fields."""
    found = f"{len(row)} fields, the header has {len(header)}"
    if len(row) > len(header):
        column = f"{len(header) + 1} (after the last column {header[-1]})" if header else str(len(header) + 1)
        return f"{seed.label} line {line}, column {column}: too many fields ({found})"
    return f"{seed.label} line {line}, column {header[len(row)]}: too few fields ({found})"


# -----------------------------------------------------------------------------------------------------------
# Declared types
# -----------------------------------------------------------------------------------------------------------

_INTEGER_BITS = {
    "tinyint": (8, True),
    "int1": (8, True),
    "smallint": (16, True),
    "int2": (16, True),
    "short": (16, True),
    "integer": (32, True),
    "int": (32, True),
    "int4": (32, True),
    "int32": (32, True),
    "signed": (32, True),
    "bigint": (64, True),
    "int8": (64, True),
    "int64": (64, True),
    "long": (64, True),
    "hugeint": (128, True),
    "int128": (128, True),
    "utinyint": (8, False),
    "usmallint": (16, False),
    "uinteger": (32, False),
    "ubigint": (64, False),
    "uhugeint": (128, False),
}
_TEXT_TYPES = frozenset({"varchar", "text", "string", "char", "bpchar", "nvarchar"})
_FLOAT_TYPES = frozenset({"double", "float8", "float", "float4", "real"})
_BOOLEAN_TYPES = frozenset({"boolean", "bool", "logical"})
_TIMESTAMP_TYPES = frozenset({"timestamp", "datetime"})

_DECIMAL_TYPE = re.compile(r"(?:decimal|numeric)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")
_SIZED_TEXT = re.compile(r"(?:varchar|char|bpchar|nvarchar|text|string)\s*\(\s*\d+\s*\)")
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def column_checker(declared: str) -> Checker | None:
    """The value checker of a declared column type, or None if the type is not supported."""
    name = " ".join(declared.lower().split())
    if name in _TEXT_TYPES or _SIZED_TEXT.fullmatch(name):
        return _accept
    if name in _INTEGER_BITS:
        bits, signed = _INTEGER_BITS[name]
        return _integer_checker(declared, bits, signed)
    decimal = _DECIMAL_TYPE.fullmatch(name)
    if decimal:
        precision = int(decimal.group(1) or 18)  # DuckDB's DECIMAL is DECIMAL(18,3); DECIMAL(p) has scale 0
        scale = int(decimal.group(2) or (0 if decimal.group(1) else 3))
        return _decimal_checker(declared, precision, scale)
    return _SIMPLE_CHECKERS.get(name)


def _accept(value: str) -> str | None:
    """Any text is a valid varchar."""
    del value
    return None


def _integer_checker(declared: str, bits: int, signed: bool) -> Checker:
    """Plain digits (optional sign, surrounding spaces) within the integer type's range."""
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)

    def check(value: str) -> str | None:
        text = value.strip()
        if not _INTEGER.fullmatch(text):
            return f"is not an {declared}" if declared[0].lower() in "aeiou" else f"is not a {declared}"
        if not low <= int(text) <= high:
            return f"is out of range for {declared} ({low} to {high})"
        return None

    return check


def _decimal_checker(declared: str, precision: int, scale: int) -> Checker:
    """A plain decimal number with at most precision - scale integer digits and no rounding at `scale`."""
    limit = Decimal(10) ** (precision - scale)
    quantum = Decimal(1).scaleb(-scale)

    def check(value: str) -> str | None:
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            return f"is not a {declared}"
        number = Decimal(text)
        if abs(number) >= limit:
            digits = precision - scale
            return f"is out of range for {declared} (at most {digits} digits before the decimal point)"
        if number.quantize(quantum) != number:
            return f"has more than {scale} decimals for {declared} (it would be rounded)"
        return None

    return check


def _check_float(value: str) -> str | None:
    """A decimal or scientific number."""
    return None if _FLOAT.fullmatch(value.strip()) else "is not a number"


def _check_boolean(value: str) -> str | None:
    """true/false, t/f or 1/0 (any case)."""
    return None if value.strip().lower() in {"true", "false", "t", "f", "1", "0"} else "is not a boolean"


def _check_date(value: str) -> str | None:
    """An ISO date, YYYY-MM-DD."""
    text = value.strip()
    try:
        if _DATE.fullmatch(text):
            date.fromisoformat(text)
            return None
    except ValueError:
        pass
    return "is not a date (YYYY-MM-DD)"


def _check_timestamp(value: str) -> str | None:
    """An ISO timestamp, YYYY-MM-DD[ HH:MM[:SS[.ffffff]]]."""
    text = value.strip()
    try:
        if _DATE.match(text):
            datetime.fromisoformat(text)
            return None
    except ValueError:
        pass
    return "is not a timestamp (YYYY-MM-DD HH:MM:SS)"


_SIMPLE_CHECKERS: dict[str, Checker] = {
    **dict.fromkeys(_FLOAT_TYPES, _check_float),
    **dict.fromkeys(_BOOLEAN_TYPES, _check_boolean),
    **dict.fromkeys(_TIMESTAMP_TYPES, _check_timestamp),
    "date": _check_date,
}
