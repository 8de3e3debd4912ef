"""Progress of long commands: one line on standard error per step, as it starts, unless quiet.

Standard output stays what other tools parse (`top --format csv`, `published:` lines, export files); progress
goes to standard error only. Quiet mode (`leadscore --quiet`, or LEADSCORE_QUIET=1 in the environment, which
child processes inherit) is for schedulers and CI: no progress lines, only results and errors.
"""

from __future__ import annotations

import os
import re
import sys

QUIET_ENV = "LEADSCORE_QUIET"


def is_quiet() -> bool:
    """True when LEADSCORE_QUIET is set to anything but empty, 0, false or no."""
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false", "no")


def set_quiet() -> None:
    """Quiet this process and the processes it starts (dbt, the benchmark's steps)."""
    os.environ[QUIET_ENV] = "1"


def report(message: str) -> None:
    """Print one progress line to standard error, flushed at once, unless quiet."""
    if not is_quiet():
        print(message, file=sys.stderr, flush=True)


# dbt's log lines as it runs the DAG, one per node as it starts:
#   "12:00:01  3 of 248 START sql table model staging.stg_raw__leads ........ [RUN]"
# (a node with nothing to run, an exposure, has one NO-OP line instead: "231 of 248 NO-OP exposure crm_export
# ..... [NO-OP in 0.00s]"), and the count before it starts ("Found 40 models, 12 seeds, ...").
_DBT_NODE = re.compile(r"^\S*\s+(\d+ of \d+ (?:START|NO-OP) .*?)(?:\s+\.*\s*\[(?:RUN|NO-OP[^\]]*)\])?\s*$")
_DBT_FOUND = re.compile(r"^\S*\s+(Found \d+ .*)$")


def dbt_progress_line(line: str) -> str | None:
    """The progress line to show for a line of dbt's output (a node starting, or the node count), or None."""
    for pattern in (_DBT_NODE, _DBT_FOUND):
        found = pattern.match(line.rstrip("\n"))
        if found:
            return "dbt: " + found.group(1)
    return None
