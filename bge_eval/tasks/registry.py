"""The task registry files shipped in tasks/ (the C-MTEB table: each task's type, the split
C-MTEB scores and the metric it publishes), and the metric each benchmark reports."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

ENGLISH_BENCHMARK = "MTEB(eng, v1)"
CHINESE_BENCHMARK = "MTEB(cmn, v1)"

@dataclass(frozen=True)
class RegistryTask:
    """One row of a task registry file (tasks/*.toml)."""

    name: str
    type: str
    split: str
    main_score: str


@dataclass(frozen=True)
class Registry:
    benchmark: str
    aliases: tuple[str, ...]
    tasks: tuple[RegistryTask, ...]

    def get(self, name: str) -> RegistryTask | None:
        return next((t for t in self.tasks if t.name == name), None)


@cache
def load_registry(file_name: str = "cmteb.toml") -> Registry:
    """Read a registry file shipped in tasks/."""
    text = resources.files("bge_eval._tasks").joinpath(file_name).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return Registry(
        benchmark=data["benchmark"]["name"],
        aliases=tuple(data["benchmark"].get("aliases", ())),
        tasks=tuple(RegistryTask(**row) for row in data["task"]),
    )


def benchmark_metric(task_name: str, task_type: str, policy: str | None = "bge") -> str:
    """The metric a task's published number is, as named in our result files: C-MTEB's own main
    score (MAP over candidates for reranking, cosine AP for pair classification), else mteb's.
    Under BGE's recipe (policy "bge") pair classification is cosine AP in English too, as BGE's
    summarize_results published it; mteb's max_ap stays in the file (docs/recipe.md)."""
    if task_type == "Reranking":
        return "cmteb_map"
    if task_type == "PairClassification" and policy == "bge":
        return "cosine_ap"
    row = load_registry().get(task_name)
    if row is not None and row.main_score not in ("map",):
        return row.main_score
    return "main_score"


@cache
def benchmark_task_types() -> dict[str, dict[str, str]]:
    """{benchmark: {task: type}} for the English and Chinese benchmarks (mteb's task lists)."""
    import mteb

    return {name: {t.metadata.name: t.metadata.type for t in mteb.get_benchmark(name).tasks}
            for name in (ENGLISH_BENCHMARK, CHINESE_BENCHMARK)}


def task_type_of(task: str) -> str:
    """A task's type by its name: the benchmarks', mteb's registry, the demo suite's; else "Other"."""
    for types in benchmark_task_types().values():
        if task in types:
            return types[task]
    import mteb

    try:
        return mteb.get_task(task).metadata.type
    except Exception:  # noqa: BLE001 - a task mteb does not know (the demo suite)
        from .demo import DEMO_TASKS

        return next((c.metadata.type for c in DEMO_TASKS if c.metadata.name == task), "Other")
