"""The embedded demo suite: a few dozen English and Chinese examples written by the
bge_eval team, shipped in the package so `python -m bge_eval run` works offline.

It is a smoke test of the whole pipeline, not a benchmark: its scores say nothing
about a model's quality.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from .._mteb import AbsTaskPairClassification, AbsTaskRetrieval, AbsTaskSTS, TaskMetadata
from .local_data import attach_local_data
from .own_task import own_task_metadata

DEMO_NOTE = "bge_eval demo suite (written by the bge_eval team; a smoke test, not a benchmark)."


def demo_data_dir() -> Path:
    return Path(str(resources.files("bge_eval.tasks").joinpath("demo_data")))


def _metadata(name: str, task_type: str, main_score: str, lang: str) -> TaskMetadata:
    return own_task_metadata(name, task_type, main_score, lang, ["test"], DEMO_NOTE,
                             {"path": f"bge_eval/demo_data/{name}", "revision": "1"})


class _DemoData:
    is_demo = True
    data_loaded: bool  # mteb's AbsTask's, beside which this is mixed in

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if not self.data_loaded:
            attach_local_data(self, demo_data_dir())


class BgeEvalDemoRetrieval(_DemoData, AbsTaskRetrieval):
    metadata = _metadata("BgeEvalDemoRetrieval", "Retrieval", "ndcg_at_10", "eng-Latn")


class BgeEvalDemoSTS(_DemoData, AbsTaskSTS):
    metadata = _metadata("BgeEvalDemoSTS", "STS", "cosine_spearman", "eng-Latn")
    min_score = 0
    max_score = 5


class BgeEvalDemoPairClassification(_DemoData, AbsTaskPairClassification):
    metadata = _metadata("BgeEvalDemoPairClassification", "PairClassification", "max_ap", "eng-Latn")


class BgeEvalDemoRetrievalZh(_DemoData, AbsTaskRetrieval):
    metadata = _metadata("BgeEvalDemoRetrievalZh", "Retrieval", "ndcg_at_10", "cmn-Hans")


class BgeEvalDemoSTSZh(_DemoData, AbsTaskSTS):
    metadata = _metadata("BgeEvalDemoSTSZh", "STS", "cosine_spearman", "cmn-Hans")
    min_score = 0
    max_score = 5


DEMO_TASKS = (
    BgeEvalDemoRetrieval,
    BgeEvalDemoSTS,
    BgeEvalDemoPairClassification,
    BgeEvalDemoRetrievalZh,
    BgeEvalDemoSTSZh,
)


def demo_tasks() -> list[Any]:
    return [cls() for cls in DEMO_TASKS]


DEMO_TASK_NAMES = frozenset(cls.metadata.name for cls in DEMO_TASKS)


def is_demo_task(name: str) -> bool:
    """A task of the bundled demo suite (a smoke test, not a benchmark)."""
    return name in DEMO_TASK_NAMES
