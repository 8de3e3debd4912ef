"""The DAG meets the bar of dbt-project-evaluator's rules: documentation and test coverage, primary keys,
sources only in staging, naming and folder conventions, no hard-coded relations.

Reads dbt's own artifacts (manifest.json, catalog.json) from a real build of a copy of the project.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import Project, copy_project
from golden_data import AS_OF, write_export

PRIMARY_KEY_TESTS = {"unique", "unique_combination_of_columns"}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    root = tmp_path_factory.mktemp("conventions")
    project = Project(dir=copy_project(root / "project"), warehouse=root / "warehouse" / "leadscore.duckdb")
    bin_dir = Path(sys.executable).parent
    env = project.env()
    for args in (
        [str(bin_dir / "leadscore"), "load", str(write_export(root / "export"))],
        [str(bin_dir / "leadscore"), "build", "--as-of", AS_OF],
        # The catalog of every model, intermediate ones included: the pipeline database's (docs/serving.md).
        [str(bin_dir / "leadscore"), "docs", "--out", str(project.dir / "target" / "docs")],
    ):
        subprocess.run(args, env=env, cwd=project.dir, check=True, capture_output=True, text=True)
    target = project.dir / "target" / "docs"
    return json.loads((target / "manifest.json").read_text()), json.loads(
        (target / "catalog.json").read_text()
    )


def models(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]


def test_every_model_and_column_is_documented(artifacts):
    manifest, catalog = artifacts
    undocumented = []
    for model in models(manifest):
        if not model["description"].strip():
            undocumented.append(model["name"])
        built_columns = catalog["nodes"][model["unique_id"]]["columns"]
        for column in built_columns:
            documented = model["columns"].get(column.lower())
            if not documented or not documented["description"].strip():
                undocumented.append(f"{model['name']}.{column}")
    assert undocumented == []


def test_every_seed_and_seed_column_is_documented(artifacts):
    manifest, catalog = artifacts
    missing = []
    for seed in (n for n in manifest["nodes"].values() if n["resource_type"] == "seed"):
        if not seed["description"].strip():
            missing.append(seed["name"])
        for column in catalog["nodes"][seed["unique_id"]]["columns"]:
            if not seed["columns"].get(column.lower(), {}).get("description", "").strip():
                missing.append(f"{seed['name']}.{column}")
    assert missing == []


def test_every_model_has_a_primary_key_test(artifacts):
    manifest, _ = artifacts
    tested = set()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") in PRIMARY_KEY_TESTS:
            tested.update(
                node.get("attached_node") and [node["attached_node"]] or node["depends_on"]["nodes"]
            )
    assert [m["name"] for m in models(manifest) if m["unique_id"] not in tested] == []


def test_only_staging_models_read_sources_and_names_follow_folders(artifacts):
    manifest, _ = artifacts
    problems = []
    for model in models(manifest):
        folder = Path(model["original_file_path"]).parts[1]
        reads_source = any(dep.startswith("source.") for dep in model["depends_on"]["nodes"])
        if reads_source and folder != "staging":
            problems.append(f"{model['name']} reads a source outside staging")
        if folder == "staging":
            source_name = Path(model["original_file_path"]).parts[2]
            if not re.fullmatch(rf"stg_{source_name}__[a-z_]+s", model["name"]):
                problems.append(f"{model['name']} is not stg_{source_name}__<entity>s")
            if any(dep.startswith("model.") for dep in model["depends_on"]["nodes"]):
                problems.append(f"{model['name']} (staging) depends on another model")
        elif folder == "intermediate" and not model["name"].startswith("int_"):
            problems.append(f"{model['name']} is intermediate but not int_*")
        elif folder == "marts":
            if model["name"].startswith(("stg_", "int_")):
                problems.append(f"{model['name']} is a mart with a layer prefix")
            # incremental: a table the patching refresh updates in place (lead_scores, lead_score_breakdown)
            is_table = model["config"]["materialized"] in ("table", "incremental")
            if not is_table or not model["config"]["contract"]["enforced"]:
                problems.append(f"{model['name']} is a mart that is not a table with an enforced contract")
    assert problems == []


def test_no_hard_coded_relations(artifacts):
    manifest, _ = artifacts
    # (not after "distinct": `a is not distinct from b.c` compares columns)
    pattern = re.compile(r"(?<!distinct\s)\b(from|join)\s+(?!\{\{)[a-z_]+\.[a-z_]+", re.IGNORECASE)
    offenders = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] in {"model", "test"} and pattern.search(node.get("raw_code", "") or "")
    ]
    assert offenders == []


def test_every_model_is_documented_in_its_folders_models_yml(artifacts):
    manifest, _ = artifacts
    misplaced = []
    for model in models(manifest):
        folder = Path(model["original_file_path"]).parent
        expected = f"leadscore://{folder / f'_{folder.name}__models.yml'}"
        if model["patch_path"] != expected:
            misplaced.append(f"{model['name']}: {model['patch_path']} (expected {expected})")
    assert misplaced == []


MACRO_SIGNATURE = re.compile(r"\{%-?\s*macro\s+\w+\s*\(([^)]*)\)")


def test_every_macro_and_argument_is_documented_in_its_topics_yml(artifacts):
    """macros/<topic>/ holds one macro per file and _<topic>__macros.yml describes every macro of the folder
    (dispatched implementations included) and each of its arguments, in the order of its signature."""
    manifest, _ = artifacts
    problems = []
    for macro in manifest["macros"].values():
        path = Path(macro["original_file_path"])
        if macro["package_name"] != "leadscore" or path.parts[0] != "macros":
            continue
        if len(path.parts) != 3:
            problems.append(f"{path} is not in a topic folder macros/<topic>/")
            continue
        topic = path.parts[1]
        if macro["patch_path"] != f"leadscore://macros/{topic}/_{topic}__macros.yml":
            problems.append(f"{macro['name']} is not documented in macros/{topic}/_{topic}__macros.yml")
        if not macro["description"].strip():
            problems.append(f"{macro['name']} has no description")
        signature = MACRO_SIGNATURE.search(macro["macro_sql"])
        assert signature, macro["name"]
        arguments = [part.split("=")[0].strip() for part in signature.group(1).split(",") if part.strip()]
        documented = [argument["name"] for argument in macro["arguments"]]
        if documented != arguments:
            problems.append(
                f"{macro['name']} documents arguments {documented}, its signature has {arguments}"
            )
        problems += [
            f"{macro['name']}.{argument['name']} has no description"
            for argument in macro["arguments"]
            if not (argument.get("description") or "").strip()
        ]
    assert problems == []


PACKAGE = Path(__file__).resolve().parents[2] / "orchestration"
# The modules every concern shares stay at the top of the package; everything else lives in a sub-package
# named after its concern (docs/python-package.md).
SHARED_MODULES = {"__init__.py", "settings.py", "warehouse.py", "progress.py"}
LONGEST_FUNCTION = 80


def python_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_python_modules_live_in_a_package_by_concern():
    loose = sorted(p.name for p in PACKAGE.glob("*.py") if p.name not in SHARED_MODULES)
    assert not loose, f"modules at the top of orchestration/ outside any concern's sub-package: {loose}"
    for package in (p for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = package / "__init__.py"
        assert init.exists() and ast.get_docstring(ast.parse(init.read_text())), (
            f"{package.name}/__init__.py must say what the sub-package is for"
        )


def test_only_the_warehouse_module_opens_duckdb():
    """Every DuckDB connection is opened by orchestration/warehouse.py (read-only, writer or scratch)."""
    opening = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in python_modules()
        if path.name != "warehouse.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "duckdb.connect"
    ]
    assert not opening, f"duckdb.connect outside orchestration/warehouse.py: {opening}"


def test_no_function_is_longer_than_a_screen():
    too_long = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in python_modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]
    assert not too_long, f"functions over {LONGEST_FUNCTION} lines: {too_long}"
