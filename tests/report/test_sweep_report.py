"""A report over a sweep: tasks x models, the best model per task, deltas against --base with
the gate's paired test, a chart of the deltas; an unknown base is one clear error."""

import json
import shutil

import pytest

from bge_eval.cli import main
from bge_eval.report.data import build_report
from tests.helpers import MINILM, write_jsonl

CLS = "local/minilm-cls"


@pytest.fixture(scope="module")
def sweep(minilm_path, shared_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    cls = shutil.copytree(minilm_path, root / "cls")
    pooling = json.loads((cls / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    card = root / "SweepSTS"
    rows = [json.loads(line) for line in (shared_data / "STSBenchmark" / "test.jsonl").read_text().splitlines()[:300]]
    write_jsonl(card / "test.jsonl", rows)
    (card / "task.toml").write_text('name = "SweepSTS"\ntype = "STS"\nlanguage = "eng"\nscore_range = [0, 5]\n')
    out = root / "out"
    assert main(["run", "--model", MINILM, "--model", CLS, "--model-path", str(minilm_path), "--model-path", str(cls),
                 "--tasks", str(card), "BgeEvalDemoRetrieval", "--output", str(out), "--no-embedding-cache",
                 "--no-progress"]) == 0
    return out


def test_deltas_against_the_base_carry_the_gates_test(sweep):
    data = build_report([sweep], base=MINILM)
    table = data.sweep
    minilm = MINILM + " (local weights)"  # given by path: not the published weights, and marked so
    assert table.base == minilm and set(table.runs) == {minilm, CLS}
    assert table.tasks == [("SweepSTS", "test")]  # real tasks; the demo task stays in its section
    cell = table.cell(CLS, "SweepSTS", "test")
    base = table.cell(minilm, "SweepSTS", "test")
    assert cell.delta == pytest.approx(cell.score - base.score) and cell.delta < 0
    assert cell.p_value is not None and "paired bootstrap over 300 pairs (cosine_spearman)" in cell.test
    assert table.best[("SweepSTS", "test")] == minilm and table.chart_png


def test_the_report_shows_the_sweep_and_refuses_an_unknown_base(sweep, tmp_path, capsys):
    assert main(["report", str(sweep), "--base", MINILM, "--output", str(tmp_path / "r")]) == 0
    html = (tmp_path / "r" / "index.html").read_text()
    assert 'id="sweep"' in html and "deltas against the base" in html
    markdown = (tmp_path / "r" / "README.md").read_text()
    assert "| SweepSTS | test |" in markdown and "(base)" in markdown
    capsys.readouterr()
    assert main(["report", str(sweep), "--base", "nobody/x", "--output", str(tmp_path / "bad")]) == 2
    assert "--base nobody/x: no run of that name" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_better_and_worse_differ_in_colour_with_a_legend_in_chromium(sweep, tmp_path):
    """The base comparison in a real browser: a significant drop is orange with a down arrow (a gain would
    be blue with an up arrow), the legend says so, bold marks only the best score; screenshot in
    test-artifacts/report-sweep.png."""
    from playwright.sync_api import sync_playwright

    from tests.helpers import launch_chromium
    from tests.report.test_report import ARTIFACTS

    out = tmp_path / "r"
    assert main(["report", str(sweep), "--base", MINILM, "--output", str(out)]) == 0
    cell = build_report([sweep], base=MINILM).sweep.cell(CLS, "SweepSTS", "test")
    assert cell.p_value is not None and cell.p_value < 0.05 and cell.delta < 0
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto((out / "index.html").as_uri())
        table = page.locator("table.sweep")
        worse = table.locator("td.worse")
        assert worse.count() == 1 and "\u25bc" in worse.inner_text() and table.locator("td.better").count() == 0
        colours = page.evaluate("""() => ['.better-key', '.worse-key', 'table.sweep td.worse'].map(
            s => getComputedStyle(document.querySelector(s)).backgroundColor)""")
        assert colours[0] == "rgb(219, 233, 248)" and colours[1] == colours[2] == "rgb(253, 227, 200)"
        legend = page.locator("p.legend").inner_text()
        assert "better than the base" in legend and "worse than the base" in legend
        assert table.locator("b").count() == 1 and page.locator("td.notable").count() == 0
        page.locator("#sweep").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-sweep.png"))
        browser.close()


def test_the_report_takes_mteb_s_filters(sweep, tmp_path, capsys):
    """The card (STS, eng) and the demo's retrieval task: --task-types keeps one, --languages none."""
    from bge_eval import api
    from bge_eval.errors import DataError

    every = api.build_report(sweep)
    assert {row.task for row in every.task_rows + every.demo_rows} == {"SweepSTS", "BgeEvalDemoRetrieval"}
    sts = api.build_report(sweep, task_types=["STS"])
    assert {row.task for row in sts.task_rows + sts.demo_rows} == {"SweepSTS"}
    assert {t.task for run in sts.runs for t in run.time} == {"SweepSTS"}
    retrieval = api.build_report(sweep, languages=["eng"], task_types=["Retrieval"])
    assert {row.task for row in retrieval.task_rows + retrieval.demo_rows} == {"BgeEvalDemoRetrieval"}
    with pytest.raises(DataError, match="no reported task matches the filters"):
        api.build_report(sweep, languages=["cmn"])
    assert main(["report", str(sweep), "--task-types", "STS", "--output", str(tmp_path / "r")]) == 0
    assert "BgeEvalDemoRetrieval" not in (tmp_path / "r" / "README.md").read_text()
