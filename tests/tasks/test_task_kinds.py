"""The table of task kinds is the one place each type's handling is known: every type the harness
lists is in it, and the places that used to spell a type out read it."""

from __future__ import annotations

import typing

import pytest

from bge_eval import _mteb
from bge_eval.tasks.cards import CardType
from bge_eval.tasks.demo import DEMO_TASKS
from bge_eval.tasks.registry import benchmark_task_types
from bge_eval.tasks.types import CARD_TYPES, GATE_METRICS, PAIR_TYPES, RANKING_TYPES, TASK_KINDS

pytestmark = pytest.mark.hermetic


def test_every_type_of_the_harness_benchmarks_and_demo_is_in_the_table():
    listed = {t for types in benchmark_task_types().values() for t in types.values()}
    listed |= {task.metadata.type for task in DEMO_TASKS}
    assert listed - set(TASK_KINDS) == set()


def test_card_types_are_the_kinds_with_an_mteb_class():
    assert set(typing.get_args(CardType)) == set(CARD_TYPES)
    for task_type in CARD_TYPES:
        assert isinstance(getattr(_mteb, TASK_KINDS[task_type].card_class), type), task_type


def test_each_kind_is_consistent():
    for task_type, kind in TASK_KINDS.items():
        assert kind.type == task_type
        assert kind.loader in ("beir", "listed", "jsonl")
        assert bool(kind.fields) == (kind.loader != "beir"), task_type
        assert kind.items in ("queries", "pairs", "examples", None)
        assert (kind.card_class is None) == (kind.card_main_score is None), task_type
    assert RANKING_TYPES == {"Retrieval", "Reranking"} and PAIR_TYPES == {"STS", "PairClassification"}
    assert set(GATE_METRICS) == set(CARD_TYPES)  # every type one can bring is gated on its own metric
