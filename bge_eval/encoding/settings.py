"""The encoding pipeline's tuning, in one frozen value: read from the environment once (the
only place the BGE_EVAL_TOKENIZER_* variables are read) and passed down to every stage.
docs/configuration.md lists the variables; docs/performance.md says how the defaults were chosen."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import BgeEvalError

PROCESS_VARIABLE = "BGE_EVAL_TOKENIZER_PROCESS"  # 0: never a tokenizer process; 1: on CPU too
PROCESSES_VARIABLE = "BGE_EVAL_TOKENIZER_PROCESSES"  # how many tokenizer processes
THREADS_VARIABLE = "BGE_EVAL_TOKENIZER_THREADS"  # each one's Rust threads


@dataclass(frozen=True)
class PipelineSettings:
    """How texts are cut into chunks and tokenised ahead of the model.

    first_chunk_texts / chunk_texts / chunk_growth: chunks start at first_chunk_texts texts and
        grow by chunk_growth each up to chunk_texts (the device starts early, the tokenizer keeps ahead).
    chunks_ahead: chunks the tokenizer processes may run ahead of the model.
    tokenizer_process: tokenise in child processes; None: on GPU only.
    tokenizer_processes: how many; None: 2 on 8 cores or more, else 1.
    tokenizer_threads: each process's Rust threads; None: the cores but two, shared out.
    process_min_texts: calls with fewer texts are tokenised in this process."""

    first_chunk_texts: int = 32
    chunk_texts: int = 512
    chunk_growth: float = 1.25
    chunks_ahead: int = 32
    tokenizer_process: bool | None = None
    tokenizer_processes: int | None = None
    tokenizer_threads: int | None = None
    process_min_texts: int = 2_048

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PipelineSettings:
        """The defaults, with the BGE_EVAL_TOKENIZER_* variables (and RAYON_NUM_THREADS) applied."""
        environ = os.environ if environ is None else environ
        process = environ.get(PROCESS_VARIABLE, "")
        rayon = environ.get("RAYON_NUM_THREADS", "")
        threads = _whole_number(environ, THREADS_VARIABLE, "threads")
        if threads is None and rayon.strip("0"):  # RAYON_NUM_THREADS=0 is Rust's own default: ours stands
            threads = _whole_number(environ, "RAYON_NUM_THREADS", "threads")
        return cls(
            tokenizer_process=None if process == "" else process != "0",
            tokenizer_processes=_whole_number(environ, PROCESSES_VARIABLE, "processes"),
            tokenizer_threads=threads,
        )

    def uses_processes(self, on_gpu: bool) -> bool:
        return on_gpu if self.tokenizer_process is None else self.tokenizer_process

    def process_count(self, cpu_count: int | None = None) -> int:
        """Tokenizer processes: as set, else 2 on 8 cores or more (one process's Python work,
        serial beside its Rust threads, bounds it there), else 1."""
        cores = cpu_count or os.cpu_count() or 1
        return self.tokenizer_processes or (2 if cores >= 8 else 1)

    def rust_threads(self, processes: int, cpu_count: int | None = None) -> int:
        """Each tokenizer process's Rust threads: as set, else the cores but two (the parent's
        model thread, the processes' Python work) shared out."""
        cores = cpu_count or os.cpu_count() or 2
        return self.tokenizer_threads or max(1, (cores - 2) // processes)


def _whole_number(environ: Mapping[str, str], variable: str, what: str) -> int | None:
    setting = environ.get(variable, "")
    if not setting:
        return None
    if not setting.isdigit() or int(setting) < 1:
        raise BgeEvalError(f"{variable}={setting!r}: give a whole number of {what}, 1 or more (or unset it).")
    return int(setting)
