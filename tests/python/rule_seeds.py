"""Point-table edits that use the engine's rule features beyond the default tables: event rules narrowed by an
event property, and RFM bands as quantiles. Shared by the tests that check those features end to end, on
every engine, incrementally and against the reference scorers, so that they all exercise the same rules."""

from __future__ import annotations

from pathlib import Path

# page_view narrowed by its url (the documented example: pricing +5, careers -2, product pages +2; any other
# page keeps the default page_view rule), and content_download narrowed with no rule left for the type's other
# events (an e-book or a white paper scores, a checklist or a case study scores nothing).
NARROWED_RULES = (
    "pricing_page,page_view,url,pricing,1,evaluation,5,25,30,A page whose url names pricing\n"
    "careers_page,page_view,url,careers,2,none,-2,-6,30,A careers page: job seekers are not buyers\n"
    "product_page,page_view,url,^/(product|features),,discovery,2,10,30,A product or feature page\n"
    "ebook_download,content_download,url,ebook|whitepaper,,discovery,5,25,60,An e-book or white paper\n"
)
PLAIN_CONTENT_DOWNLOAD = "content_download,content_download,,,,discovery,5,25,60,"

# Frequency and monetary banded by quintiles of the customers; recency keeps its fixed days.
QUANTILE_BANDS = "".join(
    f"{dimension},{score},quantile,{low},{high}\n"
    for dimension in ("frequency", "monetary")
    for score, low, high in (
        (1, "0", "0.2"),
        (2, "0.2", "0.4"),
        (3, "0.4", "0.6"),
        (4, "0.6", "0.8"),
        (5, "0.8", ""),
    )
)


def narrow_event_rules(seeds: Path) -> None:
    """Add NARROWED_RULES to engagement_event_points and drop content_download's rule without a property."""
    path = seeds / "engagement_event_points.csv"
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(PLAIN_CONTENT_DOWNLOAD)]
    assert len(kept) == len(lines) - 1, "the default content_download rule is not in the seed"
    path.write_text("".join(kept) + NARROWED_RULES)


def use_quantile_rfm_bands(seeds: Path) -> None:
    """Replace the frequency and monetary rows of rfm_bands with QUANTILE_BANDS."""
    path = seeds / "rfm_bands.csv"
    lines = path.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("frequency,", "monetary,"))]
    path.write_text("".join(kept) + QUANTILE_BANDS)
