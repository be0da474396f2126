import pytest

from bge_eval.report.leaderboard import (
    CMTEB_COLUMNS,
    Cell,
    delta,
    is_notable,
    leaderboard,
    overall_average,
    type_means,
)

TYPES = {"R1": "Retrieval", "R2": "Retrieval", "S1": "STS", "S2": "STS", "S3": "STS", "P1": "PairClassification"}


def test_type_means_and_partial_marking_by_hand():
    scores = {"R1": 0.5, "R2": 0.7, "S1": 0.8, "S2": 0.6}
    cells = type_means(scores, TYPES, ("Retrieval", "STS", "PairClassification"))
    assert cells["Retrieval"] == Cell(pytest.approx(0.6), 2, 2) and not cells["Retrieval"].partial
    assert cells["STS"] == Cell(pytest.approx(0.7), 2, 3) and cells["STS"].partial
    assert cells["PairClassification"] == Cell(None, 0, 1) and cells["PairClassification"].partial


def test_average_is_over_tasks_not_over_type_means():
    scores = {"R1": 0.2, "R2": 0.4, "S1": 0.9, "S2": 0.9, "S3": 0.9, "P1": 0.5}
    average = overall_average(scores, TYPES)
    assert average.mean == pytest.approx((0.2 + 0.4 + 0.9 * 3 + 0.5) / 6)
    assert not average.partial


def test_leaderboard_ranks_complete_rows_first():
    complete_low = {t: 0.5 for t in TYPES}
    partial_high = {"R1": 0.9}
    rows = leaderboard({"a": partial_high, "b": complete_low}, TYPES, CMTEB_COLUMNS)
    assert [(r.model, r.rank) for r in rows] == [("b", 1), ("a", 2)]
    assert rows[1].average == Cell(0.9, 1, 6)


def test_delta_and_highlight():
    assert delta(0.645, 0.64508) == pytest.approx(-0.00008)
    assert delta(None, 0.5) is None
    assert is_notable(0.0051) and is_notable(-0.006) and not is_notable(0.005) and not is_notable(None)
