"""bge_eval: an MTEB / C-MTEB evaluation harness for BGE text-embedding models.

Public API (everything else is private to its module):
- RunConfig: the options of one run; run(config) evaluates and returns a RunSummary.
- resolve_model / ModelSpec / BGE_MODELS: model facts and checkpoints.
- BgeEncoder, InstructionRouter: the mteb encoder adapter and its instruction policy.
- plan_tasks: task names / benchmarks -> mteb tasks with local data.
- bge_eval.report_data.build_report / bge_eval.gate.run_gate: reports and the regression gate.
"""

from .config import RunConfig
from .errors import BgeEvalError, DataError, ModelNotFoundError, UnknownNameError
from .models.resolve import BGE_MODELS, ModelSpec, resolve_model

__version__ = "0.1.0"

__all__ = [
    "BGE_MODELS",
    "BgeEvalError",
    "DataError",
    "ModelNotFoundError",
    "ModelSpec",
    "RunConfig",
    "UnknownNameError",
    "__version__",
    "resolve_model",
]
