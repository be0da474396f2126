"""all-MiniLM-L6-v2 on the real shared data gives the MTEB leaderboard's published numbers.

Fast tasks run by default; the rest are marked slow (minutes on 2 CPU cores) and run with
`nox -s reproduce` (or `python -m pytest -m "slow or not slow" tests/reproduction`).
"""

import pytest

from bge_eval.config import RunConfig
from bge_eval.results.published import published_value
from bge_eval.run.runner import run
from tests.helpers import MINILM

TOLERANCE = 5e-4
FAST = [("STSBenchmark", "test"), ("STSB", "test"), ("PAWSX", "test"), ("AFQMC", "validation")]
SLOW = [("SICK-R", "test"), ("STS12", "test"), ("STS13", "test"), ("STS14", "test"), ("STS15", "test"),
        ("LCQMC", "test"), ("Banking77Classification", "test"), ("SciFact", "test")]


def reproduce(task, split, shared_data, output):
    expected = published_value(MINILM, task, split)
    assert expected is not None, f"no published main score for {task} {split}"
    summary = run(RunConfig(model=MINILM, tasks=(task,), data_dir=shared_data, output=output, device="cpu"))
    (outcome,) = summary.outcomes
    assert list(outcome.main_scores) == [split]  # scored on the benchmark's split only
    return outcome.main_scores[split], expected


@pytest.mark.parametrize("task,split", FAST)
def test_reproduces_published_score(task, split, shared_data, tmp_path_factory):
    ours, expected = reproduce(task, split, shared_data, tmp_path_factory.mktemp("repro"))
    assert abs(ours - expected) <= TOLERANCE, f"{task}: {ours:.6f} vs published {expected:.6f}"


@pytest.mark.slow
@pytest.mark.parametrize("task,split", SLOW)
def test_reproduces_published_score_slow(task, split, shared_data, tmp_path_factory):
    ours, expected = reproduce(task, split, shared_data, tmp_path_factory.mktemp("repro"))
    assert abs(ours - expected) <= TOLERANCE, f"{task}: {ours:.6f} vs published {expected:.6f}"


def test_shipped_published_scores_are_the_reference_files(shared_data):
    """The package's copy of the published scores is the shared reference, row for row, and is
    what published_value reads."""
    import csv

    from bge_eval.results.published import published_scores

    reference = shared_data.parent / "reference" / "published_scores.csv"
    rows = list(csv.DictReader(reference.read_text(encoding="utf-8").splitlines()))
    shipped = {(s.model, s.task, s.split, s.metric): s.value for s in published_scores()}
    assert len(shipped) == len(rows) > 500
    for row in rows:
        assert shipped[(row["model"], row["task"], row["split"], row["metric"])] == float(row["value"])
    assert published_value(MINILM, "SciFact", "test") == float(next(
        r["value"] for r in rows if (r["model"], r["task"], r["split"], r["metric"]) == (MINILM, "SciFact", "test",
                                                                                        "main_score")))
