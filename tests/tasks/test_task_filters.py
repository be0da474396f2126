"""Selecting tasks the mteb way (--task-types, --languages, --categories, --eval-splits): the same
task lists as mteb.get_tasks with the same filters, alone over mteb's registry or over a benchmark
as mteb.filter_tasks gives them; a run takes only what the filters pick."""

from __future__ import annotations

import json

import mteb
import pytest

from bge_eval import api
from bge_eval.cli import main


def names(tasks):
    return sorted(t.metadata.name for t in tasks)


@pytest.mark.parametrize("filters", [
    {"task_types": ["Retrieval"], "languages": ["eng"]},
    {"task_types": ["STS", "PairClassification"], "languages": ["cmn"]},
    {"categories": ["t2c"], "languages": ["fra"]},
    {"task_types": ["Clustering"]},
])
def test_a_filter_alone_picks_what_mteb_get_tasks_picks(filters):
    listed = api.describe_tasks(**filters)
    assert sorted(row.task for row in listed.rows) == names(mteb.get_tasks(**filters))


def test_over_a_benchmark_the_filter_is_mteb_s_filter_tasks():
    listed = api.describe_tasks(benchmark="MTEB(eng, v1)", task_types=["STS", "Summarization"])
    expected = mteb.filter_tasks(mteb.get_benchmark("MTEB(eng, v1)").tasks, task_types=["STS", "Summarization"])
    assert sorted(row.task for row in listed.rows) == names(expected) and len(expected) == 11
    chinese = api.describe_tasks(benchmark="C-MTEB", languages=["cmn"], task_types=["Retrieval"])
    assert len(chinese.rows) == 8


def test_eval_splits_narrow_each_task_and_leave_out_those_without_them():
    listed = api.describe_tasks(benchmark="C-MTEB", eval_splits=["dev"])
    assert listed.rows and all(row.splits == ["dev"] for row in listed.rows)
    every = api.describe_tasks(benchmark="C-MTEB")
    assert sorted(r.task for r in listed.rows) == sorted(r.task for r in every.rows if "dev" in r.splits)


def test_multilingual_tasks_keep_the_languages_subsets():
    (sts22,) = [t for t in mteb.get_tasks(tasks=["STS22"], languages=["eng"])]
    from bge_eval.tasks.selection import TaskFilter, plan_tasks

    (planned,) = [p for p in plan_tasks((), "MTEB(eng, v1)", None, "en", TaskFilter(("STS",), ("eng",))).tasks
                  if p.name == "STS22"]
    assert planned.task.hf_subsets == sts22.hf_subsets


@pytest.mark.world  # the demo suite's run needs the bundled model's weights
def test_a_run_takes_only_what_the_filters_pick(tmp_path, capsys):
    assert main(["run", "--benchmark", "demo", "--task-types", "STS", "--output", str(tmp_path / "out"),
                 "--no-embedding-cache", "--no-progress"]) == 0
    results = sorted(p.stem for p in (tmp_path / "out").glob("results/*/*/*.json")
                     if p.name not in ("model_meta.json", "bge_eval_manifest.json"))
    assert results == ["BgeEvalDemoSTS", "BgeEvalDemoSTSZh"]
    capsys.readouterr()
    assert main(["tasks", "--benchmark", "demo", "--languages", "cmn", "--json"]) == 0
    listed = [json.loads(line)["task"] for line in capsys.readouterr().out.splitlines()]
    assert listed == ["BgeEvalDemoRetrievalZh", "BgeEvalDemoSTSZh"]


def test_version_names_both_packages(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    expected = f"bge_eval {metadata.version('bge_eval')} (mteb {metadata.version('mteb')})"
    assert capsys.readouterr().out.strip() == expected


@pytest.mark.parametrize("command", [["tasks"], ["tasks", "--benchmark", "MTEB(eng, v1)"], ["run"]])
@pytest.mark.parametrize("code", ["xx", "zz-Latn"])
def test_a_language_mteb_does_not_know_is_one_line(command, code, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*command, "--languages", code]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bge_eval: error: --languages {code!r}: Invalid language code") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
