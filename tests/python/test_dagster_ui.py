"""The Dagster UI, started as docs/orchestration.md says (`dagster dev -m orchestration.defs.definitions`),
loaded in a real headless Chromium: the asset graph shows the lead_scores mart, its checks and the daily schedule.
Screenshots go to artifacts/ (gitignored)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from conftest import REPO, copy_project

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "artifacts"
STARTUP_TIMEOUT_S = 300
UI_TIMEOUT_MS = 120_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(
        f"dagster dev did not serve {url} in {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-4000:]}"
    )


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C for dagster dev (it shuts its webserver, daemon and code servers down), then make sure
    nothing of the process group it started is left."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@dataclass
class DagsterDev:
    """A running `dagster dev` (its own process group) and its URL."""

    url: str
    process: subprocess.Popen
    log: Path


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    root = tmp_path_factory.mktemp("dagster_ui")
    project_dir = copy_project(root / "project")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy2(REPO / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = dict(os.environ)
    env.update(
        DAGSTER_HOME=str(home),
        DBT_PROJECT_DIR=str(project_dir),
        DBT_PROFILES_DIR=str(project_dir),
        LEADSCORE_DUCKDB_PATH=str(root / "warehouse" / "leadscore.duckdb"),
    )
    log = root / "dagster_dev.log"
    dagster = Path(sys.executable).with_name("dagster")
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(dagster), "dev", "-m", "orchestration.defs.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=project_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, process, log)
        yield DagsterDev(url=url, process=process, log=log)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def dagster_ui(dagster_dev: DagsterDev) -> str:
    return dagster_dev.url


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install the Debian package chromium (scripts/system_packages.txt)"
        )
    profile = tmp_path_factory.mktemp("chromium_profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    # First visit: Dagster asks to join its community; dismiss it so it does not hide the page.
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5000)
        skip.click()
    except Exception:  # noqa: BLE001 - the dialog is optional
        pass


def test_the_asset_graph_shows_the_lead_scores_mart(dagster_ui: str, page: Page):
    ARTIFACTS.mkdir(exist_ok=True)
    open_page(page, f"{dagster_ui}/assets/marts/lead_scores?view=lineage")
    graph = page.locator("svg foreignObject")
    expect(graph.get_by_text("lead_scores", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    # Upstream point tables and the downstream publish step are in the same graph.
    expect(graph.get_by_text("score_tiers", exact=True)).to_be_visible()
    expect(graph.get_by_text("publish", exact=True)).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dagster_lead_scores_lineage.png"))

    open_page(page, f"{dagster_ui}/asset-groups")
    for group in ("raw", "staging", "intermediate", "marts", "publish"):
        expect(page.locator("svg foreignObject").get_by_text(group, exact=True)).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )
    page.screenshot(path=str(ARTIFACTS / "dagster_global_lineage.png"))


def test_the_checks_and_the_schedule_are_listed(dagster_ui: str, page: Page):
    open_page(page, f"{dagster_ui}/assets/marts/lead_scores?view=checks")
    for check in ("component_ranges", "drift", "unique_lead_scores_lead_rank"):
        expect(page.get_by_text(check, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "dagster_lead_scores_checks.png"))

    open_page(page, f"{dagster_ui}/automation")
    expect(page.get_by_text("daily_refresh", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "dagster_automation.png"))


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# Alone, after the parallel run (`make test`), and only once the code location is loaded: a Ctrl-C during
# dagster dev's start was not acted on within 90 s (docs/tests.md).
WORKSPACE_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"


def wait_until_code_loaded(url: str, seconds: float = 120) -> None:
    """Until every code location of the webserver's workspace is loaded (GraphQL loadStatus LOADED): a
    Ctrl-C while dagster dev still starts its code server was not acted on (docs/tests.md)."""
    deadline = time.monotonic() + seconds
    statuses: list[str] = []
    while time.monotonic() < deadline:
        request = urllib.request.Request(
            f"{url}/graphql",
            data=json.dumps({"query": WORKSPACE_QUERY}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local webserver
            entries = json.load(response)["data"]["workspaceOrError"].get("locationEntries") or []
        statuses = [entry["loadStatus"] for entry in entries]
        if statuses and all(status == "LOADED" for status in statuses):
            return
        time.sleep(1)
    raise AssertionError(f"code locations not loaded after {seconds} s: {statuses}")


@pytest.mark.quiet
def test_ctrl_c_stops_dagster_dev_without_sigkill(dagster_dev: DagsterDev, page: Page):
    """Last in this file: Ctrl-C (SIGINT to the process group, as a terminal sends it) ends `dagster dev`,
    its webserver, daemon and code servers, with no SIGKILL needed; and it had launched no run by itself
    (the schedule and the freshness sensor start stopped). The UI's tab is left first: with a request of an
    open tab in flight the webserver waits for it before it exits (docs/orchestration.md)."""
    process = dagster_dev.process
    assert process.poll() is None
    wait_until_code_loaded(dagster_dev.url)
    page.goto("about:blank")
    os.killpg(process.pid, signal.SIGINT)
    try:
        code = process.wait(timeout=90)
    except subprocess.TimeoutExpired as exc:
        log = dagster_dev.log.read_text()[-4000:]
        raise AssertionError(f"dagster dev still running 90 s after Ctrl-C:\n{log}") from exc
    deadline = time.monotonic() + 30
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not group_alive(process.pid), "a process of dagster dev outlived Ctrl-C"
    log = dagster_dev.log.read_text()
    assert code in (0, 130, -signal.SIGINT), f"dagster dev exited {code}:\n{log[-4000:]}"
    assert "Launching run" not in log and "launched run" not in log.lower(), log[-4000:]
