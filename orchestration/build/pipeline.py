"""The build pipeline: check the point tables, run dbt build (seeds, models, tests), summarise the result.

`leadscore build` and the orchestrator call these same functions: one pipeline, several entry points.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.audit.publish_guards import check_against_published
from orchestration.audit.quality import (
    GUARD_SUITE_KEYS,
    SUITES,
    Outcome,
    last_published_versions,
    record_published_run,
    record_raw_layer,
    validate_marts,
)
from orchestration.build.dbt_invocation import TestFailure, run_dbt
from orchestration.build.lead_patching import LoadState, patch_parameters, read_load_state
from orchestration.build.publishing import (
    build_plan_path,
    ensure_passed,
    mark_passed,
    must_rebuild,
    pipeline_path,
    publish,
    quoted_path,
    start_build,
    writer_lock,
)
from orchestration.build.seed_check import check_seeds
from orchestration.progress import report
from orchestration.settings import Settings
from orchestration.warehouse import LEAD_SCORES, connect_read_only

BREAKDOWN_RELATION = "marts.lead_score_breakdown"
REJECTS_RELATION = "marts.rejected_rows"


class BuildError(Exception):
    """The build failed; nothing new should be trusted. The message says what failed and where."""


@dataclass
class BuildSummary:
    """What a successful build produced."""

    build_id: str
    as_of: date
    scoring_version: str
    leads_scored: int
    tiers: dict[str, int]
    mql_count: int
    rejects: dict[tuple[str, str], int]
    warehouse_path: Path
    mart_relation: str = LEAD_SCORES
    warnings: list[str] = field(default_factory=list)
    published_path: Path | None = None
    quality: str = ""
    # The checks against the last published build (publish_guards), in words.
    guards: str = ""
    # Incremental models and what this build did with each: "refreshed" (only new data read) or "rebuilt".
    incremental: dict[str, str] = field(default_factory=dict)
    # What the build did not re-run, and why (empty when it ran every node).
    skipped: str = ""
    # Whether the lead-level tables were patched (only the leads with new rows rescored) or rebuilt, and why.
    lead_tables: str = ""
    # What the publish wrote: the served file's size and the time the export and the swap took.
    publish_cost: str = ""

    def render(self) -> str:
        """A short human summary for the terminal."""
        lines = [
            f"build {self.build_id}: scored {self.leads_scored:,} leads as of {self.as_of.isoformat()} "
            f"(scoring model {self.scoring_version})",
            "tiers: "
            + ", ".join(f"{tier} {count:,}" for tier, count in self.tiers.items())
            + f"; MQL {self.mql_count:,}",
        ]
        if self.rejects:
            total = sum(self.rejects.values())
            lines.append(f"rejected rows: {total:,} (see {REJECTS_RELATION})")
            lines += [
                f"  {table:<7} {reason:<28} {count:>8,}" for (table, reason), count in self.rejects.items()
            ]
        else:
            lines.append("rejected rows: 0")
        lines += [f"warning: {w}" for w in self.warnings]
        if self.incremental:
            lines.append(
                "incremental models: " + ", ".join(f"{name} {how}" for name, how in self.incremental.items())
            )
        if self.skipped:
            lines.append(f"skipped: {self.skipped}")
        if self.lead_tables:
            lines.append(f"lead tables: {self.lead_tables}")
        if self.quality:
            lines.append(f"quality checks: {self.quality}")
        if self.guards:
            lines.append(f"against the last published build: {self.guards}")
        if self.publish_cost:
            lines.append(f"served file: {self.publish_cost}")
        lines.append(f"mart: {self.mart_relation} in {self.warehouse_path}")
        if self.published_path:
            lines.append(f"published: {self.published_path}")
        return "\n".join(lines)


def scoring_version(project_dir: Path) -> str:
    """A short hash of the point tables (every seed CSV, by name and content): the scoring-model version."""
    digest = hashlib.sha256()
    for path in sorted((project_dir / "seeds").glob("*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# What the dbt project's logic is made of: a change to any of these files may change what the unit tests or
# the seed tests check (tests/python, the pytest suite, is not). The seed CSVs are versioned apart
# (scoring_version).
CODE_PATHS = ("dbt_project.yml", "models", "macros", "tests", "seeds/_seeds.yml")
CODE_SUFFIXES = (".sql", ".yml", ".yaml", ".csv")


def code_version(project_dir: Path) -> str:
    """A short hash of the dbt project's code (models, macros, tests and their fixtures, project and seed
    YAML): with scoring_version, what a build was tested with."""
    digest = hashlib.sha256()
    for entry in CODE_PATHS:
        root = project_dir / entry
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in CODE_SUFFIXES)
        files = [path for path in files if "python" not in path.relative_to(project_dir).parts]
        for path in files:
            digest.update(str(path.relative_to(project_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# Skipped by a build whose point tables and code are those of the last published build, which loaded the
# seeds and passed these tests: the seeds with the tests defined on them (seeds/_seeds.yml) and the unit tests
# (logic on fixed inputs). Every model and every test on models and sources still runs.
UNCHANGED_EXCLUDES = ("path:seeds", "resource_type:unit_test")


def dbt_build_args(
    working: Path, versions: tuple[str, str], full_refresh: bool = False
) -> tuple[list[str], str]:
    """`dbt build` arguments for a build in the pipeline database of the given (scoring, code) versions, and a
    note of what it skips and why."""
    args = ["build", "--full-refresh"] if full_refresh else ["build"]
    if full_refresh:
        return args, ""
    if last_published_versions(working) != versions:
        return args, ""
    note = (
        "seeds, their tests and the unit tests (point tables and code unchanged since the last published"
        " build; --full-refresh runs them)"
    )
    # One --exclude value, the selectors space-separated (dbt's union): dagster-dbt, which adds its own
    # --select, keeps a flag's first value only.
    return [*args, "--exclude", " ".join(UNCHANGED_EXCLUDES)], note


def new_build_id(now: datetime | None = None) -> str:
    """A unique, sortable build id."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass(frozen=True)
