"""`leadscore report`: one self-contained HTML page people look at (inline SVG charts, no script, no CDN).

Read from the served warehouse (read-only): the score distribution of marts.lead_scores, the backtest of the
served scoring version (conversion by tier and decile, the cumulative gains curve, the grade matrix as a heat
map of conversion rates with today's lead counts), and the last `leadscore impact` run (its JSON beside the
warehouse file). Sections whose data is missing say what to run to get them.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.analysis.backtest import BacktestReport, read_backtest
from orchestration.warehouse import connect_read_only

TIER_COLOURS = ("#1b7f5c", "#e0a526", "#b5473a", "#6b6b6b", "#4a6fa5")
ACCENT = "#2f5d8a"
GRID = "#d9dde3"
FONT = "font-family: system-ui, -apple-system, 'Segoe UI', sans-serif"


# --------------------------------------------------------------------------------------------------
# SVG building blocks
# --------------------------------------------------------------------------------------------------


def _e(text: Any) -> str:  # noqa: ANN401
    return html.escape(str(text), quote=True)


@dataclass
class Frame:
    """A chart's drawing area inside an SVG of width x height."""

    width: int = 640
    height: int = 300
    left: int = 56
    right: int = 16
    top: int = 28
    bottom: int = 48

    @property
    def inner_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def inner_height(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, fraction: float) -> float:
        return self.left + fraction * self.inner_width

    def y(self, fraction: float) -> float:
        return self.top + (1 - fraction) * self.inner_height


def _svg(chart_id: str, title: str, frame: Frame, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="{_e(chart_id)}" role="img" aria-label="{_e(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {frame.width} {frame.height}" '
        f'width="{frame.width}" height="{frame.height}" '
        f'style="{FONT}; width: 100%; max-width: {frame.width}px; height: auto">'
        f"<title>{_e(title)}</title>" + "".join(body) + "</svg>"
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _tick_count(maximum: float) -> int:
    """5 or 4 gridlines, whichever gives round steps (0.25 -> 0.05; 2,000 -> 500)."""
    for count in (5, 4):
        step = maximum / count
        mantissa = step / 10 ** math.floor(math.log10(step)) if step > 0 else 1
        if any(abs(mantissa - nice) < 1e-9 for nice in (1, 2, 2.5, 5)):
            return count
    return 4


def _y_axis(frame: Frame, maximum: float, fmt: str = "{:g}", ticks: int | None = None) -> list[str]:
    ticks = ticks or _tick_count(maximum)
    parts = []
    for i in range(ticks + 1):
        fraction = i / ticks
        y = frame.y(fraction)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#444">'
            f"{_e(fmt.format(maximum * fraction))}</text>"
        )
    return parts


