"""compare on real tasks: all-MiniLM-L6-v2 against a copy of it with noise added to every weight, on
SciFact (cut to 60 queries), STSBenchmark's first 300 pairs and ten Banking77 intents (cards), each
side a real run. Every per-item number compare gives must be the per-item files' own, re-average to
the result files' scores, and what it calls lost must follow from the saved rankings."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.stats import rankdata, spearmanr

from bge_eval import api
from bge_eval.cli import main
from bge_eval.metrics.detectable import detectable_mean_change
from bge_eval.metrics.ranking import ranking
from tests.helpers import run_readme_block


def by_task(comparison, task):
    (found,) = [t for t in comparison.tasks if t.task == task]
    return found


def saved(folder, suffix):
    (path,) = folder.rglob(f"*{suffix}")
    return json.loads(path.read_text())


def score(folder, task, metric):
    return saved(folder, f"/{task}.json")["scores"]["test"][0][metric]


def test_every_task_compared_and_the_perturbation_shows(comparison):
    assert sorted(t.task for t in comparison.tasks) == ["CompareIntents", "CompareSTS", "SciFact"]
    assert not comparison.left_out
    for t in comparison.tasks:
        counts = t.counts()
        assert sum(counts.values()) == len(t.items.changes) > 0
        assert counts["improved"] + counts["worse"] > 0, t.task  # the noise moved something
        assert t.test is not None and 0 < t.test.p_value <= 1 and t.detectable > 0


def test_query_values_are_the_per_query_files_and_average_to_ndcg(comparison, runs):
    t = by_task(comparison, "SciFact")
    files = [saved(folder, "SciFact_per_query.json")["default"]["test"] for folder in runs]
    assert len(t.items.changes) == 60
    for change in t.items.changes:
        assert change.base == files[0][change.item]["ndcg_at_10"]
        assert change.new == files[1][change.item]["ndcg_at_10"]
    for side, folder in zip(("base", "new"), runs, strict=True):
        mean = np.mean([getattr(c, side) for c in t.items.changes])
        assert mean == pytest.approx(score(folder, "SciFact", "ndcg_at_10"), abs=1e-5)
    assert t.base_score == score(runs[0], "SciFact", "ndcg_at_10") and t.new_score == score(runs[1], "SciFact",
                                                                                             "ndcg_at_10")


def test_relevant_ranks_and_lost_documents_follow_from_the_rankings(comparison, runs, scifact_subset):
    qrels = {}
    for line in (scifact_subset / "SciFact" / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, gain = line.split("\t")
        if int(gain) > 0:
            qrels.setdefault(query, set()).add(doc)
    predictions = [saved(folder, "SciFact_predictions.json")["default"]["test"] for folder in runs]
    t = by_task(comparison, "SciFact")
    lost_expected = set()
    for change in t.items.changes:
        ranks = []
        for side in predictions:
            order = ranking(side[change.item])
            ranks.append({doc: order.index(doc) + 1 if doc in order else None for doc in qrels[change.item]})
        assert change.detail["relevant"] == {doc: [ranks[0][doc], ranks[1][doc]] for doc in qrels[change.item]}
        if any(ranks[0][d] is not None and ranks[0][d] <= 10 and (ranks[1][d] is None or ranks[1][d] > 10)
               for d in qrels[change.item]):
            lost_expected.add(change.item)
        assert [doc for doc, _ in change.detail["top"]["base"]] == ranking(predictions[0][change.item])[:10]
    assert {c.item for c in t.lost()} == lost_expected


def test_pair_values_rebuild_spearman_and_lost_pairs_cross_the_gold_median(comparison, runs):
    t = by_task(comparison, "CompareSTS")
    assert len(t.items.changes) == 300
    gold = np.array([c.detail["gold"] for c in t.items.changes])
    for i, folder in enumerate(runs):
        similarity = np.array([c.detail["similarity"][i] for c in t.items.changes])
        assert spearmanr(similarity, gold).statistic == pytest.approx(score(folder, "CompareSTS", "cosine_spearman"),
                                                                      abs=1e-5)
    files = [saved(folder, "CompareSTS_similarities.json")["default"]["test"]["scores"] for folder in runs]
    assert [c.detail["similarity"] for c in t.items.changes] == [list(pair) for pair in zip(*files, strict=True)]
    # the documented cut: pairs whose gold (average) rank is in the upper half; a side places a pair
    # right when its similarity's rank is within that many exactly when the gold puts it there
    high = rankdata(-gold) <= len(gold) / 2
    right = [(rankdata(-np.array(side)) <= high.sum()) == high for side in files]
    assert {c.item for c in t.lost()} == {str(i) for i in np.flatnonzero(right[0] & ~right[1])}


def test_example_values_are_the_per_example_files_and_average_to_accuracy(comparison, runs):
    t = by_task(comparison, "CompareIntents")
    files = [saved(folder, "CompareIntents_per_example.json")["default"]["test"] for folder in runs]
    assert len(t.items.changes) == 200
    for change in t.items.changes:
        assert (change.base, change.new) == (files[0][change.item]["accuracy"], files[1][change.item]["accuracy"])
        assert change.lost == (change.base >= 0.5 > change.new)
    for side, folder in zip(("base", "new"), runs, strict=True):
        assert np.mean([getattr(c, side) for c in t.items.changes]) == pytest.approx(
            score(folder, "CompareIntents", "accuracy"), abs=1e-5)


def test_command_line_prints_and_writes_the_comparison(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(runs[0]), str(runs[1]), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "SciFact" in printed and "not detectable with its 60 queries" in printed
    written = json.loads((out / "compare.json").read_text())
    assert {t["task"] for t in written["tasks"]} == {"SciFact", "CompareSTS", "CompareIntents"}
    assert "## SciFact" in (out / "compare.md").read_text()
    assert main(["compare", str(runs[0]), str(runs[1]), "--tasks", "SciFact", "--metric", "mrr_at_10"]) == 0
    assert "mrr_at_10" in capsys.readouterr().out


@pytest.mark.parametrize("arguments, message", [
    (lambda r: ["compare", str(r[0])], "name both models (--base-model and --new-model)"),
    (lambda r: ["compare", str(r[0]), str(r[0])], "base and new are the same results"),
    (lambda r: ["compare", str(r[0]), str(r[1]), "--base-model", "other/model"], "--base-model other/model: no "),
    (lambda r: ["compare", str(r[0]) + "-missing", str(r[1])], "not a folder of results"),
])
def test_bad_comparisons_are_one_line_exit_2(runs, arguments, message, capsys):
    assert main(arguments(runs)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_readme_why_did_my_checkpoint_change_runs_as_written(shared_data, perturbed_minilm, tmp_path, monkeypatch,
                                                             capsys):
    """The README's block, line by line, in a folder where ../shared/data is the real data and
    ./my-checkpoint a changed MiniLM."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(shared_data.parent)
    shutil.copytree(perturbed_minilm, work / "my-checkpoint")
    run_readme_block("Why did my checkpoint change?", work)
    printed = capsys.readouterr().out
    assert "STSBenchmark" in printed and "not detectable with its 1379 pairs" in printed
    assert (work / "runs" / "compare" / "compare.md").is_file()


def test_report_shows_each_task_s_detectable_change_from_one_run(runs, tmp_path):
    data = api.build_report(runs[0], output=tmp_path / "report")
    rows = {row.task: row for row in data.task_rows}
    per_query = saved(runs[0], "SciFact_per_query.json")["default"]["test"]
    expected = detectable_mean_change([values["ndcg_at_10"] for values in per_query.values()])
    assert rows["SciFact"].detectable == pytest.approx(expected) and rows["SciFact"].detectable_metric == "ndcg_at_10"
    assert rows["CompareSTS"].detectable > 0 and rows["CompareIntents"].detectable > 0
    assert f"{100 * expected:.2f} ndcg_at_10" in (tmp_path / "report" / "README.md").read_text()
