"""Progress on long runs: a real `leadscore build` reports dbt's nodes on standard error while it is still
running, demo-data and load say what they are doing, and quiet mode (`--quiet` or LEADSCORE_QUIET=1) prints
no progress at all. Standard output is the same either way."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import Project

EXECUTABLE = Path(sys.executable).with_name("leadscore")
END_DATE = "2026-10-31"
DBT_NODE = re.compile(r"^dbt: (\d+) of (\d+) (?:START|NO-OP) \S")  # NO-OP: an exposure


def env(project: Project, quiet: str | None) -> dict[str, str]:
    environment = project.env()
    environment.pop("LEADSCORE_QUIET", None)  # conftest makes the suite quiet; each test here decides
    if quiet is not None:
        environment["LEADSCORE_QUIET"] = quiet
    return environment


def run(project: Project, *args: str, quiet: str | None = None) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(EXECUTABLE), *args], env=env(project, quiet), cwd=project.dir, capture_output=True, text=True
    )
    assert completed.returncode == 0, f"{args}:\n{completed.stdout}\n{completed.stderr}"
    return completed


def demo_args(out: Path) -> list[str]:
    return ["demo-data", "--leads", "200", "--seed", "3", "--out", str(out), "--end-date", END_DATE]


def test_a_build_streams_dbt_nodes_while_it_runs(tmp_path: Path, project: Project):
    demo = run(project, *demo_args(tmp_path / "demo"))
    assert re.search(r"^demo-data: 1 of \d+ generating", demo.stderr, re.M), demo.stderr
    assert "writing events.parquet" in demo.stderr
    loaded = run(project, "load", str(tmp_path / "demo"))
    assert "load: events.parquet: " in loaded.stderr and "rows read" in loaded.stderr, loaded.stderr

    build = subprocess.Popen(
        [str(EXECUTABLE), "build", "--as-of", END_DATE],
        env=env(project, quiet=None),
        cwd=project.dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert build.stderr is not None
        seen: list[str] = []
        running_when_seen: list[tuple[str, bool]] = []
        for line in build.stderr:
            seen.append(line.rstrip("\n"))
            if DBT_NODE.match(line) or line.startswith("dbt: Found "):
                # The line reached us while the build was still going: streamed, not printed at the end.
                running_when_seen.append((line.strip(), build.poll() is None))
        stdout = build.stdout.read() if build.stdout else ""
        assert build.wait(timeout=600) == 0, "\n".join(seen)
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    assert any(line.startswith("dbt: Found ") for line, _ in running_when_seen), seen
    nodes = [DBT_NODE.match(line) for line, _ in running_when_seen if DBT_NODE.match(line)]
    # dbt's count of the build's nodes ("n of N", besides its hooks' "1 of 1"): each node reported once.
    total = max(int(node.group(2)) for node in nodes)
    numbers = [int(node.group(1)) for node in nodes if int(node.group(2)) == total]
    assert total > 100 and sorted(numbers) == list(range(1, total + 1)), seen
    # Every node line arrived while the process was running (its summary and publish were still to come).
    assert all(running for _, running in running_when_seen), running_when_seen
    assert "build: checking the point tables" in seen and "build: publishing" in seen, seen
    last_node = max(i for i, line in enumerate(seen) if DBT_NODE.match(line))
    assert seen.index("build: publishing") > last_node, seen
    assert "published: " in stdout
    assert not [line for line in stdout.splitlines() if line.startswith(("dbt: ", "build: "))], stdout


def test_quiet_prints_no_progress_and_the_same_stdout(tmp_path: Path, project: Project):
    talkative = run(project, *demo_args(tmp_path / "talkative"))
    by_flag = run(project, "--quiet", *demo_args(tmp_path / "flag"))
    by_env = run(project, *demo_args(tmp_path / "env"), quiet="1")
    assert talkative.stderr
    assert by_flag.stderr == "" and by_env.stderr == ""
    same = [
        r.stdout.replace(str(tmp_path / name), "OUT")
        for r, name in ((talkative, "talkative"), (by_flag, "flag"), (by_env, "env"))
    ]
    assert same[0] == same[1] == same[2]

    assert run(project, "-q", "load", str(tmp_path / "flag")).stderr == ""
    built = run(project, "--quiet", "build", "--as-of", END_DATE)
    assert built.stderr == "", built.stderr
    assert "published: " in built.stdout
    assert run(project, "top", "3", "--format", "csv", quiet="1").stderr == ""
