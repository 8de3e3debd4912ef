"""Option parsers shared by the command groups (commands.py, analysis.py)."""

from __future__ import annotations

from datetime import date, datetime

import click


def parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """A --date option's value as a date; anything but YYYY-MM-DD is a usage error naming the value."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise click.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}") from exc
