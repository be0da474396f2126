"""The texts behind a comparison's items, for the viewer: read from the same task data the run read
(its local data folder, its task card, or the demo suite), found through the run manifest and
checked against the data fingerprint the run recorded; data from elsewhere (the hub, another
version of the files) gives ids only, and the reason is shown on the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _mteb
from ..errors import BgeEvalError
from ..fingerprints import data_files, fingerprint_files
from ..results.layout import MANIFEST_NAME
from ..results.manifest import Manifest
from ..tasks.corpus_file import documents_by_id
from .sides import Side

TEXT_CHARS = 1_000  # a text longer than this is cut on the page


@dataclass
class TaskTexts:
    """Texts by item: queries and documents by id, pairs and examples by their index (as strings)."""

    source: str = ""  # where they came from, in words
    missing: str = ""  # why there are none ("" when found)
    queries: dict[str, str] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)
    pairs: dict[str, list[str]] = field(default_factory=dict)
    examples: dict[str, list[Any]] = field(default_factory=dict)  # [text, label]


def task_texts(side: Side, task: str, split: str, subset: str, items: set[str], documents: set[str],
               data_dir: Path | None = None) -> TaskTexts:
    """The texts of `items` (query ids, pair or example numbers) and of `documents` (corpus ids)."""
    folder, source, why = _data_folder(side, task, data_dir)
    if why:
        return TaskTexts(missing=why)
    try:
        data = _load_hub(task, _recorded_data(side, task)) if source == "hub" else _load(task, folder, source)
    except BgeEvalError as exc:
        return TaskTexts(missing=f"its data could not be read ({exc})")
    split_data = data[subset][split] if subset in data else data[split]
    found = TaskTexts(source=f"{source} data at {folder}" if folder else "the hub dataset (datasets cache)")
    if isinstance(split_data, dict) and "queries" in split_data:
        queries = split_data["queries"]
        found.queries = {str(q): _cut(t) for q, t in zip(queries["id"], queries["text"], strict=True)
                         if str(q) in items}
        found.documents = {d: _cut(t) for d, t in documents_by_id(split_data["corpus"], documents).items()}
    elif "sentence1" in split_data.column_names:
        for i in sorted(int(item) for item in items):
            row = split_data[i]
            found.pairs[str(i)] = [_cut(row["sentence1"]), _cut(row["sentence2"])]
    elif "text" in split_data.column_names:
        for i in sorted(int(item) for item in items):
            row = split_data[i]
            found.examples[str(i)] = [_cut(row["text"]), row.get("label")]
    return found


def _data_folder(side: Side, task: str, data_dir: Path | None) -> tuple[Path | None, str, str]:
    """(folder, source, "") when the run's data for the task is found and unchanged, else (None, "", why)."""
    manifest = Manifest.read_or_warn(side.results_dir / MANIFEST_NAME)
    record = manifest.tasks.get(task) if manifest else None
    if manifest is None or record is None:
        return None, "", "the run manifest has no record of this task"
    source, config = record.data_source, manifest.config
    folder: Path | None = None
    if source == "demo":
        from ..tasks.demo import demo_data_dir

        folder = demo_data_dir() / task
    elif source == "local":
        root = data_dir or config.get("data_dir")
        folder = Path(root) / task if root else None
    elif source == "card":
        from ..tasks.cards import read_card
        from ..tasks.names import is_card_path

        cards = [Path(entry) for entry in config.get("tasks") or [] if is_card_path(str(entry))]
        folder = next((card for card in cards if card.is_dir() and read_card(card).name == task), None)
    elif source == "hub":
        return None, "hub", ""  # loaded as a run loads it (the datasets cache offline), checked in _load
    else:
        return None, "", f"its data came from {source} (texts are shown for local folders, cards, the demo and the hub)"
    if folder is None or not folder.is_dir():
        return None, "", f"the run's data folder for it is not here ({folder or 'unknown'}; give --data-dir)"
    recorded = (record.identity or {}).get("data")
    previous = manifest.fingerprints.get("data", {}).get(task)
    digest, _ = fingerprint_files(folder, data_files(folder), previous)
    if recorded and recorded != f"files:{digest}":
        return None, "", f"the data at {folder} are not the files the run read (their fingerprint differs)"
    return folder, source, ""


def _recorded_data(side: Side, task: str) -> str | None:
    manifest = Manifest.read_or_warn(side.results_dir / MANIFEST_NAME)
    record = manifest.tasks.get(task) if manifest else None
    return (record.identity or {}).get("data") if record else None


def _load_hub(task: str, recorded: str | None) -> Any:
    """A hub task's data as a run loads it (run.task_eval: the datasets cache when offline, a sentence
    when the hub cannot be reached), refused when the dataset's revision is not the run's."""
    from ..run.task_eval import load_task_data
    from ..tasks.selection import plan_tasks

    (planned,) = plan_tasks([task], None, None).tasks
    dataset = planned.task.metadata.dataset or {}
    if recorded and recorded != f"hub:{dataset.get('path')}@{dataset.get('revision')}":
        raise BgeEvalError(f"the run read {recorded.removeprefix('hub:')}, mteb now names "
                           f"{dataset.get('path')}@{dataset.get('revision')}")
    load_task_data(planned, None)
    return _mteb.task_subsets(planned.task)


def _load(task: str, folder: Path | None, source: str) -> Any:
    from ..tasks.cards import card_task
    from ..tasks.local_data import attach_folder
    from ..tasks.selection import plan_tasks

    assert folder is not None  # found by _data_folder for local, card and demo data
    if source == "card":
        task_object = card_task(folder)
        task_object.load_data()
    else:
        (planned,) = plan_tasks([task], None, folder.parent if source == "local" else None).tasks
        task_object = planned.task
        if source == "local":
            attach_folder(task_object, folder)
        else:
            task_object.load_data()
    return _mteb.task_subsets(task_object)


def _cut(text: Any) -> str:
    text = str(text)
    return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS] + " ..."
