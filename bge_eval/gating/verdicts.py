"""The regression gate's verdicts: saved results against a baseline, one verdict per entry, each
with a paired test wherever both sides have per-item results (results/per_item.py).

Exit codes: 0 every gated task holds; 1 a task regressed beyond its tolerance; 2 the input is
unusable (missing results or metric, another model or dataset revision, a bad baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import GATE_ALPHA
from ..errors import DataError
from ..metrics.drop_test import DropTest, drop_bootstrap, drop_test
from ..results.files import read_result_file, result_files
from ..results.per_item import (
    ItemValues,
    PairScores,
    PerItem,
    clean_items,
    detectable_change,
    disagreement,
    from_json,
    item_unit,
    read_per_item,
    recompute,
    refuse_non_finite,
)
from .baseline import (
    BaselineEntry,
    entry_key,
    is_number,
    read_baseline,
    read_sidecar,
    recorded_facts,
    sidecar,
)


@dataclass(frozen=True)
class FoundResult:
    model: str
    revision: str
    folder: Path  # the results/<org__model>/<revision> folder it is in
    value: float | None
    dataset_revision: str | None
    data: str | None  # the data fingerprint the run recorded for it
    per_item: PerItem | None
    no_per_item: str = ""  # why per_item is None
    damaged: str = ""  # a per-item file that cannot be used at all (non-finite values), in words


@dataclass(frozen=True)
class Verdict:
    entry: BaselineEntry
    status: str  # "pass", "improvement", "regression", "unusable"
    message: str
    new_value: float | None = None
    test: DropTest | None = None
    detectable: float | None = None  # the smallest drop the test finds with 80% power (None: unknown)

    @property
    def delta(self) -> float | None:
        return None if self.new_value is None else self.new_value - self.entry.value


def find_result(results: Path, entry: BaselineEntry) -> list[FoundResult]:
    """Every saved result for the entry's task (any model, any revision, any run folder)."""
    found = []
    for path, meta in result_files(results):
        if path.stem != entry.task:
            continue
        data = read_result_file(path)
        value = None
        for score in data["scores"].get(entry.split, []):
            if score.get("hf_subset", "default") == entry.subset and is_number(score.get(entry.metric)):
                value = float(score[entry.metric])
        per_item, why, damaged = None, "the result has no value to check per-item results against", ""
        recorded_type, data_fingerprint = recorded_facts(path, entry.task)
        if value is not None and math.isfinite(value):
            task_type = entry.type or recorded_type
            try:
                per_item, why = read_per_item(path, entry.task, task_type, entry.split, entry.metric, entry.subset,
                                              value)
            except DataError as exc:
                damaged = str(exc)
        found.append(FoundResult(meta["name"], str(meta.get("revision", "")), path.parent, value,
                                 data.get("dataset_revision"), data_fingerprint, per_item, why,
                                 damaged))
    return found


def choose(entry: BaselineEntry, found: list[FoundResult], results: Path,
           revision: str | None) -> FoundResult | str:
    """The one result the entry gates: its model's, of `revision` when one is asked for, else of the
    baseline's own revision where the results hold it; several left over is unusable (named), never a guess."""
    mine = [f for f in found if f.model == entry.model]
    if not mine:
        models = ", ".join(sorted({f.model for f in found}))
        return f"results are for {models}, the baseline is for {entry.model}."
    if revision is not None:
        mine = [f for f in mine if f.revision == revision]
        if not mine:
            return f"no result of {entry.model} at revision {revision} under {results}."
    elif len(mine) > 1 and any(f.revision == entry.revision for f in mine):
        mine = [f for f in mine if f.revision == entry.revision]
    if len(mine) > 1:
        folders = "; ".join(str(f.folder) for f in mine)
        return (f"{len(mine)} results of {entry.model} under {results} ({folders}); pick one with --revision "
                "or a narrower --results.")
    return mine[0]