def _axis_label(frame: Frame, text: str, axis: str) -> str:
    if axis == "x":
        return (
            f'<text x="{frame.x(0.5):.1f}" y="{frame.height - 8}" font-size="12" text-anchor="middle" '
            f'fill="#222">{_e(text)}</text>'
        )
    return (
        f'<text x="14" y="{frame.y(0.5):.1f}" font-size="12" text-anchor="middle" fill="#222" '
        f'transform="rotate(-90 14 {frame.y(0.5):.1f})">{_e(text)}</text>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    colours: Sequence[str] | None = None,
    value_format: str = "{:.1%}",
    axis_format: str = "{:.0%}",
    x_label: str = "",
    y_label: str = "",
    reference: tuple[float, str] | None = None,
    annotations: Sequence[str] | None = None,
) -> str:
    """Vertical bars with value labels, an optional horizontal reference line (e.g. the base rate)."""
    frame = Frame()
    maximum = _nice_max(max([*values, reference[0] if reference else 0, 1e-9]))
    body = _y_axis(frame, maximum, axis_format)
    slot = frame.inner_width / max(len(values), 1)
    width = slot * 0.7
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = (value / maximum) * frame.inner_height
        x = frame.left + i * slot + (slot - width) / 2
        y = frame.y(0) - height
        colour = colours[i] if colours else ACCENT
        note = f" ({annotations[i]})" if annotations else ""
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{max(height, 0.5):.1f}" '
            f'fill="{colour}"><title>{_e(label)}: {_e(value_format.format(value))}{_e(note)}</title></rect>'
            f'<text x="{x + width / 2:.1f}" y="{y - 4:.1f}" font-size="11" text-anchor="middle" fill="#222">'
            f"{_e(value_format.format(value))}</text>"
            f'<text x="{x + width / 2:.1f}" y="{frame.y(0) + 15:.1f}" font-size="11" text-anchor="middle" '
            f'fill="#444">{_e(label)}</text>'
        )
        if annotations:
            body.append(
                f'<text x="{x + width / 2:.1f}" y="{frame.y(0) + 27:.1f}" font-size="9" text-anchor="middle" '
                f'fill="#777">{_e(annotations[i])}</text>'
            )
    if reference:
        y = frame.y(reference[0] / maximum)
        right = frame.width - frame.right
        body.append(
            f'<line class="reference" x1="{frame.left}" x2="{right}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#222" stroke-dasharray="5 4" stroke-width="1.5"/>'
            f'<line x1="{right - 150}" x2="{right - 126}" y1="{frame.top - 14}" y2="{frame.top - 14}" '
            f'stroke="#222" stroke-dasharray="5 4" stroke-width="1.5"/>'
            f'<text x="{right - 120}" y="{frame.top - 10}" font-size="11" fill="#222">'
            f"{_e(reference[1])}</text>"
        )
    body += [_axis_label(frame, x_label, "x"), _axis_label(frame, y_label, "y")]
    return _svg(chart_id, title, frame, body)


def histogram(
    chart_id: str,
    title: str,
    bins: list[tuple[float, float, dict[str, int]]],
    tiers: list[str],
    thresholds: list[float],
) -> str:
    """Stacked histogram: one bar per score bin, stacked by tier; dashed lines at the tier thresholds."""
    frame = Frame(width=760, height=320)
    totals = [sum(counts.values()) for _, _, counts in bins]
    maximum = _nice_max(max(totals, default=1))
    body = _y_axis(frame, maximum, "{:,.0f}")
    low, high = bins[0][0], bins[-1][1]
    span = high - low or 1.0

    def x_of(value: float) -> float:
        return frame.x((value - low) / span)

    for start, end, counts in bins:
        y0 = frame.y(0)
        for tier_index, tier in enumerate(tiers):
            count = counts.get(tier, 0)
            if not count:
                continue
            height = count / maximum * frame.inner_height
            body.append(
                f'<rect class="bar" x="{x_of(start) + 0.5:.1f}" y="{y0 - height:.1f}" '
                f'width="{max(x_of(end) - x_of(start) - 1, 0.5):.1f}" height="{height:.1f}" '
                f'fill="{TIER_COLOURS[tier_index % len(TIER_COLOURS)]}">'
                f"<title>{start:g} to {end:g}: {count:,} {_e(tier)}</title></rect>"
            )
            y0 -= height
    step = _nice_max(span / 8)
    tick = math.ceil(low / step) * step
    while tick <= high + 1e-9:
        body.append(
            f'<text x="{x_of(tick):.1f}" y="{frame.y(0) + 15:.1f}" font-size="11" text-anchor="middle" '
            f'fill="#444">{tick:g}</text>'
        )
        tick += step
    for threshold in thresholds:
        if low <= threshold <= high:
            body.append(
                f'<line class="threshold" x1="{x_of(threshold):.1f}" x2="{x_of(threshold):.1f}" '
                f'y1="{frame.top}" y2="{frame.y(0):.1f}" stroke="#222" stroke-dasharray="4 3"/>'
                f'<text x="{x_of(threshold) + 3:.1f}" y="{frame.top + 10}" font-size="10" fill="#222">'
                f"{threshold:g}</text>"
            )
    legend_x = frame.left + 8
    for tier_index, tier in enumerate(tiers):
        colour = TIER_COLOURS[tier_index % len(TIER_COLOURS)]
        body.append(
            f'<rect x="{legend_x}" y="{frame.top - 20}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{frame.top - 11}" font-size="11" fill="#222">{_e(tier)}</text>'
        )
        legend_x += 24 + 7 * len(tier)
    body += [_axis_label(frame, "total score", "x"), _axis_label(frame, "leads", "y")]
    return _svg(chart_id, title, frame, body)


