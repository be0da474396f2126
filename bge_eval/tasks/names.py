"""Names decided before mteb loads (its imports take seconds): which --tasks entries are card
folders, and whether a task, benchmark, task type or category name is one mteb knows, from the
names list shipped in tasks/mteb_names.json. The list is used only when the installed mteb is the
version it was made from; otherwise every name goes to mteb itself, as before. Regenerate it with
`python -m bge_eval.tasks.names` after moving to another mteb (tests/tasks/test_names.py checks it)."""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from ..errors import UnknownNameError, did_you_mean

CARD_FILE = "task.toml"
NAMES_FILE = "mteb_names.json"


def is_card_path(entry: str) -> bool:
    """A --tasks entry naming a card folder (a path) rather than a registry task."""
    return "/" in entry or "\\" in entry or entry.startswith(".") or (Path(entry) / CARD_FILE).is_file()


def current_names() -> dict[str, Any]:
    """The names the installed mteb knows (imports mteb), with its version."""
    import mteb

    from .._mteb import task_categories, task_types
    from .demo import DEMO_TASK_NAMES

    return {"mteb": metadata.version("mteb"),
            "tasks": sorted({t.metadata.name for t in mteb.get_tasks(exclude_superseded=False)} | DEMO_TASK_NAMES),
            "benchmarks": sorted({b.name for b in mteb.get_benchmarks()} | {alias for b in mteb.get_benchmarks()
                                                                            for alias in b.aliases}),
            "task_types": sorted(task_types()), "categories": sorted(task_categories())}


@cache
def shipped_names() -> dict[str, Any] | None:
    """The shipped list, when it was made from the installed mteb's version (else None: ask mteb)."""
    try:
        data = json.loads(resources.files("bge_eval._tasks").joinpath(NAMES_FILE).read_text(encoding="utf-8"))
        installed = metadata.version("mteb")
    except (OSError, ValueError, metadata.PackageNotFoundError):
        return None
    return data if data.get("mteb") == installed else None


def refuse_unknown_names(tasks: list[str], benchmark: str | None, task_types: list[str],
                         categories: list[str]) -> None:
    """An UnknownNameError for the first name the shipped list says mteb does not know; nothing when
    the list does not apply (another mteb) or every name is known."""
    names = shipped_names()
    if names is None:
        return
    from .registry import load_registry

    registry = load_registry()
    known_tasks = {*names["tasks"], *(row.name for row in registry.tasks)}
    for task in tasks:
        if not is_card_path(task) and task not in known_tasks:
            raise UnknownNameError(f"--tasks {task!r}: no such task.{did_you_mean(task, known_tasks)}")
    known_benchmarks = {*names["benchmarks"], registry.benchmark, *registry.aliases, "demo"}
    if benchmark is not None and benchmark not in known_benchmarks:
        close = did_you_mean(benchmark, known_benchmarks)
        raise UnknownNameError(f"--benchmark {benchmark!r}: no such benchmark.{close} `python -m bge_eval tasks "
                               "--benchmark NAME` lists a benchmark's tasks.")
    for option, word, values, known in (("--task-types", "task type", task_types, names["task_types"]),
                                        ("--categories", "category", categories, names["categories"])):
        for value in values:
            if value not in known:
                raise UnknownNameError(f"{option} {value!r}: mteb has no such {word}.{did_you_mean(value, known)}")


if __name__ == "__main__":  # python -m bge_eval.tasks.names [FILE]: write the list for the installed mteb
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tasks" / NAMES_FILE
    target.write_text(json.dumps(current_names(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {target}")
