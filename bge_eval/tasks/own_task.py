"""mteb task metadata for tasks that are not mteb's: the demo suite and task cards."""

from __future__ import annotations

from typing import Any, cast

from .._mteb import TaskMetadata


class OwnTaskMetadata(TaskMetadata):
    """mteb's TaskMetadata and what the recipe must know of a task that is not on BGE's lists."""

    query_instructed: bool | None = None  # queries get the query instruction (None: as the recipe's lists say)


def own_task_metadata(name: str, task_type: str, main_score: str, lang: str, splits: list[str], description: str,
                      dataset: dict[str, Any], query_instructed: bool | None = None) -> OwnTaskMetadata:
    """A TaskMetadata for data of our own or the user's (no hub dataset, no citation)."""
    return OwnTaskMetadata(
        query_instructed=query_instructed,
        name=name,
        description=description,
        reference=None,
        dataset=cast(Any, dataset),  # pydantic checks it against mteb's MetadataDatasetDict
        type=cast(Any, task_type),  # one of mteb's task types (TaskCard and the demo suite name them)
        category="t2t",
        modalities=["text"],
        eval_splits=list(splits),
        eval_langs=[lang],
        main_score=main_score,
        date=("2026-11-26", "2026-11-26"),
        domains=["Written"],
        task_subtypes=[],
        license="mit",
        annotations_creators="expert-annotated",
        dialect=[],
        sample_creation="created",
        bibtex_citation="",
    )