class BuildPlan:
    """What a build does, decided before dbt starts: the same for `leadscore build` and the Dagster dbt
    assets. Saved beside the pipeline database (save_plan) so that the step that publishes, which may run in
    another process, records what this build tested and read."""

    build_id: str
    as_of: date
    # (scoring, code) versions, taken before dbt reads the files: what is recorded at publish is what
    # this build tested.
    versions: tuple[str, str]
    # What the build read of the raw layer (read before dbt starts: rows loaded later are new rows for the
    # next build).
    load_state: LoadState
    # `dbt build` and its selection flags (no --vars: see dbt_vars).
    dbt_args: list[str]
    dbt_vars: dict[str, str]
    # What the build does not re-run and why ("" when it runs every node).
    skipped: str
    # Whether the lead-level tables are patched (only the leads with new rows rescored) and why.
    patches: bool
    patch_note: str

    def lead_tables_note(self, changed_leads: int | None = None) -> str:
        if not self.patches:
            return f"rebuilt ({self.patch_note})"
        rescored = f"{changed_leads:,} leads rescored" if changed_leads is not None else "patched"
        return f"patched, {rescored} ({self.patch_note})"


# Why a build rebuilds every incremental model without being asked (publishing.start_build).
UNPUBLISHED_NOTE = "the last build was not published (failed or killed): incremental models rebuilt"


def plan_build(
    settings: Settings,
    working: Path,
    as_of: date,
    versions: tuple[str, str] | None = None,
    full_refresh: bool = False,
) -> BuildPlan:
    """Decide what a build in the pipeline database does (call it under the writer lock, after start_build,
    before dbt starts). After an unpublished build it rebuilds the incremental models (publishing.py)."""
    versions = versions or (scoring_version(settings.project_dir), code_version(settings.project_dir))
    build_id = new_build_id()
    load_state = read_load_state(working)
    rebuild = must_rebuild(settings) and not full_refresh
    full_refresh = full_refresh or rebuild
    args, skipped = dbt_build_args(working, versions, full_refresh)
    patch, patch_note = patch_parameters(working, versions, as_of, full_refresh)
    if rebuild:
        patch_note = UNPUBLISHED_NOTE
    return BuildPlan(
        build_id=build_id,
        as_of=as_of,
        versions=versions,
        load_state=load_state,
        dbt_args=args,
        dbt_vars={**build_vars(as_of, build_id, versions[0]), **patch},
        skipped=skipped,
        patches=bool(patch),
        patch_note=patch_note,
    )


def save_plan(settings: Settings, plan: BuildPlan) -> None:
    """Write the plan beside the pipeline database (removed with the stage markers when the copy is next
    written)."""
    state = plan.load_state
    build_plan_path(settings).write_text(
        json.dumps(
            {
                "build_id": plan.build_id,
                "versions": list(plan.versions),
                "loaded_through": state.loaded_through.isoformat() if state.loaded_through else None,
                "loaded_rows": state.loaded_rows,
            }
        )
    )


