"""The report's index section on a real run with index variants (SciFact cut, all-MiniLM-L6-v2):
every variant's score is its result file's, the frontier marks exactly the undominated variants,
the variants stay out of the leaderboards, and the section reads in Chromium (screenshot in
test-artifacts/report-index.png)."""

from __future__ import annotations

import json

from bge_eval.api import build_report
from bge_eval.cli import main
from tests.index.conftest import VARIANTS


def test_the_section_holds_every_variant_with_its_own_score_and_figures(indexed):
    root, first, _ = indexed
    data = build_report(root)
    assert [run.revision for run in data.runs] == [first.name]  # the variants are not leaderboard rows
    (section,) = data.index_variants
    assert (section.task, section.split, section.revision) == ("SciFact", "test", first.name)
    assert [p.variant for p in section.points][0] == "exact" and {p.variant for p in section.points} == {
        "exact", *VARIANTS}
    exact = json.loads((first / "SciFact.json").read_text())["scores"]["test"][0]["main_score"]
    for point in section.points:
        folder = first.with_name(first.name + "+index-" + point.variant.replace(":", "-"))
        saved = json.loads((folder / "SciFact.json").read_text())["scores"]["test"][0]["main_score"]
        figures = json.loads(next((root / "predictions").glob(f"*/{folder.name}/SciFact_index.json")).read_text())
        assert point.score == saved and abs(point.delta - (saved - exact)) < 1e-12
        assert point.bytes_per_vector == figures["bytes_per_vector"]
        assert point.latency_p50_ms == figures["latency_p50_ms"]
        others = [o for o in section.points if o is not point]
        dominated = any(o.score >= point.score and o.bytes_per_vector <= point.bytes_per_vector
                        and (o.score, o.bytes_per_vector) != (point.score, point.bytes_per_vector) for o in others)
        assert point.frontier_bytes is not dominated
    smallest = min(section.points, key=lambda p: p.bytes_per_vector)
    assert smallest.frontier_bytes and section.recommendations[0].startswith(
        f"Up to {smallest.bytes_per_vector:,.0f} bytes per vector")
    assert any(line.startswith("Smallest within 1 point of exact: ") for line in section.recommendations)


def test_the_markdown_and_the_page_show_the_section_in_chromium(indexed, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.helpers import launch_chromium
    from tests.report.test_report import ARTIFACTS

    root, _, _ = indexed
    out = tmp_path / "report"
    assert main(["report", str(root), "--output", str(out)]) == 0
    markdown = (out / "README.md").read_text()
    assert "## What deployment loses: index variants" in markdown and "| binary-rescore:100 |" in markdown
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p, errors)
        for width in (1400, 1000):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto((out / "index.html").as_uri())
            table = page.locator("table.index-variants")
            assert table.locator("tr").count() == len(VARIANTS) + 2  # header, exact, variants
            frontier = table.locator("td.frontier")
            assert frontier.count() >= 1
            assert page.evaluate("getComputedStyle(document.querySelector('td.frontier')).backgroundColor") == \
                "rgb(219, 233, 248)"
            chart = page.locator("img[alt^='Pareto chart: SciFact']")
            assert chart.evaluate("img => img.complete && img.naturalWidth > 600")
            assert page.locator("ul.recommend li").first.inner_text().startswith("Up to ")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            if width == 1400:
                page.set_viewport_size({"width": width, "height": 1250})
                page.evaluate("document.getElementById('index-variants').scrollIntoView()")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "report-index.png"))
            page.close()
        browser.close()
    assert errors == []
