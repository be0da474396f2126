"""The texts a task evaluates, by item, read as a run reads the task's data: retrieval and reranking
queries and their relevant documents (by query id, as the per-query files key them), STS and pair
sentences (by pair number), classification test texts (by example number), clustering sentences
(set.sentence; clustering has no per-item scores). A large corpus is scanned in batches for the
relevant documents only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import _mteb
from ..errors import DataError
from ..run.identity import data_fingerprint
from ..run.task_eval import load_task_data
from ..tasks.corpus_file import documents_by_id
from ..tasks.selection import PlannedTask
from ..tasks.types import EXAMPLE_TYPES, PAIR_TYPES, RANKING_TYPES


@dataclass
class TaskItems:
    """One (task, subset, split): its items and the texts each stands on."""

    task: str
    type: str
    subset: str
    split: str
    unit: str  # "queries", "pairs", "examples" or "sentences"
    items: list[str] = field(default_factory=list)
    texts: list[tuple[str, str, str]] = field(default_factory=list)  # (role, item or document id, text)
    relevant: dict[str, list[str]] = field(default_factory=dict)  # query -> its relevant documents
    data: str = ""  # the fingerprint of the data read, as a run records it (run/identity.data_fingerprint)

    @property
    def key(self) -> str:
        return f"{self.task} ({self.split}{'' if self.subset == 'default' else ', ' + self.subset})"


def task_items(planned: PlannedTask, data_dir: Path | None) -> Iterator[TaskItems]:
    data, _ = data_fingerprint(planned, data_dir, None)
    load_task_data(planned, data_dir)
    try:
        if planned.type in RANKING_TYPES:
            for subset, split, corpus, queries, _ in _mteb.retrieval_inputs(planned.task, planned.splits):
                relevant_docs = _mteb.task_subsets(planned.task)[subset][split]["relevant_docs"]
                yield replace(_ranking_items(planned, subset, split, corpus, queries, relevant_docs), data=data)
            return
        for subset, splits in _mteb.task_subsets(planned.task).items():
            for split in planned.splits:
                if split in splits:
                    yield replace(_other_items(planned, subset, split, splits[split]), data=data)
    finally:
        _mteb.unload_task_data(planned.task)


def _ranking_items(planned: PlannedTask, subset: str, split: str, corpus: Any, queries: Any,
                   relevant_docs: dict) -> TaskItems:
    found = TaskItems(planned.name, planned.type, subset, split, "queries")
    for query, text in zip(queries["id"], queries["text"], strict=True):
        query = str(query)
        found.items.append(query)
        found.texts.append(("query", query, text if isinstance(text, str) else " ".join(map(str, text))))
        found.relevant[query] = [str(d) for d, gain in relevant_docs.get(query, {}).items() if gain > 0]
    wanted = {d for docs in found.relevant.values() for d in docs}
    found.texts += [("document", doc, text) for doc, text in documents_by_id(corpus, wanted).items()]
    return found


def _other_items(planned: PlannedTask, subset: str, split: str, data: Any) -> TaskItems:
    columns = _mteb.column_names(planned.task)
    if planned.type in PAIR_TYPES:
        found = TaskItems(planned.name, planned.type, subset, split, "pairs")
        first, second = columns["sentence1"], columns["sentence2"]
        rows = data[0] if len(data) == 1 and isinstance(data[0].get(first), list) else data  # v1 single-row layout
        for i, (left, right) in enumerate(zip(rows[first], rows[second], strict=True)):
            found.items.append(str(i))
            found.texts += [("sentence1", str(i), str(left)), ("sentence2", str(i), str(right))]
    elif planned.type in EXAMPLE_TYPES:
        found = TaskItems(planned.name, planned.type, subset, split, "examples")
        for i, text in enumerate(data[columns["text"]]):
            found.items.append(str(i))
            found.texts.append(("text", str(i), str(text)))
    elif planned.type == "Summarization":  # every human and machine summary, by row.summary
        found = TaskItems(planned.name, planned.type, subset, split, "summaries")
        for row, (human, machine) in enumerate(zip(data["human_summaries"], data["machine_summaries"], strict=True)):
            for i, text in enumerate([*human, *machine]):
                found.items.append(f"{row}.{i}")
                found.texts.append(("summary", f"{row}.{i}", str(text)))
    elif "sentences" in getattr(data, "column_names", ()):  # clustering: every sentence of every set
        found = TaskItems(planned.name, planned.type, subset, split, "sentences")
        for row, sentences in enumerate(data["sentences"]):
            for i, text in enumerate(sentences if isinstance(sentences, list) else [sentences]):
                found.items.append(f"{row}.{i}")
                found.texts.append(("sentence", f"{row}.{i}", str(text)))
    else:
        raise DataError(f"{planned.name}: the audit does not read {planned.type} tasks (it reads retrieval, "
                        "reranking, STS, pair classification, classification, clustering and summarization).")
    return found
