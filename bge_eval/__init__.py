"""bge_eval: an MTEB / C-MTEB evaluation harness for BGE text-embedding models.

The public API (imported on first use, so `import bge_eval` loads neither torch nor mteb):

- evaluate(model, tasks, *, benchmark=None, **options) -> RunSummary: the CLI's runner.
- get_encoder(model, **options) -> BgeEncoder: the fast BGE encoder as an mteb model;
  demo_tasks(): the bundled demo suite as mteb tasks.
- rerank(summary, reranker, **options) -> RerankSummary: the second stage; index_variants(summary,
  ["int8", "hnsw:32"], **options): the retrieval tasks through quantized / approximate indexes;
  rerank_variants(summary, variants, reranker): the second stage over each variant's candidates.
- sweep(models, tasks, *, ray=None, **options) -> SweepSummary: several models, here or on Ray
  (ModelEntry, RayOptions).
- load_results(*folders) -> pandas.DataFrame of tidy rows.
- build_report(*folders, output=None) -> ReportData (and index.html / README.md when output is given).
- gate(results, baseline, ...) -> GateReport; write_baseline(baseline, results, ...).
- compare(base, new, ...) -> Comparison: two results compared item by item; bisect(models, tasks,
  ...) -> BisectResult: the first checkpoint whose score dropped; audit(train, tasks, ...) ->
  AuditResult: the evaluated texts searched in one's training data (docs/audit.md).
- RunConfig (every option of a run, with its default, checked where it is built: ConfigError) and
  the errors (BgeEvalError and kin); a run's failed tasks are RunSummary.failures (UnitFailure).
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

from .config import RunConfig
from .errors import BgeEvalError, ConfigError, DataError, ModelNotFoundError, UnknownNameError

try:
    __version__ = metadata.version("bge_eval")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {
    "evaluate": "api", "get_encoder": "api", "rerank": "api", "load_results": "api", "build_report": "api",
    "gate": "api", "compare": "api", "write_baseline": "api", "make_config": "api", "demo_tasks": "api",
    "describe_tasks": "api", "bisect": "api", "index_variants": "api", "rerank_variants": "api", "audit": "api",
    "RunSummary": "run.outcome", "TaskOutcome": "run.outcome", "BgeEncoder": "encoding.mteb_encoder",
    "GateReport": "gating", "ReportData": "report.data", "ModelSpec": "models", "BGE_MODELS": "models",
    "resolve_model": "models", "sweep": "api", "ModelEntry": "run.sweep", "SweepSummary": "run.sweep",
    "RayOptions": "run.ray_executor", "UnitFailure": "run.outcome",
}

__all__ = [
    "BGE_MODELS", "audit", "BgeEncoder", "BgeEvalError", "ConfigError", "DataError", "GateReport", "ModelEntry",
    "ModelNotFoundError", "ModelSpec", "RayOptions", "ReportData", "RunConfig", "RunSummary", "SweepSummary",
    "TaskOutcome", "UnitFailure", "UnknownNameError", "__version__", "build_report", "demo_tasks", "describe_tasks",
    "bisect", "compare", "evaluate", "gate", "get_encoder", "index_variants", "load_results", "make_config", "rerank",
    "rerank_variants", "resolve_model", "sweep", "write_baseline",
]

if TYPE_CHECKING:
    from .api import (
        audit,
        bisect,
        build_report,
        compare,
        demo_tasks,
        describe_tasks,
        evaluate,
        gate,
        get_encoder,
        index_variants,
        load_results,
        make_config,
        rerank,
        rerank_variants,
        sweep,
        write_baseline,
    )
    from .encoding.mteb_encoder import BgeEncoder
    from .gating import GateReport
    from .models import BGE_MODELS, ModelSpec, resolve_model
    from .report.data import ReportData
    from .run.outcome import RunSummary, TaskOutcome, UnitFailure
    from .run.ray_executor import RayOptions
    from .run.sweep import ModelEntry, SweepSummary


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bge_eval' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
