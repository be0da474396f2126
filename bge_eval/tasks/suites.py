"""Suites as data: a TOML file naming tasks (registry names and task-card folders) and how they
are averaged, under a suite name (`run --suite FILE`, `gate --suite FILE`, a table in reports).

    [suite]
    name = "quick-en"
    description = "..."
    average = "tasks"          # "tasks": the (weighted) mean over tasks; "types": the mean of type means

    [[task]]
    name = "STSBenchmark"      # a registry task ...
    [[task]]
    path = "my-data/tickets"   # ... or a card folder, relative to this file
    weight = 2.0               # optional (default 1), for average = "tasks"
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._util import read_toml_as
from ..errors import DataError
from .cards import NAME_PATTERN, read_card
from .names import is_card_path


class SuiteTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    path: str | None = None
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False, strict=True)

    @model_validator(mode="after")
    def _one_of_name_and_path(self) -> SuiteTask:
        if (self.name is None) == (self.path is None):
            raise ValueError("give either name (a registry task) or path (a card folder)")
        return self


class SuiteHead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    description: str = ""
    average: Literal["tasks", "types"] = "tasks"


class SuiteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suite: SuiteHead
    task: list[SuiteTask] = Field(min_length=1)


class Suite(BaseModel):
    """A suite read from its file: entries are what --tasks takes (names, card folder paths)."""

    name: str
    description: str
    average: str
    entries: list[str]
    weights: list[float]
    file: str


def read_suite(path: Path) -> Suite:
    """The suite in `path`, checked; a DataError naming the file (and line or key) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--suite {path}: no such file.")
    parsed = read_toml_as(path, SuiteFile, "the suite format in docs/data-formats.md")
    entries = [t.name if t.name is not None else str((path.parent / t.path).resolve()) for t in parsed.task]
    if len(set(entries)) != len(entries):
        raise DataError(f"{path}: a task is listed twice.")
    return Suite(name=parsed.suite.name, description=parsed.suite.description, average=parsed.suite.average,
                 entries=entries, weights=[t.weight for t in parsed.task], file=str(path.resolve()))


def suite_record(suite: Suite, planned: list[Any]) -> dict[str, Any]:
    """What the manifest keeps of a suite: its averaging and each task's name and weight."""
    weights = {}
    for entry, weight in zip(suite.entries, suite.weights, strict=True):
        if is_card_path(entry):
            task = next(p for p in planned if getattr(p.task, "card_folder", None) == Path(entry).resolve())
        else:
            task = next(p for p in planned if p.name == entry)
        weights[task.name] = weight
    return {"average": suite.average, "description": suite.description, "weights": weights, "file": suite.file}


def suite_task_names(suite: Suite) -> list[str]:
    """The names results are stored under (a card's from its task.toml)."""
    return [read_card(Path(e)).name if is_card_path(e) else e for e in suite.entries]