def saved_load(settings: Settings, build_id: str) -> tuple[tuple[str, str], LoadState] | None:
    """The versions and load state the plan of build_id saved, if the pipeline database holds that plan."""
    path = build_plan_path(settings)
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved["build_id"] != build_id:
        return None
    through = saved["loaded_through"]
    state = LoadState(datetime.fromisoformat(through) if through else None, int(saved["loaded_rows"]))
    scoring, code = saved["versions"]
    return (scoring, code), state


def check_as_of(as_of: date, today: date | None = None) -> None:
    """Refuse an as-of date after today (UTC): events, orders and conversions of the future do not exist yet,
    and every score would decay as if time had passed."""
    today = today or datetime.now(UTC).date()
    if as_of > today:
        raise BuildError(
            f"--as-of {as_of.isoformat()} is after today ({today.isoformat()}, UTC): scores can only be "
            "computed as of today or an earlier date"
        )


def build(
    settings: Settings,
    as_of: date | None = None,
    target: str | None = None,
    accept_drift: bool = False,
    full_refresh: bool = False,
    accept_rejects: bool = False,
) -> BuildSummary:
    """Check seeds; write, audit, publish: run `dbt build` (models and every test) as of a date in the working
    copy of the warehouse and, only if everything passed, publish it atomically onto the served path.
    Raise BuildError naming what failed (the served file is then untouched)."""
    as_of = as_of or datetime.now(UTC).date()
    check_as_of(as_of)
    report("build: checking the point tables")
    check_seeds(settings.project_dir)
    # Taken once, before dbt reads the files: what is recorded at publish is what this build tested.
    versions = (scoring_version(settings.project_dir), code_version(settings.project_dir))
    with writer_lock(settings):
        report("build: preparing the working copy")
        working = replace(settings, warehouse_path=start_build(settings))
        plan = plan_build(settings, working.warehouse_path, as_of, versions, full_refresh)
        save_plan(settings, plan)
        build_id = plan.build_id
        preload_audit_library()
        how = "patched" if plan.patches else "rebuilt"
        report(f"build: dbt build as of {as_of.isoformat()}, lead tables {how} (dbt reports each node)")
        result = run_dbt(working, plan.dbt_args, dbt_vars=plan.dbt_vars, target=target)
        if not result.success:
            raise BuildError(
                describe_failures(result.failures, result.output, seed_changes(settings, result.failures))
                + "\n"
                + not_published_note(settings)
            )
        mark_passed(settings, "built", build_id)
        ensure_leads_scored(working.warehouse_path, as_of)
        report("build: auditing the marts (Great Expectations, checks against the published build)")
        outcomes = validate_marts(working.warehouse_path, check_drift=not accept_drift)
        guards = check_against_published(
            working.warehouse_path, settings.warehouse_path, accept_rejects=accept_rejects
        )
        if not all(outcome.success for outcome in [*outcomes, *guards]):
            raise BuildError(describe_audit_failures(outcomes, guards) + "\n" + not_published_note(settings))
        mark_passed(settings, "audited", build_id)
        summary = summarise(working, build_id=build_id, as_of=as_of, version=versions[0])
        summary.quality = f"{len(outcomes)}/{len(outcomes)} expectations passed"
        summary.guards = describe_guards(guards, accept_rejects)
        summary.incremental = incremental_decisions(result.output)
        summary.skipped = plan.skipped
        summary.lead_tables = plan.lead_tables_note(
            changed_lead_count(working.warehouse_path) if plan.patches else None
        )
        report("build: publishing")
        started = time.monotonic()
        summary.published_path = publish_audited(settings, build_id, as_of)
        size = summary.published_path.stat().st_size / 2**20
        summary.publish_cost = f"{size:,.1f} MiB, exported and swapped in {time.monotonic() - started:.1f} s"
        summary.warehouse_path = settings.warehouse_path
    return summary