def gains_chart(chart_id: str, title: str, points: list[tuple[float, float]]) -> str:
    """Cumulative gains: share of conversions captured (y) by the best-scored share of leads (x)."""
    frame = Frame(width=460, height=340, left=56, bottom=48)
    body = _y_axis(frame, 1.0, "{:.0%}")
    for i in range(0, 11, 2):
        x = frame.x(i / 10)
        body.append(
            f'<text x="{x:.1f}" y="{frame.y(0) + 15:.1f}" font-size="11" text-anchor="middle" fill="#444">'
            f"{i * 10}%</text>"
        )
    body.append(
        f'<line class="random" x1="{frame.x(0):.1f}" y1="{frame.y(0):.1f}" x2="{frame.x(1):.1f}" '
        f'y2="{frame.y(1):.1f}" stroke="#888" stroke-dasharray="5 4" stroke-width="1.5"/>'
    )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{frame.x(x):.1f},{frame.y(y):.1f}" for i, (x, y) in enumerate(points)
    )
    body.append(f'<path class="gains" d="{path}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    for x, y in points[1:]:
        body.append(
            f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3.5" fill="{ACCENT}">'
            f"<title>best {x:.0%} of leads: {y:.0%} of conversions</title></circle>"
        )
    body.append(
        f'<text x="{frame.x(0.62):.1f}" y="{frame.y(0.5):.1f}" font-size="11" fill="#666">random</text>'
    )
    body += [
        _axis_label(frame, "best-scored share of leads", "x"),
        _axis_label(frame, "conversions captured", "y"),
    ]
    return _svg(chart_id, title, frame, body)


def _heat(value: float | None, maximum: float) -> str:
    if value is None or maximum <= 0:
        return "#eef0f3"
    t = max(0.0, min(1.0, value / maximum))
    low, high = (239, 243, 255), (8, 69, 148)
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(low, high, strict=True))
    return f"rgb({r},{g},{b})"


def heat_map(
    chart_id: str,
    title: str,
    rows: list[str],
    columns: list[str],
    values: dict[tuple[str, str], float | None],
    captions: dict[tuple[str, str], list[str]],
    row_label: str,
    column_label: str,
    value_format: str = "{:.1%}",
) -> str:
    """A grid of cells coloured by value, each with its value and a caption (e.g. the lead count)."""
    cell, left, top = 104, 110, 64
    frame = Frame(
        width=left + cell * len(columns) + 20, height=top + cell * len(rows) + 20, left=left, top=top
    )
    known = [v for v in values.values() if v is not None]
    maximum = max(known, default=0.0)
    body = [
        f'<text x="{left + cell * len(columns) / 2:.1f}" y="20" font-size="12" text-anchor="middle" '
        f'fill="#222">{_e(column_label)}</text>',
        f'<text x="16" y="{top + cell * len(rows) / 2:.1f}" font-size="12" text-anchor="middle" fill="#222" '
        f'transform="rotate(-90 16 {top + cell * len(rows) / 2:.1f})">{_e(row_label)}</text>',
    ]
    for j, column in enumerate(columns):
        body.append(
            f'<text x="{left + j * cell + cell / 2:.1f}" y="{top - 10}" font-size="13" text-anchor="middle" '
            f'font-weight="600" fill="#222">{_e(column)}</text>'
        )
    for i, row in enumerate(rows):
        body.append(
            f'<text x="{left - 10}" y="{top + i * cell + cell / 2 + 5:.1f}" font-size="13" text-anchor="end" '
            f'font-weight="600" fill="#222">{_e(row)}</text>'
        )
        for j, column in enumerate(columns):
            value = values.get((row, column))
            colour = _heat(value, maximum)
            dark = value is not None and maximum > 0 and value / maximum > 0.55
            ink = "#fff" if dark else "#222"
            x, y = left + j * cell, top + i * cell
            shown = "–" if value is None else value_format.format(value)
            lines = captions.get((row, column), [])
            body.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell - 3}" height="{cell - 3}" rx="4" '
                f'fill="{colour}"><title>{_e(row)} / {_e(column)}: {_e(shown)}; '
                f"{_e(', '.join(lines))}</title></rect>"
                f'<text x="{x + cell / 2 - 1.5:.1f}" y="{y + cell / 2 - 6:.1f}" font-size="15" '
                f'text-anchor="middle" font-weight="600" fill="{ink}">{_e(shown)}</text>'
            )
            for k, line in enumerate(lines):
                body.append(
                    f'<text x="{x + cell / 2 - 1.5:.1f}" y="{y + cell / 2 + 12 + 13 * k:.1f}" font-size="11" '
                    f'text-anchor="middle" fill="{ink}">{_e(line)}</text>'
                )
    return _svg(chart_id, title, frame, body)


