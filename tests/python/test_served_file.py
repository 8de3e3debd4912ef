"""What BI opens: the served file holds the served relations only (no raw layer, no email unless a setting
turns it on), carries the model and column descriptions as comments, is never opened for writing by
`leadscore docs`, and a reader sees a new build once it has closed every connection (docs/serving.md,
docs/bi.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import yaml

from conftest import CliRunner, Project, Published, pipeline_db
from golden_data import AS_OF

EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
SERVED_SCHEMAS = {"marts", "history", "point_tables", "audit"}
# The one relation of another schema served (publishing.SERVED_RELATIONS): the semantic layer reads it.
SERVED_RELATIONS = {("intermediate", "int_backtest_observations")}


def email_columns(path: Path) -> dict[str, int]:
    """schema.table.column -> rows holding an email-shaped value, over every column of every table of a
    DuckDB file (read-only)."""
    found = {}
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
            " where database_name = current_database() and not internal"
            " and (schema_name, table_name) in"
            " (select (schema_name, table_name) from duckdb_tables() where database_name = current_database())"
        ).fetchall()
        assert columns, f"no columns in {path}"
        for schema, table, column in columns:
            rows = con.execute(
                f'select count(*) from "{schema}"."{table}"'
                f' where regexp_matches(cast("{column}" as varchar), ?)',
                [EMAIL],
            ).fetchone()[0]
            if rows:
                found[f"{schema}.{table}.{column}"] = rows
    return found


def tables(path: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return set(
            con.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            ).fetchall()
        )


def test_the_served_file_holds_no_email_and_no_raw_layer(golden_published: Published):
    served = golden_published.warehouse
    served_tables = tables(served)
    assert {schema for schema, _ in served_tables} - {"intermediate"} == SERVED_SCHEMAS
    assert {table for table in served_tables if table[0] not in SERVED_SCHEMAS} == SERVED_RELATIONS
    assert email_columns(served) == {}
    # The scan does find emails where they are: the raw layer, kept in the pipeline database only.
    in_pipeline = email_columns(pipeline_db(served))
    assert in_pipeline.get("raw.leads.email", 0) > 0, in_pipeline
    # The rejected rows name the file and line of each reject, none of the rejected row's own fields.
    with duckdb.connect(str(served), read_only=True) as con:
        columns = [row[0] for row in con.execute("describe marts.rejected_rows").fetchall()]
    assert columns == [
        "rejected_row_id",
        "source_table",
        "row_id",
        "reject_reason",
        "source_file",
        "source_line",
        "loaded_at",
        "build_id",
    ]


def test_exposed_personal_data_reaches_the_lead_scores_and_what_the_crm_receives_only(
    project: Project, leadscore: CliRunner, golden_published: Published
):
    project_yml = project.dir / "dbt_project.yml"
    project_yml.write_text(
        project_yml.read_text().replace("expose_personal_data: false", "expose_personal_data: true")
    )
    leadscore("build", "--as-of", AS_OF)
    found = email_columns(golden_published.warehouse)
    assert set(found) == {"marts.lead_scores.email", "marts.crm_score_changes.email"}, found


def described_columns(project_dir: Path, model: str) -> dict[str, str]:
    for path in (project_dir / "models").rglob("*.yml"):
        for node in yaml.safe_load(path.read_text()).get("models", []):
            if node["name"] == model:
                return {column["name"]: column["description"].strip() for column in node["columns"]}
    raise AssertionError(f"model {model} not documented")


def test_the_served_tables_carry_the_descriptions_as_comments(project: Project, golden_published: Published):
    with duckdb.connect(str(golden_published.warehouse), read_only=True) as con:
        table_comment = con.execute(
            "select comment from duckdb_tables() where schema_name = 'marts' and table_name = 'lead_scores'"
        ).fetchone()[0]
        comments = dict(
            con.execute(
                "select column_name, comment from duckdb_columns()"
                " where schema_name = 'marts' and table_name = 'lead_scores'"
            ).fetchall()
        )
        uncommented = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name from duckdb_columns()"
            " where database_name = current_database() and schema_name in ('marts', 'history')"
            " and comment is null"
        ).fetchall()
    assert table_comment and table_comment.startswith("The ranked lead-score mart"), table_comment
    described = described_columns(project.dir, "lead_scores")
    assert {name: " ".join(text.split()) for name, text in comments.items()} == {
        name: " ".join(text.split()) for name, text in described.items()
    }
    assert uncommented == []


READER = textwrap.dedent(
    """
    import json, os, sys, time, duckdb
    path, stop_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
    connects, errors = 0, []
    while not os.path.exists(stop_file):
        try:
            with duckdb.connect(path, read_only=True) as con:
                con.execute("select count(*) from marts.lead_scores").fetchone()
            connects += 1
        except Exception as exc:
            errors.append(repr(exc))
        time.sleep(0.05)
    json.dump({"connects": connects, "errors": errors}, open(out, "w"))
    """
)


def test_docs_are_generated_without_opening_the_served_file(
    tmp_path: Path, project: Project, leadscore: CliRunner, golden_published: Published
):
    """A reader connects to the served file again and again, and one stays connected, while `leadscore docs`
    runs: no connect fails, and docs does not fail either."""
    served = golden_published.warehouse
    stop_file, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(served), str(stop_file), str(out)])
    held = duckdb.connect(str(served), read_only=True)
    try:
        time.sleep(0.5)
        docs = leadscore("docs", "--out", str(tmp_path / "site"))
        assert held.execute("select count(*) from marts.lead_scores").fetchone()[0] == 4
        stop_file.touch()
        assert reader.wait(timeout=60) == 0
    finally:
        held.close()
        reader.kill()
    report = json.loads(out.read_text())
    assert report["errors"] == [] and report["connects"] > 10, report
    assert str(tmp_path / "site") in docs.stdout
    catalog = json.loads((tmp_path / "site" / "catalog.json").read_text())
    assert "model.leadscore.lead_scores" in catalog["nodes"]
    assert "model.leadscore.int_leads_validated" in catalog["nodes"]  # documented from the pipeline database
    assert (tmp_path / "site" / "static_index.html").stat().st_size > 0


def test_a_process_sees_a_new_build_only_after_closing_every_connection(
    leadscore: CliRunner, golden_published: Published
):
    """DuckDB shares one open database among a process's connections to the same file: while one is open, a
    new connection after a publish still reads the old build (docs/bi.md)."""
    served = str(golden_published.warehouse)
    query = "select min(build_id) from marts.lead_scores"
    first = duckdb.connect(served, read_only=True)
    try:
        old_build = first.execute(query).fetchone()[0]
        leadscore("build", "--as-of", "2026-11-21")
        second = duckdb.connect(served, read_only=True)
        try:
            assert second.execute(query).fetchone()[0] == old_build, "a new connection saw the new build"
        finally:
            second.close()
    finally:
        first.close()
    with duckdb.connect(served, read_only=True) as fresh:
        new_build = fresh.execute(query).fetchone()[0]
    assert new_build != old_build
