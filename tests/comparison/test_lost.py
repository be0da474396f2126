"""What compare calls lost since the base, on a hand-built retrieval task whose ranks are known:
three queries, their relevant documents and both sides' saved rankings written here the way a run
writes them (run/extras.py's per-query values and relevant ranks)."""

from __future__ import annotations

import json

from bge_eval.comparison.items import query_changes
from bge_eval.comparison.sides import Side
from bge_eval.metrics.ranking import per_query_metrics, relevant_ranks

QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d4": 1, "d0": 0}}


def ranked(order: list[str]) -> dict[str, float]:
    """Scores that put `order` first to last."""
    return {doc: 1.0 - i / 100 for i, doc in enumerate(order)}


FILLER = [f"x{i}" for i in range(20)]
BASE = {  # q1: d1 first; q2: d2 3rd, d3 12th; q3: d4 10th
    "q1": ranked(["d1", *FILLER]),
    "q2": ranked(["x0", "x1", "d2", *FILLER[2:10], "d3", *FILLER[10:]]),
    "q3": ranked([*FILLER[:9], "d4", *FILLER[9:]]),
}
NEW = {  # q1: d1 to 11th (lost); q2: d2 to 2nd, d3 out of the saved ranking; q3: d4 to 1st, d0 irrelevant
    "q1": ranked([*FILLER[:10], "d1", *FILLER[10:]]),
    "q2": ranked(["x0", "d2", *FILLER[1:]]),
    "q3": ranked(["d4", "d0", *FILLER]),
}


def side(tmp_path, name, predictions):
    results = tmp_path / name / "results" / "org__model" / name
    folder = tmp_path / name / "predictions" / "org__model" / name
    folder.mkdir(parents=True)
    values = per_query_metrics(predictions, QRELS)
    for query, judged in QRELS.items():
        values[query]["relevant_ranks"] = relevant_ranks(predictions[query], judged)  # type: ignore[assignment]
    (folder / "Hand_per_query.json").write_text(json.dumps({"default": {"test": values}}))
    (folder / "Hand_predictions.json").write_text(json.dumps({"default": {"test": predictions}}))
    return Side("org/model", name, results)


def test_lost_documents_are_those_that_left_the_top_10(tmp_path):
    items = query_changes(side(tmp_path, "base", BASE), side(tmp_path, "new", NEW), "Hand", "test", "default",
                          "ndcg_at_10")
    changes = {c.item: c for c in items.changes}
    assert changes["q1"].detail["relevant"] == {"d1": [1, 11]}
    assert changes["q2"].detail["relevant"] == {"d2": [3, 2], "d3": [12, None]}
    assert changes["q3"].detail["relevant"] == {"d4": [10, 1]}  # d0 has gain 0: not relevant
    assert [c.item for c in items.changes if c.lost] == ["q1"]
    assert changes["q1"].detail["lost_documents"] == ["d1"]
    assert changes["q1"].status == "worse" and changes["q1"].new == 0.0 and changes["q1"].base == 1.0
    assert changes["q3"].status == "improved" and not changes["q2"].lost  # d3 was never in the top 10
    assert [doc for doc, _ in changes["q1"].detail["top"]["new"]] == FILLER[:10]


def test_a_per_query_file_without_ranks_says_so(tmp_path):
    base, new = side(tmp_path, "base", BASE), side(tmp_path, "new", NEW)
    path = base.layout.per_query_file("Hand")
    data = json.loads(path.read_text())
    for values in data["default"]["test"].values():
        del values["relevant_ranks"]
    path.write_text(json.dumps(data))
    items = query_changes(base, new, "Hand", "test", "default", "ndcg_at_10")
    assert not any(c.lost for c in items.changes)
    assert any("rerun the task with --overwrite" in note for note in items.notes)
