"""What a change of the point tables does, before it is published: `leadscore impact --base REF`.

The same raw data and as-of date are scored twice, each in its own sandbox (a copy of the project and of the
warehouse, see sandbox.py): once with the seed CSVs of git ref REF (`git show REF:seeds/<file>`), once with
the working tree's. Models, macros and dbt_project.yml are the working tree's on both sides, so the report
measures the seed change only. Compared: tier, MQL status and grade cell of every lead (from/to matrices),
the Spearman rank correlation of the totals, the top movers with the rules that moved them
(marts.lead_score_breakdown), and the backtest metrics of both sides (marts.backtest_summary).

Whether any seed changed is decided by dbt itself: `dbt ls --select state:modified` against the manifest of
the base side (`--only-if-seeds-changed` makes the command a no-op otherwise, for CI).
"""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration.analysis.backtest import METRICS, default_score_dates, read_backtest
from orchestration.analysis.sandbox import (
    Sandbox,
    clone_raw_layer,
    copy_raw_layer,
    create_sandbox,
    load_raw_folder,
    score,
)
from orchestration.build.dbt_invocation import run_dbt
from orchestration.build.publishing import pipeline_path, scratch_dir
from orchestration.settings import Settings
from orchestration.warehouse import LEAD_SCORES, connect_read_only, latest_scoring_version

SEEDS_DIR = "seeds"
LAST_IMPACT_FILE = "last_impact.json"


class ImpactError(Exception):
    """The impact could not be computed; the message says why."""


@dataclass
class ImpactOptions:
    """How to run an impact comparison."""

    base_ref: str
    as_of: date | None = None
    data_dir: Path | None = None
    backtest_dates: int = 4
    backtest_every: int = 30
    window_days: int = 60
    top: int = 10


# --------------------------------------------------------------------------------------------------
# git: the seeds of the base ref
# --------------------------------------------------------------------------------------------------


def _git(project_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=project_dir, capture_output=True, check=False)


