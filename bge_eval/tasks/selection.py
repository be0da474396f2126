"""Task selection: names / benchmark -> mteb registry tasks on the benchmark's split(s).

A task keeps mteb's metadata and metrics; only its evaluated splits are narrowed to the
ones its benchmark scores (tasks/cmteb.toml for C-MTEB), and its data may come from a
local folder (local_data.py) instead of the hub.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import DEMO_BENCHMARK, refuse_filters_with_tasks
from ..errors import DataError, UnknownNameError, did_you_mean
from .cards import card_task
from .local_data import has_local_data, task_folder
from .names import is_card_path
from .registry import CHINESE_BENCHMARK, ENGLISH_BENCHMARK, load_registry


@dataclass
class PlannedTask:
    """A task ready to run: mteb's task object, the splits scored, where its data comes from."""

    name: str
    type: str
    splits: tuple[str, ...]
    languages: tuple[str, ...]
    task: Any  # mteb AbsTask
    data_source: str  # "local", "hub", "demo", "card" (a task card) or "task" (handed in)


@dataclass(frozen=True)
class TaskFilter:
    """mteb's task filters as its CLI and mteb.get_tasks take them (empty: no filter)."""

    task_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    eval_splits: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: Any) -> TaskFilter:
        return cls(tuple(config.task_types), tuple(config.languages), tuple(config.categories),
                   tuple(config.eval_splits))

    def __bool__(self) -> bool:
        return bool(self.task_types or self.languages or self.categories or self.eval_splits)

    def mteb_filters(self) -> dict[str, Any]:
        """The keywords mteb.get_tasks and mteb.filter_tasks take for types, languages and categories."""
        return {"task_types": list(self.task_types) or None, "languages": list(self.languages) or None,
                "categories": list(self.categories) or None}


def filtered(tasks: list[Any], selection: TaskFilter) -> list[Any]:
    """mteb.filter_tasks over the tasks (types, languages, categories), each kept task narrowed to the
    languages' subsets as mteb.get_tasks narrows its own, and to the splits asked for that it has
    (mteb would keep a split the task lacks; such a task is left out here, as a run of it would fail)."""
    import mteb

    kept = mteb.filter_tasks(tasks, **selection.mteb_filters())
    out = []
    for task in kept:
        if selection.languages:
            task.filter_languages(list(selection.languages))
        if selection.eval_splits:
            splits = [split for split in task.eval_splits if split in selection.eval_splits]
            if not splits:
                continue
            task.filter_eval_splits(splits)
        out.append(task)
    return out


def refuse_unknown_languages(codes: Sequence[str]) -> None:
    """A language code mteb's own check refuses: UnknownNameError naming it (mteb is imported)."""
    from .._mteb import language_code_problem

    for code in codes:
        if (problem := language_code_problem(code)) is not None:
            raise UnknownNameError(f"--languages {code!r}: {problem}; give ISO 639-3 codes such as eng or zho, or "
                                   "a code with its script such as eng-Latn.")


def refuse_unknown_filters(selection: TaskFilter) -> None:
    """A task type, category or language code mteb does not know is a mistake, not an empty selection
    (checked where a selection comes in: plan_tasks, the report's selected_rows)."""
    from .._mteb import task_categories, task_types

    refuse_unknown_languages(selection.languages)
    for option, word, values, known in (("--task-types", "task type", selection.task_types, task_types()),
                                        ("--categories", "category", selection.categories, task_categories())):
        for value in values:
            if value not in known:
                raise UnknownNameError(f"{option} {value!r}: mteb has no such {word}.{did_you_mean(value, known)}")


@dataclass(frozen=True)
class TaskPlan:
    tasks: list[PlannedTask]
    skipped: list[str]  # tasks of the benchmark with no local data under --data-dir
    benchmark: str | None


def canonical_benchmark(name: str) -> str:
    """mteb's benchmark name for `name` (our aliases such as C-MTEB included)."""
    registry = load_registry()
    if name == DEMO_BENCHMARK:
        return name
    if name in registry.aliases or name == registry.benchmark:
        return registry.benchmark
    import mteb

    try:
        return mteb.get_benchmark(name).name
    except Exception as exc:  # noqa: BLE001 - mteb raises KeyError/ValueError variants
        known = [b.name for b in mteb.get_benchmarks()] + list(registry.aliases) + [DEMO_BENCHMARK]
        raise UnknownNameError(
            f"--benchmark {name!r}: no such benchmark.{did_you_mean(name, known)} "
            "`python -m bge_eval tasks --benchmark NAME` lists a benchmark's tasks."
        ) from exc


def default_benchmark(language: str) -> str:
    return CHINESE_BENCHMARK if language == "zh" else ENGLISH_BENCHMARK


def benchmark_tasks(name: str) -> list[Any]:
    """The benchmark's task objects, on the split(s) the benchmark scores."""
    return [_own_copy(task) for task in _registry_tasks(name)]


def _benchmark_task(benchmark: str, name: str) -> Any | None:
    """The benchmark's task of this name, on the benchmark's split (None: not in it); the
    benchmark's other tasks are not copied."""
    return next((_own_copy(task) for task in _registry_tasks(benchmark) if task.metadata.name == name), None)


