"""The one place that knows where a run's files live, and how they get there safely.

OUTPUT/results/<org__model>/<revision>/<Task>.json (mteb's ResultCache layout), beside it
model_meta.json and the run manifest; OUTPUT/predictions/<org__model>/<revision>/ the
per-task predictions, per-query metrics and similarities. mteb writes a task's files into a
private staging folder; once the task has finished they are moved into place with atomic
renames (predictions first, the result file last), so a run killed at any moment leaves
either a complete result file or none.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BgeEvalError

STAGING_NAME = ".staging"
SHARDS_NAME = ".shards"  # finished corpus shards of tasks not yet committed (run/shards.py)
MANIFEST_NAME = "bge_eval_manifest.json"
MODEL_META_NAME = "model_meta.json"
SETTINGS_NAME = "run_settings.jsonl"  # mteb's log of each evaluation's settings
EXTRA_SUFFIXES = ("_predictions.json", "_per_query.json", "_per_example.json", "_similarities.json")


@dataclass(frozen=True)
class ResultsLayout:
    """Where one model identity's files live under an output folder.

    model_folder: <org__model>/<revision>, as mteb's ResultCache names it."""

    output: Path
    model_folder: Path

    @classmethod
    def for_model(cls, output: Path, meta: Any) -> ResultsLayout:
        """The layout of a model identity; a name or revision that is not a plain folder name
        (empty, '.', '..', a path separator) is refused, so nothing lands outside `output`."""
        from .._mteb import model_folder_names

        name, revision = model_folder_names(meta)
        return cls(Path(output), Path(safe_name(name, "--model", str(meta.name))) / safe_name(revision, "--revision"))

    @classmethod
    def of_results_dir(cls, results_dir: Path) -> ResultsLayout:
        """The layout a results/<org__model>/<revision> folder belongs to."""
        results_dir = Path(results_dir)
        return cls(results_dir.parent.parent.parent, Path(results_dir.parent.name) / results_dir.name)

    def refuse_links(self) -> None:
        """Every folder this layout writes into must be a real folder inside `output`: a symbolic
        link there would send files outside it. Refused, naming the link (checked before writing)."""
        for folder in (self.results_dir, self.predictions_dir):
            refuse_link_below(self.output, folder)

    @property
    def results_dir(self) -> Path:
        return self.output / "results" / self.model_folder

    @property
    def predictions_dir(self) -> Path:
        return self.output / "predictions" / self.model_folder

    def shards_dir(self, task: str) -> Path:
        return self.output / SHARDS_NAME / self.model_folder / task

    @property
    def manifest_file(self) -> Path:
        return self.results_dir / MANIFEST_NAME

    def result_file(self, task: str) -> Path:
        return self.results_dir / f"{safe_name(task, 'task name')}.json"

    def predictions_file(self, task: str) -> Path:
        return self.predictions_dir / f"{task}_predictions.json"

    def per_query_file(self, task: str) -> Path:
        return self.predictions_dir / f"{task}_per_query.json"

    def per_example_file(self, task: str) -> Path:
        return self.predictions_dir / f"{task}_per_example.json"

    def similarities_file(self, task: str) -> Path:
        return self.predictions_dir / f"{task}_similarities.json"

    def second_stage(self, reranker_meta: Any) -> ResultsLayout:
        """Where a reranker's results over this model's first stage go: OUTPUT/rerank/<org__model>/...;
        over an index variant's candidates OUTPUT/rerank/<org__model>+index-<variant>/..."""
        from ..index.variants import REVISION_MARK, revision_variant

        variant = revision_variant(self.model_folder.name)
        first = self.model_folder.parent.name + (f"{REVISION_MARK}{variant}" if variant else "")
        return ResultsLayout.for_model(self.output / "rerank" / first, reranker_meta)

    def staged(self, staging: Path) -> ResultsLayout:
        """The same identity's layout inside a staging folder (where mteb writes)."""
        return ResultsLayout(staging, self.model_folder)


def safe_name(name: str, what: str, given: str | None = None) -> str:
    """`name` when it is usable as one folder or file name; a BgeEvalError naming `what` otherwise."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\0") or name != name.strip():
        raise BgeEvalError(f"{what} {given if given is not None else name!r}: not usable as a folder name "
                           "(no '/', '\\', '..', leading or trailing spaces); choose another.")
    return name


def refuse_link_below(output: Path, path: Path) -> None:
    """A BgeEvalError when any existing folder from `output` (exclusive) down to `path` is a symbolic link."""
    output, path = Path(output), Path(path)
    for part in [path, *path.parents]:
        if part == output or output not in part.parents:
            break
        if part.is_symlink():
            raise BgeEvalError(f"{part}: a symbolic link inside --output {output}; the harness writes only into "
                               "real folders there (remove the link, or use another --output).")


def staged_predictions_dir(staging: Path) -> Path:
    """Where mteb is told to write predictions inside a staging folder (no model folder)."""
    return staging / "predictions"


def staging_folder(output: Path) -> Path:
    """A fresh private folder for this process (leftovers of killed runs are removed; the
    caller holds the output lock, so nobody else is using them)."""
    root = Path(output) / STAGING_NAME
    if root.is_symlink() or root.is_file():  # never followed: replaced by a real folder
        root.unlink()
    elif root.is_dir():
        shutil.rmtree(root, ignore_errors=True)
    folder = root / str(os.getpid())
    folder.mkdir(parents=True)
    return folder


def reset_staging(staging: Path) -> None:
    """Empty a staging folder (after a task failed there), keeping the folder."""
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)


def remove_staging(staging: Path) -> None:
    shutil.rmtree(staging.parent, ignore_errors=True)


def commit_task(staging: Path, layout: ResultsLayout, task: str) -> None:
    """Move one finished task's files from staging into place, the result file last."""
    for suffix in EXTRA_SUFFIXES:
        staged = staged_predictions_dir(staging) / f"{task}{suffix}"
        if staged.is_file():
            layout.predictions_dir.mkdir(parents=True, exist_ok=True)
            os.replace(staged, layout.predictions_dir / staged.name)
    staged_results = layout.staged(staging).results_dir
    layout.results_dir.mkdir(parents=True, exist_ok=True)
    meta = staged_results / MODEL_META_NAME
    if meta.is_file():
        os.replace(meta, layout.results_dir / MODEL_META_NAME)
    settings = staged_results / SETTINGS_NAME
    if settings.is_file():
        with (layout.results_dir / SETTINGS_NAME).open("a", encoding="utf-8") as out:
            out.write(settings.read_text(encoding="utf-8"))
        settings.unlink()
    result = staged_results / f"{task}.json"
    if not result.is_file():
        raise BgeEvalError(f"mteb wrote no result file for {task} (looked for {result}).")
    os.replace(result, layout.result_file(task))
