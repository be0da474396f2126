"""Reports from real saved results: numbers match the result files, Markdown is pipe tables,
and the HTML opens in a real headless Chromium with no console errors and decodable images."""

import json
import re

import pytest

from bge_eval.cli import main
from bge_eval.config import RunConfig
from bge_eval.report.data import build_report
from bge_eval.run.runner import run
from tests.helpers import MINILM, REPO, launch_chromium, record_errors

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def two_runs(scifact_subset, tmp_path_factory):
    """MiniLM on STSBenchmark, a SciFact subset and the demo suite (policy bge), and the demo
    suite again with policy none (for the ablation)."""
    first = tmp_path_factory.mktemp("run-bge")
    run(RunConfig(model=MINILM, tasks=("STSBenchmark", "SciFact"), data_dir=scifact_subset, output=first,
                  device="cpu"))
    run(RunConfig(model=MINILM, benchmark="demo", output=first, device="cpu"))
    second = tmp_path_factory.mktemp("run-none")
    run(RunConfig(model=MINILM, benchmark="demo", output=second, device="cpu", instruction_policy="none"))
    return first, second


@pytest.fixture(scope="module")
def report_dir(two_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(two_runs[0]), "--baseline", str(two_runs[1]), "--output", str(out)]) == 0
    return out


def test_report_numbers_equal_the_result_files(two_runs):
    data = build_report(list(two_runs))
    assert len(data.runs) == 2
    for row in data.task_rows:
        run_ = next(r for r in data.runs if r.label == row.run)
        saved = json.loads((run_.results_dir / f"{row.task}.json").read_text())["scores"][row.split][0]
        assert row.score == pytest.approx(saved["main_score"], abs=1e-12)
        for metric, value in row.metrics.items():
            assert value == pytest.approx(saved[metric], abs=1e-12)
    sts = next(r for r in data.task_rows if r.task == "STSBenchmark")
    assert sts.published == pytest.approx(0.820325) and abs(sts.delta) < 5e-4 and not sts.notable
    (mteb_table,) = [t for t in data.leaderboards if t.title.startswith("MTEB:")]
    assert "Retrieval (15)" in mteb_table.headers and "STS (10)" in mteb_table.headers
    ours = next(row for row in mteb_table.rows
                if row[1].startswith(MINILM + " [bge") and not row[1].endswith("(published)"))
    assert ours[2].n == 2 and ours[2].expected == 56 and ours[2].partial
    assert {(a.task, a.split) for a in data.ablation} >= {("BgeEvalDemoRetrieval", "test")}
    assert all(a.delta == pytest.approx(a.with_instruction - a.without) for a in data.ablation)
    assert {f.task for f in data.figures} == {"STSBenchmark", "SciFact"}
    assert "BgeEvalDemoPairClassification" in {f.task for f in data.demo_figures}
    assert all(r.demo for r in data.demo_rows) and not any(r.demo for r in data.task_rows)
    order = [(r.task, r.split, r.run) for r in data.task_rows]
    assert [(f.task, f.split, f.run) for f in data.figures] == [k for k in order if k[0] in ("STSBenchmark", "SciFact")]
    references = [row for row in mteb_table.rows if row[0] is None]
    assert [row[1] for row in references] == [f"{MINILM} (published)"]  # one reference row, not ranked
    assert [row[0] for row in mteb_table.rows if row[0] is not None] == [1]  # the demo-only run has no row
    assert "2 of the benchmark's 56 tasks ran" in mteb_table.note and "Clustering (11)" in mteb_table.note
    assert "Clustering (11)" not in mteb_table.headers and data.comparison_png


def test_the_model_and_data_fingerprints_are_shown(two_runs, report_dir):
    (manifest,) = two_runs[0].rglob("bge_eval_manifest.json")
    identity = json.loads(manifest.read_text())["tasks"]["SciFact"]["identity"]
    weights, data = identity["weights"], identity["data"]
    assert len(weights) == 64 and data.startswith("files:") and len(data) == len("files:") + 64
    markdown, html = (report_dir / "README.md").read_text(), (report_dir / "index.html").read_text()
    assert weights[:12] in markdown and weights[:12] in html
    per_task = markdown.split("## Per-task scores", 1)[1]
    scifact_row = next(line for line in per_task.splitlines() if line.startswith("| SciFact |"))
    assert scifact_row.endswith(f"| {data[:18]} |")  # the data column: "files:" and 12 hex digits
    assert data[:18] in html


def test_where_the_time_went_is_the_manifests(two_runs, report_dir):
    (manifest,) = two_runs[0].rglob("bge_eval_manifest.json")
    record = json.loads(manifest.read_text())["tasks"]["STSBenchmark"]
    phases, texts = record["phases"], record["texts"]
    assert sum(phases.values()) <= record["wall_s"] + 0.01  # parts of the task's wall time
    assert texts["cached"] + texts["encoded"] == texts["distinct"] <= texts["texts"] == 2758  # 1,379 pairs
    cells = [f"{record['wall_s']:.2f}", *(f"{phases[k]:.2f}" for k in ("load_s", "encode_s", "score_s", "write_s")),
             *(f"{texts[k]:,}" for k in ("texts", "encoded", "cached"))]
    markdown, html = (report_dir / "README.md").read_text(), (report_dir / "index.html").read_text()
    timing = markdown.split("Where the time went", 1)[1]
    assert f"| STSBenchmark | {' | '.join(cells)} |" in timing.splitlines()
    assert f"<td class=\"name\">STSBenchmark</td><td>{'</td><td>'.join(cells)}</td>" in html


def test_markdown_is_pipe_tables(report_dir):
    text = (report_dir / "README.md").read_text()
    assert "<table" not in text and "<img" not in text
    tables = re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M)
    assert len(tables) >= 5
    for table in tables:
        lines = table.strip().splitlines()
        assert re.fullmatch(r"\|( -+:? \|| -+ \|)+", lines[1]), lines[1]
        assert len({line.count(" | ") for line in lines}) == 1, table  # same column count


def test_html_opens_in_headless_chromium(report_dir):
    """No console errors, every image decodes, the runs' comparison chart is there, and the page
    does not overflow sideways at 1,400 or 1,000 px."""
    from playwright.sync_api import sync_playwright

    html = (report_dir / "index.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # self-contained
    errors = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for width in (1400, 1000):
            page = browser.new_page(viewport={"width": width, "height": 900})
            record_errors(page, errors)
            page.goto((report_dir / "index.html").as_uri())
            page.wait_for_load_state("load")
            assert page.evaluate("document.documentElement.scrollWidth") == width, width
            assert page.locator("table.leaderboard").count() >= 1
            rule = page.locator("p.ranking-rule").first.inner_text()  # the ranking rule beside every table
            assert "then by how many tasks they ran, then by average" in rule
            assert page.locator("table.tasks tr").count() > 5
            assert page.locator("table.ablation").count() == 1
            assert page.locator("img[alt='score per task and run']").count() == 1
            assert page.locator("h2#demo").count() == 1
            images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            assert len(images) >= 4 and all(done and width > 0 for done, width in images)
            if width == 1400:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_captions_keep_their_spaces(report_dir):
    html = (report_dir / "index.html").read_text()
    assert re.search(r"\d\.Best-F1", html) is None and ". Best-F1 threshold" in html
