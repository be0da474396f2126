"""compare's page in a real browser (Chromium, as the report's test): filtering SciFact by "lost since
the base" shows exactly the lost queries, a click shows the query's text, its relevant documents and
both sides' top 10 with texts, no request leaves the page, and nothing overflows sideways at 1,400
or 1,000 px. A screenshot goes to test-artifacts/compare.png."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bge_eval.cli import main
from tests.helpers import launch_chromium, record_errors

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="module")
def page_dir(runs, scifact_subset, tmp_path_factory):
    out = tmp_path_factory.mktemp("viewer")
    assert main(["compare", str(runs[0]), str(runs[1]), "--output", str(out), "--items", "50"]) == 0
    return out


def lines_of(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_page_is_self_contained_and_bounded(page_dir):
    html = (page_dir / "index.html").read_text()
    # no external script, style, font or image (the data's own texts may quote addresses)
    assert "<link" not in html and "src=" not in html and "@import" not in html and "url(" not in html
    written = json.loads((page_dir / "compare.json").read_text())
    sts = next(t for t in written["tasks"] if t["task"] == "CompareSTS")
    assert len(sts["items"]) == 300  # compare.json has every item; the page at most --items
    assert "Showing \" + task.shown" in html and '"shown": 50' in html and '"total": 300' in html
    size = (page_dir / "index.html").stat().st_size
    assert f"This page: {size / 1e3:.0f} KB" in html or f"This page: {size / 1e6:.2f} MB" in html


def test_the_viewer_filters_and_shows_texts_in_chromium(page_dir, comparison, scifact_subset):
    from playwright.sync_api import sync_playwright

    scifact = next(t for t in comparison.tasks if t.task == "SciFact")
    lost = sorted(c.item for c in scifact.lost())
    assert lost, "the perturbed model should lose at least one SciFact query"
    queries = {row["_id"]: row["text"] for row in lines_of(scifact_subset / "SciFact" / "queries.jsonl")}
    corpus = {row["_id"]: row["text"] for row in lines_of(scifact_subset / "SciFact" / "corpus.jsonl")}
    index = next(i for i, t in enumerate(comparison.tasks) if t.task == "SciFact")
    errors, requests = [], []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        for width in (1400, 1000):
            page = browser.new_page(viewport={"width": width, "height": 900})
            record_errors(page, errors)
            page.on("request", lambda request: requests.append(request.url))
            page.goto((page_dir / "index.html").as_uri())
            page.wait_for_load_state("load")
            section = page.locator(f"#task-{index}")
            section.locator("input.lost-only").check()
            rows = section.locator("tbody tr")
            assert sorted(rows.nth(i).get_attribute("data-item") for i in range(rows.count())) == lost
            rows.first.click()
            item = rows.first.get_attribute("data-item")
            detail = page.locator("#detail")
            assert detail.locator(".query-text").inner_text() == queries[item]
            change = next(c for c in scifact.items.changes if c.item == item)
            assert detail.locator(".base-top li").count() == len(change.detail["top"]["base"]) == 10
            assert detail.locator(".new-top li").count() == 10
            first_new = change.detail["top"]["new"][0][0]
            assert corpus[first_new][:80] in detail.locator(".new-top li").first.inner_text()
            assert detail.locator(".relevant-doc").count() == len(change.detail["relevant"])
            section.locator("input.lost-only").uncheck()
            section.locator("input.search").fill(queries[item][:30])
            assert rows.count() == 1 and rows.first.get_attribute("data-item") == item
            assert page.evaluate("document.documentElement.scrollWidth") == width, width
            if width == 1400:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "compare.png"))
        browser.close()
    assert errors == []
    assert requests and all(url == (page_dir / "index.html").as_uri() for url in requests)  # nothing else asked


def test_the_report_links_each_model_to_its_comparison_with_the_base(runs, tmp_path):
    from bge_eval import api
    from tests.helpers import MINILM

    folder = tmp_path / "sweep"
    for run in runs:
        shutil.copytree(run, folder, dirs_exist_ok=True)  # two identities of one model in one folder
    data = api.build_report(folder, output=tmp_path / "report", base=MINILM)
    ((label, link),) = data.sweep.links.items()
    assert label != data.sweep.base and link == "compare/01/index.html"
    page = (tmp_path / "report" / link).read_text()
    assert '"total": 60' in page and "the report's pages read no task data" in page
    assert f'href="{link}"' in (tmp_path / "report" / "index.html").read_text()
    assert f"]({link})" in (tmp_path / "report" / "README.md").read_text()


def test_texts_only_from_the_data_the_run_read(runs, comparison, tmp_path, monkeypatch):
    """Changed data, or data from the hub that the datasets cache does not hold: ids only, with the reason."""
    import bge_eval.comparison.texts as texts

    folder = tmp_path / "base"
    shutil.copytree(runs[0], folder)
    base = comparison.base
    moved = texts.Side(base.model, base.revision, folder / base.results_dir.relative_to(runs[0]))
    manifest_path = moved.results_dir / "bge_eval_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    sts_card = Path(next(t for t in manifest["config"]["tasks"] if t.endswith("CompareSTS")))
    copy = tmp_path / "CompareSTS"
    shutil.copytree(sts_card, copy)
    with (copy / "test.jsonl").open("a") as extra:
        extra.write('{"sentence1": "a", "sentence2": "b", "score": 1.0}\n')
    manifest["config"]["tasks"] = [str(copy) if t.endswith("CompareSTS") else t for t in manifest["config"]["tasks"]]
    manifest["tasks"]["SciFact"]["data_source"] = "hub"
    manifest_path.write_text(json.dumps(manifest))
    changed = texts.task_texts(moved, "CompareSTS", "test", "default", {"0"}, set())
    assert not changed.pairs and "not the files the run read" in changed.missing
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    hub = texts.task_texts(moved, "SciFact", "test", "default", {"1"}, set())
    assert not hub.queries and hub.missing
    same = texts.task_texts(comparison.base, "CompareSTS", "test", "default", {"0"}, set())
    assert same.pairs["0"][0] and not same.missing
