"""The issue charts: counts over time drawn as SVG bars, checked by their geometry."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tracehound.web.charts import bar_chart, bars, bucket_label, sparkline

SVG = "{http://www.w3.org/2000/svg}"
HOUR = 3600
START = 1_796_083_200  # 2026-12-01 00:00 UTC


def hourly(*counts: int) -> list[tuple[int, int]]:
    return [(START + i * HOUR, c) for i, c in enumerate(counts)]


def rects(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(f"{SVG}rect")


def test_the_busiest_bucket_fills_the_height_and_the_others_scale_to_it():
    result = bars(hourly(10, 5, 0), width=30, height=20)
    assert [b.height for b in result] == [20.0, 10.0, 0.0]
    assert [b.y for b in result] == [0.0, 10.0, 20.0]
    assert [b.x for b in result] == [0.0, 10.0, 20.0]


def test_one_event_beside_a_million_is_still_a_visible_bar():
    result = bars(hourly(1_000_000, 1), width=20, height=50)
    assert result[1].height == 1.0


def test_a_period_without_events_draws_no_bars_but_the_axis():
    svg = bar_chart(hourly(*[0] * 24))
    assert all(float(r.get("height", "x")) == 0 for r in rects(svg))
    assert ET.fromstring(svg).find(f"{SVG}line") is not None
    assert "0 events" in svg


def test_each_bar_tells_its_hour_and_count_and_the_chart_its_total():
    svg = bar_chart(hourly(3, 1), label="Last 24 hours")
    titles = [r.find(f"{SVG}title").text for r in rects(svg)]
    assert titles == ["2026-12-01 00:00 UTC: 3 events", "2026-12-01 01:00 UTC: 1 event"]
    assert ET.fromstring(svg).get("aria-label") == "Last 24 hours: 4 events"


def test_daily_buckets_are_labelled_by_date():
    daily = [(START, 2), (START + 86400, 7)]
    svg = bar_chart(daily)
    assert [r.find(f"{SVG}title").text for r in rects(svg)] == [
        "2026-12-01: 2 events",
        "2026-12-02: 7 events",
    ]
    assert "7" in ET.fromstring(svg).find(f"{SVG}text").text


def test_counts_beyond_a_billion_are_written_with_separators():
    assert "2,000,000,000 events" in bar_chart(hourly(2_000_000_000))


def test_the_label_is_escaped():
    svg = bar_chart(hourly(1), label='<script>"x"')
    assert "<script>" not in svg
    ET.fromstring(svg)  # still well-formed


def test_an_empty_series_says_so():
    svg = bar_chart([])
    assert "no data" in svg and rects(svg) == []


def test_a_timestamp_beyond_the_calendar_does_not_break_the_label():
    assert bucket_label(10**20, HOUR) == "?"


def test_the_sparkline_draws_only_the_buckets_with_events():
    svg = sparkline(hourly(0, 4, 0, 2))
    assert len(rects(svg)) == 2
    assert ET.fromstring(svg).get("aria-label") == "6 events in the last 24 hours"


def test_charts_carry_no_inline_style_the_csp_would_block():
    for svg in (bar_chart(hourly(1, 2)), sparkline(hourly(1, 2))):
        assert not re.search(r"\sstyle=", svg)