def paired(entry: BaselineEntry, baseline: PerItem | None, new: FoundResult, tolerance: float,
           alpha: float) -> tuple[DropTest | None, str]:
    """The one-sided test of a drop beyond `tolerance` on the per-item results, or why there is none."""
    if baseline is None:
        return None, "the baseline has no per-item results for it (write it again with --write-baseline)"
    if new.per_item is None:
        return None, new.no_per_item
    return drop_items(entry.metric, baseline, new.per_item, tolerance, alpha)


def drop_items(metric: str, baseline: PerItem, new: PerItem, tolerance: float,
               alpha: float) -> tuple[DropTest | None, str]:
    """The gate's one-sided test on two sides' per-item results of one metric."""
    if isinstance(baseline, ItemValues) and isinstance(new, ItemValues):
        if not set(baseline.values) & set(new.values):
            return None, f"no {new.unit} in common with the baseline"
        return drop_test(baseline.values, new.values, tolerance=tolerance, alpha=alpha, unit=new.unit), ""
    if isinstance(baseline, PairScores) and isinstance(new, PairScores):
        if baseline.gold != new.gold:
            return None, "the pairs' gold values differ from the baseline's (not the same pairs)"
        return drop_bootstrap(metric, baseline.scores, new.scores, new.gold, tolerance=tolerance, alpha=alpha), ""
    return None, "the baseline's per-item results are of another kind"


# --- verdicts ----------------------------------------------------------------------
def judge(entry: BaselineEntry, results: Path, baseline_per_item: PerItem | None,
          max_drop: float | None, alpha: float, require_significance: bool, revision: str | None = None,
          contaminated: frozenset[str] | None = None) -> Verdict:
    """contaminated: items an audit found in training; both sides are then gated on the other items."""
    found = find_result(results, entry)
    where = f"{entry.task} ({entry.split}, {entry.metric}{', clean items' if contaminated is not None else ''})"
    if not found:
        return Verdict(entry, "unusable", f"{where}: no result for this task under {results}.")
    result = choose(entry, found, results, revision)
    if isinstance(result, str):
        return Verdict(entry, "unusable", f"{where}: {result}")
    if result.damaged:
        return Verdict(entry, "unusable", f"{where}: {result.damaged}")
    if contaminated is not None:
        if result.per_item is None:
            return Verdict(entry, "unusable", f"{where}: the audit's clean items need the result's per-item "
                           f"results: {result.no_per_item}.")
        kept = clean_items(result.per_item, contaminated)
        result = replace(result, per_item=kept, value=recompute(kept, entry.metric))
    if result.value is None:
        return Verdict(entry, "unusable", f"{where}: the result file has no {entry.metric} for this split.")
    if not math.isfinite(result.value):
        return Verdict(entry, "unusable", f"{where}: the result's {entry.metric} is {result.value}; "
                       "nothing to compare.")
    if entry.dataset_revision and result.dataset_revision and entry.dataset_revision != result.dataset_revision:
        return Verdict(entry, "unusable", f"{where}: dataset revision {result.dataset_revision} differs "
                       f"from the baseline's {entry.dataset_revision}.")
    if entry.data and result.data and entry.data != result.data:
        return Verdict(entry, "unusable", f"{where}: the task's data changed since the baseline (data "
                       f"{result.data[:18]} here, {entry.data[:18]} in the baseline): not a model regression; "
                       "write the baseline again on this data.")
    tolerance = entry.tolerance if max_drop is None else max_drop
    if not math.isfinite(tolerance) or tolerance < 0:
        return Verdict(entry, "unusable", f"{where}: tolerance {tolerance} is not a finite number >= 0.")
    test, no_test = paired(entry, baseline_per_item, result, tolerance, alpha)
    delta = result.value - entry.value
    facts = f"baseline {entry.value:.5f}, new {result.value:.5f}, delta {delta:+.5f} (tolerance {tolerance:.5f})"
    if test is not None:
        facts += (f"; {test.method} test over {test.n_items} {test.unit} of a drop beyond the tolerance: "
                  f"p={test.p_value:.4f}, {100 * (1 - alpha):.0f}% upper bound on the change {test.upper_bound:+.5f}")
    else:
        facts += f"; no paired test: {no_test}"
    detectable = None
    if test is not None and baseline_per_item is not None and result.per_item is not None:
        size, basis = detectable_change(entry.metric, baseline_per_item, result.per_item)
        if math.isfinite(size):
            detectable = size
            facts += f"; drops below {size:.5f} are not detectable with these {test.unit} (80% power, from {basis})"
    significant = test is not None and test.significant
    if delta < -tolerance and (significant or not require_significance or test is None):
        # With --require-significance a drop that cannot be tested still fails: it was not shown to be noise.
        return Verdict(entry, "regression", f"{where}: regressed: {facts}.", result.value, test, detectable)
    if delta < -tolerance:
        return Verdict(entry, "pass", f"{where}: drop beyond tolerance but not significant: {facts}.",
                       result.value, test, detectable)
    status = "improvement" if delta > tolerance else "pass"
    return Verdict(entry, status, f"{where}: {'improved' if status == 'improvement' else 'holds'}: {facts}.",
                   result.value, test, detectable)


