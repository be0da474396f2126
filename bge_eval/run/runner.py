"""The first stage: a model on the planned tasks, resuming from earlier runs; the tasks still to
compute run through the local executor (executor.py), so a failing task is reported and the
others finish (RunConfig.fail_fast stops at the first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .._util import output_lock
from ..config import RunConfig
from ..models import ResolvedModel
from .executor import LocalExecutor, execute_runs
from .outcome import RunSummary
from .prepared import DescribedModel, model_target, plan_run, prepare


def run(config: RunConfig, *, encoder: Any = None, resolved: ResolvedModel | None = None,
        tasks: Sequence[Any] | None = None) -> RunSummary:
    """Evaluate `config.model` on the planned tasks; resumes from earlier runs.

    encoder: an already-built mteb model (carrying `mteb_model_meta`) to evaluate instead of
        building one from the config (kept open: the caller closes it).
    resolved: the checkpoint to build the encoder from, instead of resolving config.model.
    tasks: mteb task objects to run instead of config.tasks / config.benchmark.
    A task that fails is in the summary (status "failed", summary.failures, summary.exit_code)."""
    if config.devices:  # checked before anything is written
        from ..encoding.multi_device import resolve_devices

        resolve_devices(config.devices)
    target = model_target(config, encoder, resolved)
    plan, layout = plan_run(config, target, tasks)
    with output_lock(config.output):
        prepared = prepare(config, target, plan, layout)
        if isinstance(encoder, DescribedModel):
            prepared.manifest.record_encoder(**asdict(encoder.encoder_facts()))
        (summary,), _ = execute_runs([prepared], LocalExecutor(encoder), fail_fast=config.fail_fast)
    return summary