def ensure_leads_scored(warehouse: Path, as_of: date) -> None:
    """Raise BuildError, in one line saying why, when the build scored no lead (the audit would otherwise
    report every expectation on an empty mart)."""
    with connect_read_only(warehouse) as con:
        if con.execute(f"select count(*) from {LEAD_SCORES}").fetchone()[0]:
            return
        raw, accepted, first = con.execute(
            "select count(*), count(*) filter (where reject_reason is null),"
            " min(created_at) filter (where reject_reason is null) from intermediate.int_leads_validated"
        ).fetchone()
    if raw == 0:
        why = "raw.leads has no rows (load an export with leads)"
    elif accepted == 0:
        why = f"all {raw:,} raw leads were rejected (see {REJECTS_RELATION})"
    else:
        why = (
            f"the first of the {accepted:,} accepted leads was created on {first.date().isoformat()}; "
            "score as of that date or later"
        )
    raise BuildError(f"no leads to score as of {as_of.isoformat()}: {why}; nothing published")


def preload_audit_library() -> None:
    """Import Great Expectations in a background thread while dbt runs in its subprocess (the import takes
    seconds and this process is otherwise only waiting); the audit's own import then finds it loaded."""
    threading.Thread(target=importlib.import_module, args=("great_expectations",), daemon=True).start()


_DECISION = re.compile(r"\b((?:int|lead)_\w+): (incremental refresh|full rebuild)\b")


def incremental_decisions(dbt_output: str) -> dict[str, str]:
    """What each incremental model did in a dbt run (from what macro incremental_state_is_current logs)."""
    words = {"incremental refresh": "refreshed", "full rebuild": "rebuilt"}
    return {model: words[how] for model, how in _DECISION.findall(dbt_output)}


def build_vars(as_of: date, build_id: str, scoring: str) -> dict[str, str]:
    """The dbt vars of a build (the same for `leadscore build` and the Dagster dbt assets)."""
    return {"as_of": as_of.isoformat(), "build_id": build_id, "scoring_version": scoring}


def publish_audited(settings: Settings, build_id: str, as_of: date) -> Path:
    """Publish the audited build of the pipeline database: record the raw layer's row counts (the next
    build's shrink reference, publish_guards) and the run (the next build's drift reference) with the
    (scoring, code) versions it was built with and what it read of the raw layer, from the build's saved
    plan (save_plan); then export the served relations into a new file that replaces the served one
    atomically. Without that plan the versions are read now and the load state is unknown (the next build
    then rebuilds the lead tables rather than patch them). A crash after the records and before the served
    file is replaced leaves the dirty marker: the next build restores the audit trail from the served file
    (publishing.start_build). Refused unless the build passed every dbt test and quality expectation."""
    ensure_passed(settings, build_id)
    versions, load_state = saved_load(settings, build_id) or (None, None)
    scoring, code = versions or (scoring_version(settings.project_dir), code_version(settings.project_dir))
    record_raw_layer(pipeline_path(settings))
    record_published_run(
        pipeline_path(settings),
        build_id,
        as_of.isoformat(),
        scoring_version=scoring,
        code_version=code,
        loaded_through=load_state.loaded_through if load_state else None,
        loaded_rows=load_state.loaded_rows if load_state else None,
    )
    return publish(settings, build_id)


def not_published_note(settings: Settings) -> str:
    return f"not published: the previous version is still served at {settings.warehouse_path}"


def describe_quality_failures(outcomes: list[Outcome]) -> str:
    """Name each failed Great Expectations expectation with what it observed."""
    failed = [outcome for outcome in outcomes if not outcome.success]
    return (
        f"{len(failed)} of {len(outcomes)} quality expectations failed (Great Expectations):\n"
        + "\n".join(f"- {o.suite}: {o.expectation}: {o.detail}" for o in failed)
    )


def describe_guard_failures(guards: list[Outcome]) -> str:
    """Name each failed check against the last published build, with what to do."""
    failed = [outcome for outcome in guards if not outcome.success]
    return f"{len(failed)} check(s) against the last published build failed:\n" + "\n".join(
        f"- {o.suite}: {o.detail}" for o in failed
    )


def describe_audit_failures(outcomes: list[Outcome], guards: list[Outcome]) -> str:
    """The failed expectations and guards, guards first (they say what was lost)."""
    parts = []
    if not all(outcome.success for outcome in guards):
        parts.append(describe_guard_failures(guards))
    if not all(outcome.success for outcome in outcomes):
        parts.append(describe_quality_failures(outcomes))
    return "\n".join(parts)


def describe_guards(guards: list[Outcome], accept_rejects: bool) -> str:
    """What the checks against the last published build did, for the summary."""
    if not guards:
        return "nothing published yet to compare with"
    titles = [suite.title for suite in SUITES if suite.key in GUARD_SUITE_KEYS]
    checked = [title for title in titles if any(outcome.suite == title for outcome in guards)]
    note = "; rejected rows accepted (--accept-rejects)" if accept_rejects else ""
    return f"{len(guards)}/{len(guards)} passed ({', '.join(checked)}){note}"


