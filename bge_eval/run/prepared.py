"""A model's run, planned: what it evaluates (ModelTarget), its tasks and folders (plan_run), and,
under the output lock, the open manifest and the tasks to compute (prepare -> PreparedRun).

A task whose result file holds every scored split and was made from the same weights, data and
settings (identity.py) is not recomputed; every other task becomes a unit for an executor
(executor.py), with the reason said when an earlier result is replaced."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..config import RunConfig
from ..encoding.facts import EncoderFacts
from ..errors import BgeEvalError
from ..models import ModelSpec, ResolvedModel, is_local_revision, mteb_meta, resolve_model
from ..models.recipe import Recipe
from ..results.files import read_result_file
from ..results.layout import ResultsLayout
from ..results.manifest import Manifest, TaskRecord, harness_git_revision, package_versions
from ..tasks.registry import benchmark_metric
from ..tasks.selection import PlannedTask, TaskFilter, TaskPlan, plan_given_tasks, plan_tasks
from .identity import reuse_decision, task_identity, weights_identity
from .outcome import RunSummary, TaskOutcome, UnitFailure
from .task_eval import TaskWork

log = logging.getLogger(__name__)


@runtime_checkable
class DescribedModel(Protocol):
    """What the runner reads of a model it is handed, beyond mteb's own protocols (BgeEncoder
    has it; any other mteb model is taken as English with no instruction routing of ours)."""

    mteb_model_meta: Any
    language: str
    recipe: Recipe | None
    spec: ModelSpec
    checkpoint: Path  # the folder the weights were loaded from

    def encoder_facts(self) -> EncoderFacts: ...


@dataclass
class ModelTarget:
    """What a run evaluates: the model's identity and how it encodes (an encoder handed in, or
    the checkpoint `resolved` that one is built from)."""

    meta: Any
    language: str
    recipe: Recipe | None
    precision: str | None
    resolved: ResolvedModel | None = None
    checkpoint: Path | None = None
    spec: ModelSpec | None = None


def model_target(config: RunConfig, encoder: Any = None, resolved: ResolvedModel | None = None) -> ModelTarget:
    if encoder is None:
        from ..encoding.engine import precision_for

        resolved = resolved or resolve_model(config.model, config.model_path, config.revision)
        meta = mteb_meta(resolved)
        if is_local_revision(meta.revision) and config.revision is None:
            log.warning("%s: weights from %s are stored under revision %s (named by their files; the registry's "
                        "revision names the published weights); --revision NAME names them", meta.name,
                        resolved.checkpoint, meta.revision)
        if resolved.spec.guessed:
            log.warning("%s", resolved.spec.guessed)
        return ModelTarget(meta, resolved.spec.language, Recipe.for_config(config, resolved.spec, meta),
                           precision_for(config.precision, config.devices[0] if config.devices else config.device),
                           resolved, resolved.checkpoint, resolved.spec)
    if isinstance(encoder, DescribedModel):
        return ModelTarget(encoder.mteb_model_meta, encoder.language, encoder.recipe,
                           encoder.encoder_facts().precision, None, encoder.checkpoint, encoder.spec)
    return ModelTarget(encoder.mteb_model_meta, "en", None, None)


@dataclass
class PreparedRun:
    """A model's run, planned: the open manifest, each task's identity, the tasks to compute
    (todo) and why saved results are replaced (notes). Made and used under the output lock."""

    config: RunConfig
    target: ModelTarget
    plan: TaskPlan
    layout: ResultsLayout
    manifest: Manifest
    identities: dict[str, Any] = field(default_factory=dict)
    todo: set[str] = field(default_factory=set)
    notes: dict[str, str] = field(default_factory=dict)

    def record(self, planned: PlannedTask, work: TaskWork) -> None:
        """A task just committed: its record in the manifest, written at once."""
        self.manifest.record_task(planned.name, TaskRecord.computed(planned, work, self.identities[planned.name]))
        self.manifest.write(self.layout.manifest_file)

    def check_worker_identity(self, task: str, recorded: dict[str, Any] | None, host: str) -> None:
        """A worker's identity of a task (ResultIdentity as JSON) must be the one planned here."""
        changes = self.identities[task].changes_from(recorded)
        if changes:
            raise BgeEvalError(f"the worker on {host} evaluated other inputs than the driver planned "
                               f"({'; '.join(changes)}); give every node the same weights and data at the same "
                               "paths.")

    def outcome(self, planned: PlannedTask, status: str, wall: float) -> TaskOutcome:
        recipe = self.target.recipe
        return task_outcome(planned, status, wall, self.layout.result_file(planned.name),
                            self.notes.get(planned.name), recipe.policy if recipe is not None else None)

    def finish(self, outcomes: list[TaskOutcome], failures: list[UnitFailure] | None = None) -> RunSummary:
        """Close the run in the manifest (not created for a run that committed nothing to a new folder)."""
        self.manifest.finish_run()
        if self.layout.manifest_file.is_file() or any(o.status == "computed" for o in outcomes):
            self.manifest.write(self.layout.manifest_file)
        meta = self.target.meta
        return RunSummary(meta.name, str(meta.revision), self.layout.results_dir, self.layout.predictions_dir,
                          outcomes, self.plan.skipped, list(failures or []))