# --------------------------------------------------------------------------------------------------
# Reading the data
# --------------------------------------------------------------------------------------------------


def _score_bins(
    con: duckdb.DuckDBPyConnection, tiers: list[str]
) -> list[tuple[float, float, dict[str, int]]]:
    low, high = con.execute(
        "select floor(min(cast(score_total as double))), ceil(max(cast(score_total as double))) "
        "from marts.lead_scores"
    ).fetchone()
    low, high = float(low), float(max(high, low + 1))
    width = _nice_max((high - low) / 30)
    start = math.floor(low / width) * width
    count = max(1, math.ceil((high - start) / width))
    rows = con.execute(
        """
        select cast(floor((cast(score_total as double) - ?) / ?) as integer) as bin, tier, count(*)
        from marts.lead_scores group by all
        """,
        [start, width],
    ).fetchall()
    bins = [(start + i * width, start + (i + 1) * width, {}) for i in range(count + 1)]
    for index, tier, n in rows:
        bins[min(index, len(bins) - 1)][2][tier] = n
    while len(bins) > 1 and not bins[-1][2]:
        bins.pop()
    return bins


def gains_points(backtest: BacktestReport) -> list[tuple[float, float]]:
    """(share of leads, share of conversions) after each score decile, best first, from (0, 0)."""
    deciles = backtest.rates_of("score_decile")
    total_leads = sum(r["observations"] for r in deciles) or 1
    total_conversions = sum(r["conversions"] for r in deciles) or 1
    points, leads, conversions = [(0.0, 0.0)], 0, 0
    for row in deciles:
        leads += row["observations"]
        conversions += row["conversions"]
        points.append((leads / total_leads, conversions / total_conversions))
    return points


