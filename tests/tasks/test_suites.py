"""Suites as data (tasks/suites.py): run --suite, the suite's table in reports, gate --suite,
the shipped suites, and defective suite files."""

import json

import pytest

from bge_eval.cli import main
from bge_eval.report.data import build_report
from bge_eval.tasks.selection import plan_tasks
from bge_eval.tasks.suites import read_suite
from tests.helpers import REPO

EXAMPLE = REPO / "examples" / "own-data" / "example.suite.toml"
MODEL = "BAAI/bge-small-en-v1.5"


def test_a_suite_is_run_reported_and_gated(shared_data, tmp_path, tiny_bge, capsys):
    out = tmp_path / "out"
    assert main(["run", "--model", MODEL, "--model-path", str(tiny_bge), "--suite", str(EXAMPLE),
                 "--data-dir", str(shared_data), "--output", str(out), "--device", "cpu",
                 "--no-embedding-cache"]) == 0
    manifest = json.loads(next(out.rglob("bge_eval_manifest.json")).read_text())
    record = manifest["suites"]["example-own-data"]
    assert record["weights"] == {"ExampleSupportTickets": 1.0, "ExampleSentencePairs": 1.0, "STSBenchmark": 1.0}

    data = build_report([out])
    (table,) = [t for t in data.leaderboards if t.title.startswith("Suite: example-own-data")]
    (row,) = table.rows
    scores = {r.task: r.score for r in data.task_rows}
    assert row[2].mean == pytest.approx(sum(scores[t] for t in record["weights"]) / 3) and not row[2].partial
    assert set(table.headers) == {"Retrieval (1)", "STS (2)"}

    baseline = tmp_path / "baseline.json"
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--suite", str(EXAMPLE),
                 "--write-baseline", "--metric", "main_score"]) == 0
    written = json.loads(baseline.read_text())
    assert {e["task"] for e in written["entries"]} == set(record["weights"])
    capsys.readouterr()
    assert main(["gate", "--results", str(out), "--baseline", str(baseline), "--suite", str(EXAMPLE)]) == 0
    assert "gate: PASS" in capsys.readouterr().out


@pytest.mark.parametrize("suite", sorted((REPO / "tasks").glob("*.suite.toml")), ids=lambda p: p.name)
def test_the_shipped_suites_name_real_tasks(suite, shared_data):
    parsed = read_suite(suite)
    plan = plan_tasks(tuple(parsed.entries), None, shared_data)
    assert [t.name for t in plan.tasks] == parsed.entries and not plan.skipped


DEFECTS = [
    ("not-toml", "[suite\n", "not valid TOML"),
    ("no-head", '[[task]]\nname = "STS12"\n', "suite: Field required"),
    ("no-tasks", '[suite]\nname = "s"\n', "task: Field required"),
    ("name-and-path", '[suite]\nname = "s"\n[[task]]\nname = "STS12"\npath = "x"\n', "either name"),
    ("neither", '[suite]\nname = "s"\n[[task]]\nweight = 2\n', "either name"),
    ("weight-zero", '[suite]\nname = "s"\n[[task]]\nname = "STS12"\nweight = 0\n', "greater than 0"),
    ("weight-nan", '[suite]\nname = "s"\n[[task]]\nname = "STS12"\nweight = nan\n', "finite number"),
    ("bad-average", '[suite]\nname = "s"\naverage = "median"\n[[task]]\nname = "STS12"\n', "average: Input should be"),
    ("twice", '[suite]\nname = "s"\n[[task]]\nname = "STS12"\n[[task]]\nname = "STS12"\n', "listed twice"),
    ("unknown-task", '[suite]\nname = "s"\n[[task]]\nname = "STS99"\n', "no such task"),
    ("card-path-missing", '[suite]\nname = "s"\n[[task]]\npath = "no-such-card"\n', "no-such-card: no such folder"),
    ("card-path-not-a-card", '[suite]\nname = "s"\n[[task]]\npath = "."\n', "task.toml: missing"),
    ("unknown-key", '[suite]\nname = "s"\ncolour = "red"\n[[task]]\nname = "STS12"\n', "suite.colour: Extra inputs"),
    ("weight-text", '[suite]\nname = "s"\n[[task]]\nname = "STS12"\nweight = "2"\n', "task.0.weight: Input should be"),
]


def test_validate_reads_a_suites_cards_relative_to_the_suite_file(tmp_path, capsys, monkeypatch):
    """The example suite validated from another working folder: its card paths are the suite file's."""
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "suite example-own-data: valid (1 registry task(s): STSBenchmark; 2 card(s))" in out
    assert "ExampleSupportTickets (Retrieval, eng): valid" in out and "ExampleSentencePairs (STS, eng): valid" in out


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("name,text,message", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_defective_suite_is_one_clear_line(name, text, message, command, tmp_path, tiny_bge, capsys):
    suite = tmp_path / "bad.suite.toml"
    suite.write_text(text, encoding="utf-8")
    args = (["run", "--model", MODEL, "--model-path", str(tiny_bge), "--suite", str(suite), "--output",
             str(tmp_path / "out"), "--device", "cpu", "--no-embedding-cache"] if command == "run"
            else ["validate", str(suite)])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("bge_eval: error") == 1, err
    assert not (tmp_path / "out").exists()
