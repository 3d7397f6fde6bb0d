"""The server-drawn SVG chart: structure, proportions, accessibility, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from cpl_service.web.charts import PALETTE, PLOT_HEIGHT, Series, nice_scale, stacked_bars_svg

NS = {"svg": "http://www.w3.org/2000/svg"}
HOSTILE = '</title><script>alert("x")</script><rect onload="alert(1)"/> & é'


def chart(
    categories: list[str] | None = None, series: list[Series] | None = None, **kw: str
) -> ET.Element:
    markup = stacked_bars_svg(
        chart_id=kw.get("chart_id", "test-chart"),
        title=kw.get("title", "End dates"),
        description=kw.get("description", "Bars by month"),
        categories=categories if categories is not None else ["Jan", "Feb", "Mar"],
        series=series
        if series is not None
        else [Series("Gas", [2, 0, 4]), Series("Electricity", [1, 0, 4])],
    )
    return ET.fromstring(str(markup))


def bars(svg: ET.Element) -> list[ET.Element]:
    return svg.findall("svg:g[@class='bar']", NS)


def test_one_bar_per_category_and_one_segment_per_non_zero_value() -> None:
    svg = chart()
    found = bars(svg)
    assert [b.get("data-category") for b in found] == ["Jan", "Feb", "Mar"]
    assert [b.get("data-total") for b in found] == ["3", "0", "8"]
    assert [len(b.findall("svg:rect", NS)) for b in found] == [2, 0, 2]
    jan = found[0].findall("svg:rect", NS)
    assert [(r.get("data-series"), r.get("data-value")) for r in jan] == [
        ("Gas", "2"),
        ("Electricity", "1"),
    ]
    assert jan[0].find("svg:title", NS).text == "Jan, Gas: 2"  # type: ignore[union-attr]


def test_heights_are_proportional_and_segments_stack_without_gaps() -> None:
    svg = chart(series=[Series("A", [1, 3, 10]), Series("B", [7, 0, 0])])
    scale, _ = nice_scale(10)
    per_unit = PLOT_HEIGHT / scale
    base = None
    for bar in bars(svg):
        below = None
        for rect in bar.findall("svg:rect", NS):
            value = int(rect.get("data-value", "0"))
            height = float(rect.get("height", "0"))
            assert height == pytest.approx(value * per_unit, abs=0.02)
            bottom = float(rect.get("y", "0")) + height
            if below is None:
                base = bottom if base is None else base
                assert bottom == pytest.approx(base, abs=0.02)  # every bar on one baseline
            else:
                assert bottom == pytest.approx(below, abs=0.02)  # on top of the one below
            below = float(rect.get("y", "0"))


def test_named_and_described_for_assistive_technology() -> None:
    svg = chart(title="CPA end dates", description="Twenty-four bars")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "test-chart-title test-chart-desc"
    title = svg.find("svg:title", NS)
    desc = svg.find("svg:desc", NS)
    assert title is not None and title.get("id") == "test-chart-title"
    assert title.text == "CPA end dates"
    assert desc is not None and desc.get("id") == "test-chart-desc"
    assert desc.text == "Twenty-four bars"


def test_legend_names_every_series_and_each_has_its_own_pattern() -> None:
    names = [f"Type {i}" for i in range(9)]
    svg = chart(categories=["Jan"], series=[Series(n, [1]) for n in names])
    legend = svg.find("svg:g[@class='legend']", NS)
    assert legend is not None
    assert [t.text for t in legend.findall("svg:text", NS)] == names
    patterns = svg.findall("svg:defs/svg:pattern", NS)
    assert len(patterns) == 9
    assert len({p.get("id") for p in patterns}) == 9
    fills = [r.get("fill") for r in bars(svg)[0].findall("svg:rect", NS)]
    assert fills == [f"url(#test-chart-s{i})" for i in range(9)]
    # Colour is not the only cue: apart from the first, every pattern draws a mark.
    assert all(p.find("svg:path", NS) is not None for p in patterns[1:8])


def test_a_series_can_keep_its_look_whatever_its_position() -> None:
    svg = chart(categories=["Jan"], series=[Series("Gas", [1], look=4), Series("Hub", [1])])
    colours = [
        p.find("svg:rect", NS).get("fill")  # type: ignore[union-attr]
        for p in svg.findall("svg:defs/svg:pattern", NS)
    ]
    assert colours == [PALETTE[4], PALETTE[1]]


def test_no_style_attribute_and_no_script_anywhere() -> None:
    markup = str(
        stacked_bars_svg(
            chart_id="c",
            title=HOSTILE,
            description=HOSTILE,
            categories=[HOSTILE],
            series=[Series(HOSTILE, [5])],
        )
    )
    svg = ET.fromstring(markup)
    for element in svg.iter():
        assert "style" not in element.attrib
        assert not any(name.startswith("on") for name in element.attrib)
        assert not element.tag.endswith("script")
    assert "<script" not in markup


def test_hostile_names_are_escaped_and_kept_as_text() -> None:
    svg = chart(
        categories=[HOSTILE], series=[Series(HOSTILE, [2])], title=HOSTILE, description=HOSTILE
    )
    assert svg.find("svg:title", NS).text == HOSTILE  # type: ignore[union-attr]
    assert svg.find("svg:desc", NS).text == HOSTILE  # type: ignore[union-attr]
    (bar,) = bars(svg)
    assert bar.get("data-category") == HOSTILE
    (rect,) = bar.findall("svg:rect", NS)
    assert rect.get("data-series") == HOSTILE
    assert len(svg.findall(".//svg:rect", NS)) == 1 + 1 + 1  # the bar, the pattern tile, the swatch


def test_an_empty_chart_draws_an_axis_and_no_bars() -> None:
    svg = chart(series=[Series("Gas", [0, 0, 0])])
    assert all(not b.findall("svg:rect", NS) for b in bars(svg))
    ticks = [t.text for t in svg.findall("svg:g[@class='axis']/svg:text", NS)]
    assert ticks == ["0", "1"]
    no_series = chart(series=[])
    assert len(bars(no_series)) == 3


@pytest.mark.parametrize(
    ("largest", "expected"),
    [
        (0, (1, 1)),
        (1, (1, 1)),
        (5, (5, 1)),
        (6, (6, 2)),
        (7, (8, 2)),
        (11, (15, 5)),
        (38, (40, 10)),
        (101, (150, 50)),
        (1234, (1500, 500)),
    ],
)
def test_axis_scale_is_round(largest: int, expected: tuple[int, int]) -> None:
    assert nice_scale(largest) == expected


@pytest.mark.parametrize(
    "kw",
    [
        {"chart_id": 'x" onload="a'},
        {"chart_id": "1abc"},
        {"series": [Series("A", [1, 2])]},
        {"series": [Series("A", [1, -1, 0])]},
    ],
)
def test_bad_input_is_refused(kw: dict) -> None:
    arguments = {
        "chart_id": "ok",
        "title": "t",
        "description": "d",
        "categories": ["a", "b", "c"],
        "series": [Series("A", [1, 2, 3])],
        **kw,
    }
    with pytest.raises(ValueError):
        stacked_bars_svg(**arguments)