def _registry_tasks(name: str) -> list[Any]:
    if name == DEMO_BENCHMARK:
        from .demo import demo_tasks

        return demo_tasks()
    import mteb

    return list(mteb.get_benchmark(name).tasks)


def _own_copy(task: Any) -> Any:
    """A copy on the benchmark's split: mteb hands out the same objects on every call, and a run
    changes its own (data, splits)."""
    return _benchmark_split(copy.deepcopy(task))


def _benchmark_split(task: Any) -> Any:
    row = load_registry().get(task.metadata.name)
    if row is not None:
        task.filter_eval_splits([row.split])
    return task


def _find_task(name: str, benchmark: str | None, language: str) -> Any:
    import mteb

    candidates = [benchmark] if benchmark else [default_benchmark(language)]
    candidates += [b for b in (ENGLISH_BENCHMARK, CHINESE_BENCHMARK) if b not in candidates]
    for bench in candidates:
        task = _benchmark_task(bench, name)
        if task is not None:
            return task
    if benchmark and benchmark != DEMO_BENCHMARK and benchmark not in (ENGLISH_BENCHMARK, CHINESE_BENCHMARK):
        known = [t.metadata.name for t in benchmark_tasks(benchmark)]
        raise UnknownNameError(f"--tasks {name!r} is not in {benchmark}.{did_you_mean(name, known)}")
    try:
        return _benchmark_split(mteb.get_task(name))
    except Exception as exc:  # noqa: BLE001
        known = [t.metadata.name for t in mteb.get_tasks(exclude_superseded=False)]
        from .demo import demo_tasks

        known += [t.metadata.name for t in demo_tasks()]
        for task in demo_tasks():
            if task.metadata.name == name:
                return task
        raise UnknownNameError(f"--tasks {name!r}: no such task.{did_you_mean(name, known)}") from exc


def plan_tasks(
    names: tuple[str, ...] | list[str],
    benchmark: str | None,
    data_dir: Path | None,
    language: str = "en",
    selection: TaskFilter | None = None,
) -> TaskPlan:
    """Resolve the tasks to run and where each one's data comes from.

    With --data-dir, a benchmark's tasks that have no local folder are skipped (and
    listed); a task named with --tasks that has none is an error.
    """
    bench = canonical_benchmark(benchmark) if benchmark else None
    selection = selection or TaskFilter()
    refuse_filters_with_tasks(names, selection.task_types, selection.categories)
    refuse_unknown_filters(selection)
    if names:
        tasks = [card_task(Path(name)) if is_card_path(name) else _find_task(name, bench, language)
                 for name in dict.fromkeys(names)]
        _refuse_repeated_names(tasks)
    elif bench is None and selection:  # a filter alone: over mteb's registry, as mteb's CLI
        import mteb

        tasks = [_benchmark_split(task) for task in mteb.get_tasks(**selection.mteb_filters())]  # fresh objects
    else:
        bench = bench or default_benchmark(language)
        tasks = benchmark_tasks(bench)
    if selection:
        tasks = filtered(tasks, selection)
        if not tasks:
            where = f" in {bench}" if bench else ""
            listing = f"--benchmark '{bench}'" if bench else "--task-types TYPE"
            raise DataError(f"no task matches the filters (--task-types, --languages, --categories, --eval-splits)"
                            f"{where}; drop or widen one (`python -m bge_eval tasks {listing}` lists the tasks with "
                            "their types, languages and splits).")
    planned, skipped = [], []
    for task in tasks:
        name = task.metadata.name
        if getattr(task, "is_demo", False):
            source = "demo"
        elif getattr(task, "card_folder", None) is not None:
            source = "card"
        elif data_dir is not None:
            if not has_local_data(data_dir, name):
                if names:
                    raise DataError(
                        f"Task {name}: no local data in --data-dir; expected the folder "
                        f"{task_folder(data_dir, name)} (layout: docs/data-formats.md)."
                    )
                skipped.append(name)
                continue
            source = "local"
        else:
            source = "hub"
        planned.append(
            PlannedTask(
                name=name,
                type=task.metadata.type,
                splits=tuple(task.eval_splits),
                languages=tuple(task.metadata.languages),
                task=task,
                data_source=source,
            )
        )
    return TaskPlan(tasks=planned, skipped=skipped, benchmark=bench)


def _refuse_repeated_names(tasks: list[Any]) -> None:
    """Two tasks under one name would share a result file (a card named like another card)."""
    seen: set[str] = set()
    for task in tasks:
        name = task.metadata.name
        if name in seen:
            where = getattr(task, "card_folder", None)
            raise DataError(f"{where or name}: a second task named {name!r} in this run; task names must differ "
                            "(results are stored under them).")
        seen.add(name)


def plan_given_tasks(tasks: list[Any]) -> TaskPlan:
    """mteb task objects handed in (the Python API, tests with mteb's mock tasks), loaded by
    their own load_data."""
    planned = [PlannedTask(name=t.metadata.name, type=t.metadata.type, splits=tuple(t.eval_splits),
                           languages=tuple(t.metadata.languages), task=t, data_source="task") for t in tasks]
    return TaskPlan(tasks=planned, skipped=[], benchmark=None)
