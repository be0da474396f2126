"""The one module that touches mteb's private or undocumented names (deep import paths,
task attributes, the arguments mteb.evaluate is called with), and how mteb's scoring reads
`datasets` columns. tests/test_mteb_contract.py checks each one against the installed mteb and
datasets, so an upgrade that moves one fails there first."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import datasets
import mteb
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
from mteb.models.search_wrappers import SearchCrossEncoderWrapper, SearchEncoderWrapper
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


def retrieval_inputs(task: Any, splits: Any) -> Iterator[tuple[str, str, Any, Any, Any]]:
    """(subset, split, corpus, queries, top_ranked) of a loaded retrieval task, as its evaluation hands them
    to search: subsets and data looked up as mteb's AbsTask.evaluate does, queries without a relevant
    document left out as mteb's _evaluate_subset leaves them out."""
    from mteb.abstasks.retrieval import _filter_queries_without_positives

    task.convert_v1_dataset_format_to_v2(num_proc=None)
    for split in splits:
        for subset in task.hf_subsets if task.hf_subsets is not None else list(task.dataset):
            data = task.dataset[split] if subset not in task.dataset and subset == "default" \
                else task.dataset[subset][split]
            _, queries = _filter_queries_without_positives(data["relevant_docs"], data["queries"])
            yield subset, split, data["corpus"], queries, data.get("top_ranked")


def task_subsets(task: Any) -> dict[str, Any]:
    """A loaded task's data as {subset: {split: data}} (a monolingual task's splits under "default")."""
    data = task.dataset
    return data if "default" in data or task.metadata.is_multilingual else {"default": data}


def retrieval_top_k(task: Any) -> int:
    """How many documents mteb ranks per query on a retrieval task (its largest k)."""
    return int(task._top_k)


def prediction_file_name(task: Any) -> str:
    return task.prediction_file_name


def convert_to_reranking(task: Any, first_stage_predictions: Path, top_k: int) -> None:
    """Turn a loaded retrieval task into reranking of the first stage's top_k per query."""
    task.convert_to_reranking(first_stage_predictions, top_k=top_k)


class RerankedAboveFirstStage:
    """A second stage as mteb's search sees it: the reranker's order over each query's top k
    candidates, then the rest of the first stage's ranking in its own order below every reranked
    document, so recall@100 or MAP@1000 after reranking 20 still mean what their names say."""

    def __init__(self, reranker: Any, first_stage_predictions: Path) -> None:
        self._search = SearchCrossEncoderWrapper(reranker)
        self.mteb_model_meta = reranker.mteb_model_meta
        self.take_counts = getattr(reranker, "take_counts", None)
        self._rankings = json.loads(Path(first_stage_predictions).read_text(encoding="utf-8"))

    def index(self, corpus: Any, **kwargs: Any) -> None:
        self._search.index(corpus, **kwargs)

    def search(self, queries: Any, *, hf_split: str, hf_subset: str, **kwargs: Any) -> dict[str, dict[str, float]]:
        results = self._search.search(queries, hf_split=hf_split, hf_subset=hf_subset, **kwargs)
        first = self._rankings.get(hf_subset, {}).get(hf_split, {})
        for query_id, reranked in results.items():
            scores = first.get(query_id, {})
            below = [doc for doc in sorted(scores, key=scores.__getitem__, reverse=True) if doc not in reranked]
            floor = min(reranked.values(), default=0.0)
            step = 1.0 + abs(floor)  # strictly decreasing scores at any magnitude: no ties to break
            for rank, doc in enumerate(below, start=1):
                reranked[doc] = floor - step * rank
        return results


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
    with eager_columns(task):
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


class _EagerColumns(datasets.Dataset):
    """One of a task's own splits (or a selection mteb makes of one) while mteb scores it: a column
    by name is read from Arrow once and handed out as a list (what datasets before 4 returned), not
    as a lazy column read row by row. `_bge_eval_scope` lists every such object, to turn them back."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str) and self._format_type is None:
            columns = self.__dict__.setdefault("_bge_eval_columns", {})
            if key not in columns:
                columns[key] = self._getitem(key)
            return columns[key]
        return super().__getitem__(key)

    def select(self, *args: Any, **kwargs: Any) -> Any:
        selected = super().select(*args, **kwargs)
        if type(selected) is datasets.Dataset:
            _make_eager(selected, self.__dict__["_bge_eval_scope"])
        return selected


def _make_eager(split: Any, scope: list[Any]) -> None:
    split.__class__ = _EagerColumns
    split.__dict__["_bge_eval_scope"] = scope
    scope.append(split)


@contextmanager
def eager_columns(task: Any) -> Iterator[None]:
    """While mteb scores `task`, its Classification splits (and mteb's selections of them) hand out
    columns as lists read once. mteb gives the label column to sklearn's metrics (seven in each of
    ten experiments) and undersamples by indexing it one label at a time: row-by-row reads were most
    of Banking77's scoring time. Only these objects change, and only until the block ends."""
    scope: list[Any] = []
    if task.metadata.type == "Classification":
        for subset in (getattr(task, "dataset", None) or {}).values():
            for split in subset.values() if isinstance(subset, dict) else ():
                if type(split) is datasets.Dataset:
                    _make_eager(split, scope)
    try:
        yield
    finally:
        for split in scope:
            split.__class__ = datasets.Dataset
            for key in ("_bge_eval_columns", "_bge_eval_scope"):
                split.__dict__.pop(key, None)


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


def task_types() -> tuple[str, ...]:
    """The task types mteb knows (its TaskType literal)."""
    from typing import get_args

    from mteb.abstasks.task_metadata import TaskType

    return tuple(get_args(TaskType))


def language_code_problem(code: str) -> str | None:
    """Why mteb refuses `code` as a language filter (its own check of ISO 639-3 codes and scripts), or None."""
    from mteb.languages.check_language_code import check_language_code

    try:
        check_language_code(code)
    except ValueError as exc:
        return str(exc).split(",")[0]
    return None


def task_categories() -> tuple[str, ...]:
    """The task categories mteb knows (its TaskCategory literal: t2t, t2c, i2t, ...)."""
    from typing import get_args

    from mteb.abstasks.task_metadata import TaskCategory

    return tuple(get_args(TaskCategory))