def describe_failures(failures: list[TestFailure], output: str, changed_seeds: set[str] | None = None) -> str:
    """Turn failed dbt nodes into a message naming each failed test or model and its first failing rows; a
    test that checks one seed against another names both, and which of them changed since the last published
    build (changed_seeds, when known)."""
    if not failures:
        return "dbt build failed:\n" + output.strip()[-4000:]
    lines = [f"dbt build failed: {len(failures)} node(s) failed"]
    for failure in failures:
        lines.append(f"- {failure.name} ({failure.status}): {failure.message}")
        for row in failure.failing_rows:
            shown = ", ".join(f"{k}={v}" for k, v in row.items() if v is not None)
            lines.append(f"    failing row: {shown}")
        if len(failure.seeds) > 1:
            lines.append("    " + describe_seed_reference(failure.seeds, changed_seeds))
    return "\n".join(lines)


def describe_seed_reference(seeds: list[str], changed_seeds: set[str] | None) -> str:
    """`checks seeds/a.csv against seeds/b.csv`, with the ones edited since the last published build."""
    files = [f"seeds/{seed}.csv" for seed in seeds]
    text = f"checks {files[0]} against {', '.join(files[1:])}"
    if changed_seeds is None:
        return text + " (an edit of either can break it)"
    edited = [f"seeds/{seed}.csv" for seed in seeds if seed in changed_seeds]
    if not edited:
        return text + " (neither changed since the last published build)"
    return text + f"; edited since the last published build: {', '.join(edited)}"


def seed_changes(settings: Settings, failures: list[TestFailure]) -> set[str] | None:
    """Which seeds read by failed tests across seeds hold other rows than in the served file (the last
    published build): the pipeline database has the seeds this build loaded. None when nothing is
    published."""
    seeds = sorted({seed for failure in failures if len(failure.seeds) > 1 for seed in failure.seeds})
    served, working = settings.warehouse_path, pipeline_path(settings)
    if not seeds or not served.exists() or not working.exists():
        return None
    changed = set()
    with connect_read_only(working) as con:
        con.execute(f"attach '{quoted_path(served)}' as published (read_only)")
        for seed in seeds:
            try:
                differs = con.execute(
                    f"select exists (select * from point_tables.{seed} except all"
                    f" select * from published.point_tables.{seed})"
                    f" or exists (select * from published.point_tables.{seed} except all"
                    f" select * from point_tables.{seed})"
                ).fetchone()[0]
            except duckdb.Error:  # a new seed, or its columns changed
                differs = True
            if differs:
                changed.add(seed)
    return changed


def changed_lead_count(warehouse: Path) -> int:
    """How many leads the build's patching refresh rescored (int_leads_changed)."""
    with connect_read_only(warehouse) as con:
        return con.execute("select count(*) from intermediate.int_leads_changed").fetchone()[0]


def summarise(settings: Settings, build_id: str, as_of: date, version: str) -> BuildSummary:
    """Read counts back from the built warehouse (read-only)."""
    with connect_read_only(settings.warehouse_path) as con:
        leads_scored = con.execute(f"select count(*) from {LEAD_SCORES}").fetchone()[0]
        tier_rows = con.execute(
            f"""
            select tiers.tier_key, count(scores.lead_id)
            from point_tables.score_tiers as tiers
            left join {LEAD_SCORES} as scores on scores.tier = tiers.tier_key
            group by tiers.tier_key, tiers.tier_order
            order by tiers.tier_order
            """
        ).fetchall()
        mql_count = con.execute(f"select count(*) from {LEAD_SCORES} where is_mql").fetchone()[0]
        reject_rows = con.execute(
            f"""
            select source_table, reject_reason, count(*)
            from {REJECTS_RELATION}
            group by source_table, reject_reason
            order by source_table, count(*) desc, reject_reason
            """
        ).fetchall()
    return BuildSummary(
        build_id=build_id,
        as_of=as_of,
        scoring_version=version,
        leads_scored=leads_scored,
        tiers={tier: count for tier, count in tier_rows},
        mql_count=mql_count,
        rejects={(table, reason): count for table, reason, count in reject_rows},
        warehouse_path=settings.warehouse_path,
    )