def resolve_ref(project_dir: Path, ref: str) -> str:
    """The commit a ref names; ImpactError when it does not resolve (no such ref, shallow clone, no git)."""
    try:
        result = _git(project_dir, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except FileNotFoundError as exc:
        raise ImpactError("git is not installed") from exc
    if result.returncode != 0:
        raise ImpactError(f"git ref {ref!r} does not resolve to a commit in {project_dir}")
    return result.stdout.decode().strip()


def seed_files_at(project_dir: Path, ref: str) -> dict[str, bytes]:
    """The seed CSVs of a git ref: file name -> content (`git show REF:seeds/<file>`)."""
    listing = _git(project_dir, "ls-tree", "--name-only", f"{ref}:{SEEDS_DIR}")
    if listing.returncode != 0:
        raise ImpactError(f"{ref} has no {SEEDS_DIR}/ folder: {listing.stderr.decode().strip()}")
    files: dict[str, bytes] = {}
    for name in listing.stdout.decode().split():
        if name.endswith(".csv"):
            shown = _git(project_dir, "show", f"{ref}:{SEEDS_DIR}/{name}")
            if shown.returncode != 0:
                raise ImpactError(
                    f"git show {ref}:{SEEDS_DIR}/{name} failed: {shown.stderr.decode().strip()}"
                )
            files[name] = shown.stdout
    return files


def prepare_base_seeds(sandbox: Sandbox, base_files: dict[str, bytes]) -> list[str]:
    """Put the base's seed CSVs in the sandbox; return the working tree's seeds the base does not have
    (they stay, so that the working tree's models still find them)."""
    kept = sorted(p.name for p in sandbox.seeds_dir().glob("*.csv") if p.name not in base_files)
    for name, content in base_files.items():
        (sandbox.seeds_dir() / name).write_bytes(content)
    return kept


def modified_seeds(base: Sandbox, head: Sandbox) -> list[str]:
    """The seeds dbt finds modified in head against base's manifest (`dbt ls -s state:modified`)."""
    parsed = run_dbt(base.settings, ["parse"], target_path=base.target_path)
    if not parsed.success:
        raise ImpactError("dbt parse of the base side failed:\n" + parsed.output.strip()[-2000:])
    listed = run_dbt(
        head.settings,
        [
            "ls",
            "--select",
            "state:modified",
            "--resource-type",
            "seed",
            "--state",
            str(base.target_path),
            "--output",
            "name",
            "--quiet",
        ],
        target_path=head.target_path,
    )
    if not listed.success:
        raise ImpactError("dbt ls --select state:modified failed:\n" + listed.output.strip()[-2000:])
    return sorted(line.strip() for line in listed.output.splitlines() if line.strip())


# --------------------------------------------------------------------------------------------------
# Running both sides
# --------------------------------------------------------------------------------------------------


def default_as_of(settings: Settings, data_dir: Path | None) -> date:
    """The served mart's as-of date when scoring the served raw data, else today (UTC)."""
    if data_dir is None and settings.warehouse_path.exists():
        try:
            with connect_read_only(settings.warehouse_path) as con:
                row = con.execute(f"select max(as_of_date) from {LEAD_SCORES}").fetchone()
            if row and row[0]:
                return row[0]
        except duckdb.Error:
            pass
    return datetime.now(UTC).date()


def prepare_sides(
    settings: Settings, options: ImpactOptions, workdir: Path
) -> tuple[Sandbox, Sandbox, list[str]]:
    """Create the base and head sandboxes (files only, no data yet)."""
    resolve_ref(settings.project_dir, options.base_ref)
    base_files = seed_files_at(settings.project_dir, options.base_ref)
    base = create_sandbox(workdir, "base", settings.project_dir)
    kept = prepare_base_seeds(base, base_files)
    head = create_sandbox(workdir, "head", settings.project_dir)
    return base, head, kept


def fill_raw(settings: Settings, options: ImpactOptions, base: Sandbox, head: Sandbox) -> dict[str, int]:
    """The same raw layer in both sandboxes: from --data, else from the pipeline database (read-only)."""
    if options.data_dir is not None:
        counts = load_raw_folder(base, options.data_dir)
    else:
        counts = copy_raw_layer(base, pipeline_path(settings))
    clone_raw_layer(base, head)
    return counts


def run_impact(
    settings: Settings, options: ImpactOptions, only_if_seeds_changed: bool = False
) -> dict[str, Any]:
    """Score both sides and compare them. With only_if_seeds_changed, return {"skipped": reason} when dbt
    finds no modified seed."""
    with scratch_dir(settings, "leadscore-impact") as workdir:
        base, head, kept = prepare_sides(settings, options, workdir)
        changed = modified_seeds(base, head)
        if only_if_seeds_changed and not changed:
            return {"skipped": f"no seed changed against {options.base_ref} (dbt state:modified)"}
        as_of = options.as_of or default_as_of(settings, options.data_dir)
        dates = (
            default_score_dates(as_of, options.window_days, options.backtest_dates, options.backtest_every)
            if options.backtest_dates > 0
            else []
        )
        raw_counts = fill_raw(settings, options, base, head)
        versions = {}
        for side in (base, head):
            versions[side.name] = score(side, as_of, dates, window_days=options.window_days)
        result = compare(base, head, top=options.top)
        result.update(
            {
                "base_ref": options.base_ref,
                "base_commit": resolve_ref(settings.project_dir, options.base_ref),
                "as_of": as_of.isoformat(),
                "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "raw_rows": raw_counts,
                "seeds_changed": changed,
                "seeds_only_in_working_tree": kept,
                "scoring_versions": versions,
                "backtest_dates": [d.isoformat() for d in dates],
                "window_days": options.window_days,
            }
        )
        return result


# --------------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------------


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.execute(sql).df()


def _number(value: Any) -> float | None:  # noqa: ANN401
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def spearman(a: pd.Series, b: pd.Series) -> float | None:
    """Spearman rank correlation (Pearson of average ranks); None when either side is constant."""
    ra, rb = a.rank(method="average"), b.rank(method="average")
    if len(ra) < 2 or ra.std() == 0 or rb.std() == 0:
        return None
    return float(
        ((ra - ra.mean()) * (rb - rb.mean())).sum()
        / math.sqrt(((ra - ra.mean()) ** 2).sum() * ((rb - rb.mean()) ** 2).sum())
    )


def _matrix(frame: pd.DataFrame, before: str, after: str, order: list[str]) -> dict[str, Any]:
    counts = Counter(zip(frame[before], frame[after], strict=True))
    keys = order + sorted({k for pair in counts for k in pair} - set(order))
    return {
        "keys": keys,
        "counts": [[counts.get((f, t), 0) for t in keys] for f in keys],
        "changed": int(sum(c for (f, t), c in counts.items() if f != t)),
    }


def _transitions(frame: pd.DataFrame, before: str, after: str) -> list[dict[str, Any]]:
    counts = Counter((f, t) for f, t in zip(frame[before], frame[after], strict=True) if f != t)
    return [
        {"from": f, "to": t, "leads": n}
        for (f, t), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _tier_order(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute("select tier_key from point_tables.score_tiers order by tier_order").fetchall()
    ]


SCORE_COLUMNS = (
    "lead_id, company_name, cast(score_total as double) as score_total, tier, is_mql, grade_cell, lead_rank"
)
BREAKDOWN_SQL = """
    select lead_id, dimension_key, rule_type, rule_key, cast(score_points as double) as score_points,
        points, is_counted_in_total
    from marts.lead_score_breakdown
"""


def compare(base: Sandbox, head: Sandbox, top: int = 10) -> dict[str, Any]:
    """Compare the two scored sandboxes lead by lead, and their backtests."""
    with base.connect() as bcon, head.connect() as hcon:
        b = _frame(bcon, f"select {SCORE_COLUMNS} from {LEAD_SCORES}")
        h = _frame(hcon, f"select {SCORE_COLUMNS} from {LEAD_SCORES}")
        tiers = _tier_order(hcon) + [t for t in _tier_order(bcon) if t not in _tier_order(hcon)]
        b_breakdown = _frame(bcon, BREAKDOWN_SQL)
        h_breakdown = _frame(hcon, BREAKDOWN_SQL)
        b_version = latest_scoring_version(bcon)
        h_version = latest_scoring_version(hcon)
        b_backtest = read_backtest(bcon, b_version)
        h_backtest = read_backtest(hcon, h_version)
    merged = b.merge(h, on="lead_id", suffixes=("_base", "_head"), how="inner")
    merged["delta"] = merged["score_total_head"] - merged["score_total_base"]
    merged["mql_base"] = merged["is_mql_base"].map({True: "MQL", False: "not MQL"})
    merged["mql_head"] = merged["is_mql_head"].map({True: "MQL", False: "not MQL"})
    grades = [f"{f}{e}" for f in "ABCD" for e in "1234"]
    result: dict[str, Any] = {
        "leads_compared": len(merged),
        "leads_only_base": int(len(b) - len(merged)),
        "leads_only_head": int(len(h) - len(merged)),
        "leads_score_changed": int((merged["delta"].abs() > 1e-9).sum()),
        "mean_score": {
            "base": _number(merged["score_total_base"].mean()),
            "head": _number(merged["score_total_head"].mean()),
        },
        "spearman": spearman(merged["score_total_base"], merged["score_total_head"]),
        "tier": _matrix(merged, "tier_base", "tier_head", tiers),
        "mql": _matrix(merged, "mql_base", "mql_head", ["MQL", "not MQL"]),
        "grade_cell": _matrix(merged, "grade_cell_base", "grade_cell_head", grades),
        "grade_cell_transitions": _transitions(merged, "grade_cell_base", "grade_cell_head"),
        "top_movers": top_movers(merged, b_breakdown, h_breakdown, top),
        "backtest": backtest_comparison(b_backtest, h_backtest),
    }
    return result


def top_movers(
    merged: pd.DataFrame, b_rules: pd.DataFrame, h_rules: pd.DataFrame, top: int
) -> list[dict[str, Any]]:
    """The leads whose total moved most, with the rules whose score points moved (largest first)."""
    moved = merged[merged["delta"].abs() > 1e-9].copy()
    moved["abs_delta"] = moved["delta"].abs()
    moved = moved.sort_values(["abs_delta", "lead_id"], ascending=[False, True]).head(top)
    if moved.empty:
        return []
    keys = ["lead_id", "dimension_key", "rule_type", "rule_key"]
    ids = set(moved["lead_id"])
    rules = b_rules[b_rules["lead_id"].isin(ids)].merge(
        h_rules[h_rules["lead_id"].isin(ids)], on=keys, how="outer", suffixes=("_base", "_head")
    )
    for column in ("score_points_base", "score_points_head", "points_base", "points_head"):
        rules[column] = rules[column].astype(float).fillna(0.0)
    rules["score_delta"] = rules["score_points_head"] - rules["score_points_base"]
    rules["points_delta"] = rules["points_head"] - rules["points_base"]
    movers = []
    for row in moved.itertuples(index=False):
        lead_rules = rules[rules["lead_id"] == row.lead_id]
        changes = []
        for rule in lead_rules.itertuples(index=False):
            counted = rule.rule_type != "engagement_event"
            delta = rule.score_delta if counted else rule.points_delta
            if abs(delta) < 1e-9:
                continue
            changes.append(
                {
                    "dimension": rule.dimension_key,
                    "rule_type": rule.rule_type,
                    "rule": rule.rule_key,
                    "unit": "score points" if counted else "engagement points",
                    "base": round(float(rule.score_points_base if counted else rule.points_base), 4),
                    "head": round(float(rule.score_points_head if counted else rule.points_head), 4),
                    "delta": round(float(delta), 4),
                }
            )
        changes.sort(key=lambda c: (c["unit"] != "score points", -abs(c["delta"]), c["rule"]))
        movers.append(
            {
                "lead_id": row.lead_id,
                "company_name": row.company_name_head,
                "base": {
                    "score": round(float(row.score_total_base), 4),
                    "tier": row.tier_base,
                    "rank": int(row.lead_rank_base),
                    "grade_cell": row.grade_cell_base,
                },
                "head": {
                    "score": round(float(row.score_total_head), 4),
                    "tier": row.tier_head,
                    "rank": int(row.lead_rank_head),
                    "grade_cell": row.grade_cell_head,
                },
                "delta": round(float(row.delta), 4),
                "rules": changes,
            }
        )
    return movers


def backtest_comparison(base: Any, head: Any) -> dict[str, Any] | None:  # noqa: ANN401 - BacktestReport | None
    """Each backtest metric on both sides and the change; None when neither side could be measured."""
    if base is None and head is None:
        return None
    metrics = []
    for column, label in METRICS:
        b = _number(base.summary.get(column)) if base else None
        h = _number(head.summary.get(column)) if head else None
        metrics.append(
            {
                "metric": column,
                "label": label,
                "base": b,
                "head": h,
                "delta": None if b is None or h is None else h - b,
            }
        )
    return {
        "metrics": metrics,
        "base": base.as_dict() if base else None,
        "head": head.as_dict() if head else None,
    }


# --------------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------------


def _f(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def render_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, default=str)


def render_markdown(result: dict[str, Any]) -> str:
    """A pull-request comment."""
    if "skipped" in result:
        return f"### Scoring impact\n\nSkipped: {result['skipped']}."
    versions = result["scoring_versions"]
    lines = [
        f"### Scoring impact of the point-table change: `{result['base_ref']}` → working tree",
        "",
        f"Same raw data, scored as of **{result['as_of']}**: scoring model `{versions['base']}` → "
        f"`{versions['head']}`. Seeds changed (dbt `state:modified`): "
        f"{', '.join(f'`{s}`' for s in result['seeds_changed']) or 'none'}.",
        "",
        f"- **{result['leads_score_changed']:,}** of {result['leads_compared']:,} leads change score; "
        f"**{result['tier']['changed']:,}** change tier, **{result['mql']['changed']:,}** change MQL status, "
        f"**{result['grade_cell']['changed']:,}** change grade cell.",
        f"- Spearman rank correlation of the totals: **{_f(result['spearman'])}**; mean total "
        f"{_f(result['mean_score']['base'], 2)} → {_f(result['mean_score']['head'], 2)}.",
    ]
    backtest = result.get("backtest")
    if backtest:
        lines += ["", "#### Backtest", ""]
        summary = (backtest.get("head") or backtest.get("base"))["summary"]
        lines.append(
            f"Scored as of {len(result['backtest_dates'])} past dates "
            f"({', '.join(result['backtest_dates'])}); "
            f"a lead counts as converted when it became a customer within {result['window_days']} days "
            f"({summary['observations']:,} lead-dates, {summary['conversions']:,} conversions)."
        )
        lines += ["", "| metric | base | this change | Δ |", "|---|---:|---:|---:|"]
        for m in backtest["metrics"]:
            digits = 2 if "lift" in m["metric"] else 3
            cells = [_f(m["base"], digits), _f(m["head"], digits), _f(m["delta"], digits, True)]
            lines.append(f"| {m['label']} | " + " | ".join(cells) + " |")
    lines += ["", "#### Tier (rows: base, columns: this change)", ""]
    lines += _markdown_matrix(result["tier"])
    lines += ["", "#### MQL status", ""]
    lines += _markdown_matrix(result["mql"])
    transitions = result["grade_cell_transitions"]
    lines += ["", "#### Grade cell changes", ""]
    if transitions:
        lines += ["| from | to | leads |", "|---|---|---:|"]
        lines += [f"| {t['from']} | {t['to']} | {t['leads']:,} |" for t in transitions[:15]]
        if len(transitions) > 15:
            lines.append(f"| … | {len(transitions) - 15} more transitions | |")
    else:
        lines.append("No lead changes grade cell.")
    lines += ["", "#### Top movers", ""]
    if result["top_movers"]:
        lines += ["| lead | score | tier | rules that moved it |", "|---|---:|---|---|"]
        for mover in result["top_movers"]:
            rules = "; ".join(
                f"{r['rule_type']} `{r['rule']}` {r['base']:g} → {r['head']:g}"
                + (" eng. pts" if r["unit"] != "score points" else "")
                for r in mover["rules"][:4]
            )
            lines.append(
                f"| {mover['lead_id']} | {mover['base']['score']:g} → {mover['head']['score']:g} "
                f"({mover['delta']:+g}) | {mover['base']['tier']} → {mover['head']['tier']} | {rules} |"
            )
    else:
        lines.append("No lead changes score.")
    if result.get("seeds_only_in_working_tree"):
        lines += [
            "",
            "Seeds new in the working tree (used on both sides): "
            + ", ".join(result["seeds_only_in_working_tree"])
            + ".",
        ]
    lines += [
        "",
        f"<sub>`leadscore impact --base {result['base_ref']}` ({result['base_commit'][:10]}), "
        f"{result['generated_at']}</sub>",
    ]
    return "\n".join(lines)


def _markdown_matrix(matrix: dict[str, Any]) -> list[str]:
    keys = matrix["keys"]
    lines = ["| base \\ change | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for key, row in zip(keys, matrix["counts"], strict=True):
        cells = [
            f"**{c:,}**" if i == j and c else f"{c:,}" for j, c in enumerate(row) for i in [keys.index(key)]
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return lines


def last_impact_path(settings: Settings) -> Path:
    """Where the last impact run is kept for `leadscore report` (beside the served warehouse file)."""
    return settings.warehouse_path.parent / LAST_IMPACT_FILE


def save_last_impact(settings: Settings, result: dict[str, Any]) -> Path:
    path = last_impact_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_json(result))
    return path