def _read_impact(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


# --------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------

STYLE = """
body { margin: 0; background: #f6f7f9; color: #1d2330;
  font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 19px; margin: 34px 0 6px; }
p.lead { color: #4a5263; margin: 0 0 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0; }
.card { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 12px 16px;
  min-width: 150px; }
.card b { display: block; font-size: 22px; } .card span { color: #5a6272; font-size: 13px; }
.panel { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; padding: 14px;
  margin: 10px 0; overflow-x: auto; }
.row { display: flex; flex-wrap: wrap; gap: 12px; } .row .panel { flex: 1 1 440px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border-bottom: 1px solid #e6e8ee; padding: 5px 10px; text-align: right; }
th.text, td.text { text-align: left; } th { background: #f1f3f6; }
.note { color: #5a6272; font-size: 13px; } .missing { color: #8a5a00; }
.up { color: #1b7f5c; } .down { color: #b5473a; }
"""


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: Sequence[int] = (0,)) -> str:
    head = "".join(
        f"<th{' class=text' if j in text_columns else ''}>{_e(h)}</th>" for j, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = []
        for j, cell in enumerate(row):
            css = ' class="text"' if j in text_columns else ""
            cells.append(f"<td{css}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _impact_section(impact: dict[str, Any] | None) -> str:
    if impact is None:
        return (
            '<p class="missing">No impact run yet: <code>leadscore impact --base REF</code> compares the '
            "point tables of a git ref with the working tree's and keeps its result for this report.</p>"
        )
    versions = impact["scoring_versions"]
    parts = [
        f'<p class="note">Point tables of <code>{_e(impact["base_ref"])}</code> '
        f"({_e(impact['base_commit'][:10])}) against the working tree, same raw data scored as of "
        f"{_e(impact['as_of'])}: scoring model <code>{_e(versions['base'])}</code> → "
        f"<code>{_e(versions['head'])}</code>; seeds changed: "
        f"{_e(', '.join(impact['seeds_changed']) or 'none')}. Run {_e(impact['generated_at'])}.</p>",
        '<div class="cards">',
        _card(f"{impact['leads_score_changed']:,}", f"of {impact['leads_compared']:,} leads change score"),
        _card(f"{impact['tier']['changed']:,}", "change tier"),
        _card(f"{impact['mql']['changed']:,}", "change MQL status"),
        _card(f"{impact['grade_cell']['changed']:,}", "change grade cell"),
        _card(_num(impact["spearman"]), "Spearman rank correlation"),
        "</div>",
    ]
    tier = impact["tier"]
    keys = tier["keys"]
    values = {(f, t): float(tier["counts"][i][j]) for i, f in enumerate(keys) for j, t in enumerate(keys)}
    captions = {(f, t): ["leads"] for f in keys for t in keys}
    parts.append('<div class="row"><div class="panel">')
    parts.append(
        heat_map(
            "impact-tier-matrix",
            "Tier before and after the change",
            keys,
            keys,
            values,
            captions,
            "tier with the base's tables",
            "tier with this change",
            value_format="{:,.0f}",
        )
    )
    parts.append("</div>")
    backtest = impact.get("backtest")
    if backtest:
        rows = []
        for metric in backtest["metrics"]:
            digits = 2 if "lift" in metric["metric"] else 3
            delta = metric["delta"]
            css = "" if delta is None or abs(delta) < 1e-12 else ("up" if delta > 0 else "down")
            rows.append(
                [
                    _e(metric["label"]),
                    _num(metric["base"], digits),
                    _num(metric["head"], digits),
                    f'<span class="{css}">{"n/a" if delta is None else f"{delta:+.{digits}f}"}</span>',
                ]
            )
        parts.append('<div class="panel"><b>Backtest</b>')
        parts.append(_table(["metric", "base", "this change", "Δ"], rows))
        parts.append("</div>")
    parts.append("</div>")
    movers = impact.get("top_movers") or []
    if movers:
        rows = []
        for mover in movers:
            rules = "; ".join(
                f"{_e(r['rule_type'])} <code>{_e(r['rule'])}</code> {r['base']:.4g} → {r['head']:.4g}"
                for r in mover["rules"][:3]
            )
            rows.append(
                [
                    _e(mover["lead_id"]),
                    f"{mover['base']['score']:g} → {mover['head']['score']:g} ({mover['delta']:+g})",
                    f"{_e(mover['base']['tier'])} → {_e(mover['head']['tier'])}",
                    rules,
                ]
            )
        parts.append('<div class="panel"><b>Top movers</b>')
        parts.append(_table(["lead", "score", "tier", "rules that moved it"], rows, text_columns=(0, 2, 3)))
        parts.append("</div>")
    return "".join(parts)


@dataclass
class _Overview:
    """What the page shows of a warehouse: tiers, headline figures, score bins, grade cells, the backtest."""

    tiers: list[str]
    thresholds: list[float]
    leads: int
    as_of: object
    version: str
    mqls: int
    mean_score: float
    bins: list
    cell_counts: dict[str, int]
    backtest: BacktestReport | None


def _read_overview(warehouse: Path) -> _Overview:
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run `leadscore build` first")
    with connect_read_only(warehouse) as con:
        tiers_rows = con.execute(
            "select tier_key, min_score from point_tables.score_tiers order by tier_order"
        ).fetchall()
        tiers = [t for t, _ in tiers_rows]
        overview = con.execute(
            """
            select count(*), max(as_of_date), max(scoring_version), sum(case when is_mql then 1 else 0 end),
                avg(cast(score_total as double))
            from marts.lead_scores
            """
        ).fetchone()
        leads, as_of, version, mqls, mean_score = overview
        cell_counts = dict(
            con.execute("select grade_cell, count(*) from marts.lead_scores group by all").fetchall()
        )
        try:
            backtest = read_backtest(con, version)
        except duckdb.CatalogException:
            backtest = None
        return _Overview(
            tiers=tiers,
            thresholds=[float(m) for _, m in tiers_rows if m is not None],
            leads=leads,
            as_of=as_of,
            version=version,
            mqls=mqls,
            mean_score=mean_score,
            bins=_score_bins(con, tiers),
            cell_counts=cell_counts,
            backtest=backtest,
        )


def _head_and_cards(ov: _Overview, warehouse: Path) -> list[str]:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>leadscore report — scores as of {_e(ov.as_of)}</title>",
        f"<style>{STYLE}</style></head><body><main>",
        "<h1>Lead scoring report</h1>",
        f'<p class="lead">Scores as of {_e(ov.as_of)} with scoring model <code>{_e(ov.version)}</code>, from '
        f"<code>{_e(warehouse.name)}</code>; generated {_e(generated)}.</p>",
        '<div class="cards">',
        _card(f"{ov.leads:,}", "leads scored"),
        _card(f"{ov.mqls:,}", "marketing-qualified leads"),
        _card(f"{ov.mean_score:.2f}", "mean total score"),
    ]
    if ov.backtest:
        s = ov.backtest.summary
        parts += [
            _card(_num(s["roc_auc"]), "backtest ROC AUC"),
            _card(_pct(s["base_rate"]), f"converted within {s['window_days']} days"),
            _card(_pct(s["top_decile_capture_rate"]), "conversions in the top score decile"),
        ]
    parts.append("</div>")
    return parts


def _backtest_note(backtest: BacktestReport) -> str:
    s = backtest.summary
    return (
        f'<p class="note">Leads scored as of {s["score_dates"]} past dates '
        f"({_e(s['first_score_date'])} to {_e(s['last_score_date'])}) that were not yet customers: "
        f"{s['observations']:,} lead-dates, "
        f"{s['conversions']:,} became customers within {s['window_days']} days (observed until "
        f"{_e(s['observed_until'])}). Top tier <b>{_e(s['top_tier'])}</b> captures "
        f"{_pct(s['top_tier_capture_rate'])} of the conversions; MQLs {_pct(s['mql_capture_rate'])}; "
        f"{backtest.low_score_conversions:,} leads of the lowest tier converted anyway "
        "(marts.backtest_low_score_conversions).</p>"
    )


def _conversion_charts(backtest: BacktestReport, tiers: list[str]) -> list[str]:
    s = backtest.summary
    tier_rows = backtest.rates_of("tier")
    tier_colours = [
        TIER_COLOURS[tiers.index(r["segment_key"]) % 5] if r["segment_key"] in tiers else ACCENT
        for r in tier_rows
    ]
    deciles = backtest.rates_of("score_decile")
    return [
        '<div class="row"><div class="panel">',
        bar_chart(
            "conversion-by-tier",
            "Conversion rate by tier",
            [r["segment_key"] for r in tier_rows],
            [r["conversion_rate"] for r in tier_rows],
            colours=tier_colours,
            x_label="tier on the score date",
            y_label="converted in the window",
            reference=(s["base_rate"], f"base rate {_pct(s['base_rate'])}"),
            annotations=[f"n={r['observations']:,}" for r in tier_rows],
        ),
        '</div><div class="panel">',
        bar_chart(
            "conversion-by-decile",
            "Conversion rate by score decile",
            [r["segment_key"] for r in deciles],
            [r["conversion_rate"] for r in deciles],
            x_label="score decile (1 = best 10 %)",
            y_label="converted in the window",
            reference=(s["base_rate"], f"base rate {_pct(s['base_rate'])}"),
            annotations=[f"×{_num(r['lift'], 1)}" for r in deciles],
        ),
        "</div></div>",
        '<div class="row"><div class="panel">',
        gains_chart("cumulative-gains", "Cumulative gains", gains_points(backtest)),
        '</div><div class="panel">',
    ]


GRADE_ROWS, GRADE_COLUMNS = list("ABCD"), list("1234")


def _grade_conversion_map(backtest: BacktestReport, cell_counts: dict[str, int]) -> list[str]:
    cells = {(r["segment_key"][:1], r["segment_key"][1:]): r for r in backtest.rates_of("grade_cell")}
    observed = {cell: r["observations"] for cell, r in cells.items()}
    captions = {
        (f, e): [f"{observed.get((f, e), 0):,} tested", f"{cell_counts.get(f + e, 0):,} leads now"]
        for f in GRADE_ROWS
        for e in GRADE_COLUMNS
    }
    rates = {
        (f, e): (cells[(f, e)]["conversion_rate"] if (f, e) in cells else None)
        for f in GRADE_ROWS
        for e in GRADE_COLUMNS
    }
    chart = heat_map(
        "grade-matrix",
        "Conversion rate by grade cell",
        GRADE_ROWS,
        GRADE_COLUMNS,
        rates,
        captions,
        "fit grade",
        "engagement grade",
    )
    return [chart, "</div></div>"]


def _grade_count_map(cell_counts: dict[str, int]) -> list[str]:
    chart = heat_map(
        "grade-matrix",
        "Leads by grade cell",
        GRADE_ROWS,
        GRADE_COLUMNS,
        {(f, e): float(cell_counts.get(f + e, 0)) for f in GRADE_ROWS for e in GRADE_COLUMNS},
        {(f, e): ["leads"] for f in GRADE_ROWS for e in GRADE_COLUMNS},
        "fit grade",
        "engagement grade",
        value_format="{:,.0f}",
    )
    return ['<div class="panel">', chart, "</div>"]


def _effectiveness_section(ov: _Overview) -> list[str]:
    parts = ["<h2>Effectiveness (backtest)</h2>"]
    if ov.backtest is None:
        parts.append(
            '<p class="missing">No backtest for this scoring model yet: <code>leadscore backtest --from D1 '
            "--to D2 --every N</code> scores past dates and measures who converted after them.</p>"
        )
        return parts + _grade_count_map(ov.cell_counts)
    parts.append(_backtest_note(ov.backtest))
    parts += _conversion_charts(ov.backtest, ov.tiers)
    return parts + _grade_conversion_map(ov.backtest, ov.cell_counts)


def render(warehouse: Path, impact_path: Path | None = None) -> str:
    """The whole HTML page."""
    ov = _read_overview(warehouse)
    impact = _read_impact(impact_path)
    parts = _head_and_cards(ov, warehouse)
    parts += [
        "<h2>Score distribution</h2>",
        '<div class="panel">',
        histogram("score-distribution", "Leads by total score and tier", ov.bins, ov.tiers, ov.thresholds),
        "</div>",
    ]
    parts += _effectiveness_section(ov)
    parts += ["<h2>Last impact run</h2>", _impact_section(impact), "</main></body></html>"]
    return "\n".join(parts)


def write_report(warehouse: Path, out: Path, impact_path: Path | None = None) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(warehouse, impact_path), encoding="utf-8")
    return out