def plan_run(config: RunConfig, target: ModelTarget, tasks: Sequence[Any] | None = None) -> tuple[TaskPlan,
                                                                                                   ResultsLayout]:
    if tasks is not None:
        plan = plan_given_tasks(list(tasks))
    else:
        plan = plan_tasks(config.tasks, config.benchmark, config.data_dir, target.language, TaskFilter.of(config))
    if plan.skipped:
        log.warning("Skipped %d task(s) of %s with no local data in %s: %s",
                    len(plan.skipped), plan.benchmark, config.data_dir, ", ".join(plan.skipped))
    return plan, ResultsLayout.for_model(config.output, target.meta)


def prepare(config: RunConfig, target: ModelTarget, plan: TaskPlan, layout: ResultsLayout) -> PreparedRun:
    """Open the manifest and decide, task by task, what is computed (call under the output lock)."""
    layout.refuse_links()
    manifest = _start_manifest(layout, config, target.recipe, target.resolved, plan)
    if config.suite is not None:
        from ..tasks.suites import read_suite, suite_record

        suite = read_suite(config.suite)
        manifest.suites[suite.name] = suite_record(suite, plan.tasks)
    prepared = PreparedRun(config, target, plan, layout, manifest)
    prepared.identities = task_identities(config, target, plan, manifest.fingerprints)
    for planned in plan.tasks:
        identity = prepared.identities[planned.name]
        recorded = manifest.tasks.get(planned.name)
        compute, note = reuse_decision(identity, recorded.identity if recorded else None,
                                       layout.result_file(planned.name), planned.splits,
                                       overwrite=config.overwrite, keep_results=config.keep_results)
        if compute:
            prepared.todo.add(planned.name)
        if note:
            prepared.notes[planned.name] = note
            log.warning("%s: the saved result is %s", planned.name, note)
    return prepared


def task_identities(config: RunConfig, target: ModelTarget, plan: TaskPlan,
                    fingerprints: dict[str, Any]) -> dict[str, Any]:
    """What would produce each planned task's result (identity.ResultIdentity): weights, data, settings.
    fingerprints: the manifest's record of files already hashed (updated)."""
    recipe, spec = target.recipe, target.spec
    common = {"instruction": recipe.describe() if recipe else None, "precision": target.precision,
              **({"pooling": spec.pooling, "max_length": spec.max_length} if spec else {})}
    weights = weights_identity(target.checkpoint, fingerprints) if target.checkpoint is not None else None
    identities = {}
    for planned in plan.tasks:
        per_task = common
        if recipe is not None:  # this task's own: its queries' instruction and normalisation
            per_task = {**common, **asdict(recipe.for_task(planned.task.metadata))}
        elif spec is not None:
            per_task = {**common, "normalize": spec.normalize}
        identities[planned.name] = task_identity(planned, config.data_dir, fingerprints, weights, per_task)
    return identities


def _start_manifest(layout: ResultsLayout, config: RunConfig, recipe: Recipe | None,
                    resolved: ResolvedModel | None, plan: TaskPlan) -> Manifest:
    """This run's manifest, carried over from the folder's earlier one; results made with
    another instruction setting are refused (they would be mixed with this run's)."""
    previous = Manifest.take_over(layout.manifest_file)
    instruction = recipe.describe() if recipe else None
    if previous and instruction and previous.instruction and not config.overwrite and any(
            previous.instruction.get(key) != instruction[key] for key in ("policy", "instruction", "custom")):
        raise BgeEvalError(
            f"{layout.manifest_file}: these results were made with instruction {previous.instruction}, this "
            f"run asks for {instruction}. Use another --output folder for this setting (or --overwrite to "
            "replace them).")
    model = None
    if resolved is not None:
        model = {"name": resolved.spec.name, "source": resolved.source, "checkpoint": str(resolved.checkpoint),
                 "spec": resolved.spec.__dict__}
    manifest = Manifest(config=config.to_json(), instruction=instruction, benchmark=plan.benchmark,
                        skipped_tasks=plan.skipped, versions=package_versions(),
                        harness_git_revision=harness_git_revision(), model=model)
    manifest.start_run(previous)
    return manifest


def task_outcome(planned: PlannedTask, status: str, wall: float, result_path: Path,
                 note: str | None = None, policy: str | None = "bge") -> TaskOutcome:
    """The task's score per split, in the metric its benchmark publishes (see benchmark_metric)."""
    scores = read_result_file(result_path)["scores"]
    metric = benchmark_metric(planned.name, planned.type, policy)
    entries = [entry for split in planned.splits for entry in scores.get(split, [])]
    if any(metric not in entry for entry in entries):
        metric = "main_score"  # a result file without the benchmark's own metric (a handed-in task, say)
    main = {}
    for split in planned.splits:
        values = [entry[metric] for entry in scores.get(split, [])]
        if values:
            main[split] = sum(values) / len(values)
    card = getattr(planned.task, "card_folder", None)
    return TaskOutcome(planned.name, planned.type, status, round(wall, 3), main, note, metric,
                       str(card) if card is not None else None,
                       planned.task.metadata.main_score if metric == "main_score" else metric)