def run_gate(results: Path, baseline: Path, *, tasks: list[str] | None = None, metric: str | None = None,
             max_drop: float | None = None, alpha: float = GATE_ALPHA, require_significance: bool = False,
             revision: str | None = None, audit: Any = None) -> list[Verdict]:
    """audit: an contamination.clean.Audit; its tasks are gated on the items it found clean, both sides."""
    every = read_baseline(baseline)
    entries = [e for e in every if (not tasks or e.task in tasks) and (metric is None or e.metric == metric)]
    if not entries:
        held = ", ".join(sorted({f"{e.task} ({e.metric})" for e in every})) or "no entries"
        raise DataError(f"--baseline {baseline}: no entry for the tasks/metric asked for (it holds {held}); "
                        "add them with --write-baseline --tasks ...")
    per_item = read_sidecar(baseline)
    verdicts = []
    for entry in entries:
        stored = from_json(per_item.get(entry_key(entry)), item_unit(entry.type or ""))
        problem = baseline_per_item_problem(entry, stored, sidecar(baseline))
        audited = audit.task(entry.task, entry.subset, entry.split) if audit is not None else None
        if not problem and audited is not None:
            problem = audited.other_data(entry.data) or ("" if stored is not None else (
                "the audit's clean items need the baseline's per-item results (its .per_query.json sidecar); "
                "write the baseline again with --write-baseline"))
            if not problem and stored is not None:
                stored = clean_items(stored, audited.contaminated)
                entry = replace(entry, value=recompute(stored, entry.metric))
        if problem:
            verdicts.append(Verdict(entry, "unusable", f"{entry.task} ({entry.split}, {entry.metric}): {problem}"))
        else:
            verdicts.append(judge(entry, results, stored, max_drop, alpha, require_significance, revision,
                                  audited.contaminated if audited is not None else None))
    return verdicts


def baseline_per_item_problem(entry: BaselineEntry, stored: PerItem | None, where: Path) -> str:
    """Why the baseline's own per-item results cannot be used ("" when they can): checked against the
    baseline's value exactly as a new result's are against its file."""
    if stored is None:
        return ""
    fix = "write the baseline again with --write-baseline"
    try:
        refuse_non_finite(stored, f"{where} ({entry_key(entry)})", fix)
    except DataError as exc:
        return str(exc)
    problem = disagreement(stored, entry.metric, entry.value)
    return f"{where}: its per-item results {problem}, the baseline's value is {entry.value:.5f} (edited?); {fix}." \
        if problem else ""


def exit_code(verdicts: list[Verdict]) -> int:
    if any(v.status == "unusable" for v in verdicts):
        return 2
    return 1 if any(v.status == "regression" for v in verdicts) else 0
