"""The one module that touches mteb's private or undocumented names (deep import paths,
task attributes, the arguments mteb.evaluate is called with), and how mteb's scoring reads
`datasets` columns. tests/test_mteb_contract.py checks each one against the installed mteb and
datasets, so an upgrade that moves one fails there first."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import datasets
import mteb
import numpy as np
from mteb._create_dataloaders import create_dataloader
from mteb.abstasks import (
    AbsTaskClassification,
    AbsTaskClusteringLegacy,
    AbsTaskPairClassification,
    AbsTaskRetrieval,
    AbsTaskSTS,
)
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.models.abs_encoder import AbsEncoder, get_prompt_name
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.models.search_wrappers import SearchEncoderWrapper
from mteb.timing import TimingStack
from mteb.types import PromptType

__all__ = [
    "AbsEncoder", "AbsTaskClassification", "AbsTaskClusteringLegacy", "AbsTaskPairClassification", "AbsTaskRetrieval",
    "AbsTaskSTS", "PromptType", "TaskMetadata", "TimingStack", "create_dataloader", "get_prompt_name",
]

NO_REVISION = "no_revision_available"  # what mteb's registry says of a model without a revision


# --- models ---------------------------------------------------------------------------
def registry_model_meta(name: str) -> ModelMeta:
    """mteb's registry entry for the model, or an empty one for a model mteb does not know."""
    try:
        return mteb.get_model_meta(name)
    except Exception:  # noqa: BLE001 - not in mteb's registry
        return ModelMeta.create_empty(overwrites={"name": name})


def registry_revision(meta: ModelMeta) -> str | None:
    return None if meta.revision == NO_REVISION else meta.revision


def model_meta_for_results(meta: ModelMeta, *, revision: str, embed_dim: int | None, max_tokens: int) -> ModelMeta:
    """The meta our result files carry: our revision and length, cosine similarity."""
    return meta.model_copy(update={"revision": revision, "embed_dim": embed_dim, "max_tokens": max_tokens,
                                   "similarity_fn_name": ScoringFunction.COSINE})


def model_folder_names(meta: Any) -> tuple[str, str]:
    """(<org__model>, <revision>): the two folders mteb's ResultCache keeps a model identity's files in."""
    return meta.model_name_as_path(), str(meta.revision)


def registry_prompts(meta: Any) -> dict[str, str] | None:
    """The query / document prompts mteb's registry gives the model, if any."""
    return (meta.loader_kwargs or {}).get("model_prompts")


# --- tasks ----------------------------------------------------------------------------
def result_problem(data: dict[str, Any]) -> str | None:
    """Why mteb's own TaskResult model refuses a result file's content (one line), or None."""
    from mteb.results import TaskResult
    from pydantic import ValidationError

    try:
        TaskResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    return None


def set_task_data(task: Any, dataset: Any) -> None:
    """Give a task data we loaded ourselves (local folders), as its own load_data would."""
    task.dataset = dataset
    task.data_loaded = True


def unload_task_data(task: Any) -> None:
    if task.data_loaded:
        task.unload_data()


def prediction_file_name(task: Any) -> str:
    return task.prediction_file_name


def convert_to_reranking(task: Any, first_stage_predictions: Path, top_k: int) -> None:
    """Turn a loaded retrieval task into reranking of the first stage's top_k per query."""
    task.convert_to_reranking(first_stage_predictions, top_k=top_k)


def train_split(task: Any) -> str:
    return getattr(task, "train_split", "train")


def score_range(task: Any) -> tuple[float | None, float | None]:
    """An STS task's gold score range (None when the task does not say)."""
    return getattr(task, "min_score", None), getattr(task, "max_score", None)


def column_names(task: Any) -> dict[str, str]:
    """Our JSON Lines field names -> the columns this task's evaluator reads."""
    task_type = task.metadata.type
    if task_type == "PairClassification":
        return {"sentence1": task.input1_column_name, "sentence2": task.input2_column_name,
                "label": task.label_column_name}
    if task_type == "STS":
        first, second = task.column_names
        return {"sentence1": first, "sentence2": second}
    if task_type == "Classification":
        return {"text": task.input_column_name, "label": task.label_column_name}
    return {}


def pair_label_column(task: Any) -> str:
    return "score" if task.metadata.type == "STS" else task.label_column_name


def classification_label_column(task: Any) -> str:
    return task.label_column_name


def transform_dataset(task: Any) -> None:
    """Run the task's own transform on hub-layout data (a hub mirror)."""
    task.dataset_transform()


# --- running --------------------------------------------------------------------------
def evaluate_into(model: Any, task: Any, folder: Path, predictions: Path, dataloader_batch_size: int) -> None:
    """mteb.evaluate on one task: its result file under `folder` (ResultCache layout), its
    predictions in `predictions` (the harness's extras are computed from them)."""
    with columns_as_arrays():
        mteb.evaluate(
            model,
            [task],
            cache=mteb.ResultCache(cache_path=folder),
            overwrite_strategy="always",
            prediction_folder=predictions,
            co2_tracker=False,
            encode_kwargs={"batch_size": dataloader_batch_size},  # sizes mteb's DataLoader only
            show_progress_bar=False,  # the run shows its own bars (run/progress.py)
        )


@contextmanager
def columns_as_arrays() -> Iterator[None]:
    """While mteb scores, a `datasets` column (what `dataset["label"]` is in datasets 4 and later)
    is read from Arrow once, on first use, instead of one row per access; the values are the same.
    mteb hands such columns to sklearn's metrics, which convert them again in each call (seven
    metrics in each of Classification's ten experiments), and undersamples by indexing one
    label at a time: together most of Banking77's scoring time."""
    column = getattr(datasets.arrow_dataset, "Column", None)
    if column is None or "__array__" in vars(column):  # none, or datasets converts columns itself
        yield
        return
    row_by_row = column.__getitem__
    column.__array__ = _column_array
    column.__getitem__ = lambda self, key: _column_item(self, key, row_by_row)
    try:
        yield
    finally:
        del column.__array__
        column.__getitem__ = row_by_row


def _column_values(column: Any) -> list | None:
    """The column's values in one read (kept on the column), or None where that is not the
    column's own reading: a nested column, or a dataset with a format."""
    values = column.__dict__.get("_values")
    if values is None and isinstance(column.source, datasets.Dataset) and column.source.format["type"] is None:
        values = column.__dict__["_values"] = column.source.select_columns([column.column_name])[:][column.column_name]
    return values


def _column_array(self: Any, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
    values = _column_values(self)
    return np.asarray(list(self) if values is None else values, dtype=dtype)


def _column_item(column: Any, key: Any, row_by_row: Any) -> Any:
    if isinstance(key, int) and 0 <= key < len(column):
        values = _column_values(column)
        if values is not None:
            return values[key]
    return row_by_row(column, key)


class CandidateSearch:
    """mteb's own search over each query's given candidates (reranking tasks), for an encoder."""

    def __init__(self, encoder: Any) -> None:
        self._wrapper = SearchEncoderWrapper(encoder)
        # mteb 2.26.0's search takes no timer; later 2.26 releases do
        self._takes_timer = "timer" in inspect.signature(self._wrapper.search).parameters

    def search(self, corpus: Any, queries: Any, *, timer: TimingStack | None = None, **kwargs: Any) -> Any:
        where = {key: kwargs[key] for key in ("task_metadata", "hf_split", "hf_subset", "encode_kwargs")}
        self._wrapper.index(corpus, num_proc=kwargs.get("num_proc"), **where)
        if self._takes_timer:
            kwargs["timer"] = timer
        return self._wrapper.search(queries, **kwargs)
