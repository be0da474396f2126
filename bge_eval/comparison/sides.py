"""The two sides of a comparison: one model identity's results folder each, picked from a results
folder (a run's --output, or any folder holding results) and, where it holds several, a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BgeEvalError
from ..results.files import result_files
from ..results.layout import ResultsLayout


@dataclass(frozen=True)
class Side:
    """One model identity's saved results: results/<org__model>/<revision>."""

    model: str
    revision: str
    results_dir: Path

    @property
    def label(self) -> str:
        return f"{self.model} @ {self.revision[:12]}" if self.revision else self.model

    @property
    def layout(self) -> ResultsLayout:
        return ResultsLayout.of_results_dir(self.results_dir)

    def result_file(self, task: str) -> Path:
        return self.results_dir / f"{task}.json"

    def tasks(self) -> list[str]:
        return sorted(path.stem for path, _ in result_files(self.results_dir) if path.parent == self.results_dir)


def identities(folder: Path) -> list[Side]:
    """Every model identity with results under `folder`, in folder order."""
    found: dict[Path, Side] = {}
    for path, meta in result_files(folder):
        found.setdefault(path.parent, Side(str(meta["name"]), str(meta.get("revision") or ""), path.parent))
    return list(found.values())


def pick_side(folder: Path, model: str | None, option: str) -> Side:
    """The one identity under `folder` that `model` names (NAME, or NAME@REVISION; None: the only one).
    None found or several left is a BgeEvalError naming what is there and the option to use."""
    if not Path(folder).is_dir():
        raise BgeEvalError(f"{folder}: not a folder of results; give a run's --output folder.")
    every = identities(Path(folder))
    if not every:
        raise BgeEvalError(f"{folder}: no results found (no model_meta.json below it); give a run's --output folder.")
    chosen = every if model is None else [side for side in every if _names(side, model)]
    if len(chosen) == 1:
        return chosen[0]
    held = "; ".join(f"{side.model}@{side.revision}" for side in every)
    if not chosen:
        raise BgeEvalError(f"{option} {model}: no results of it under {folder} (it holds {held}).")
    raise BgeEvalError(f"{folder}: results of {len(chosen)} model identities ({held}); pick one with {option} "
                       "NAME or NAME@REVISION.")


def _names(side: Side, wanted: str) -> bool:
    name, _, revision = wanted.partition("@")
    return name in (side.model, side.results_dir.parent.name) and (not revision or revision == side.revision)
