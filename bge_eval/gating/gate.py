"""The regression gate: saved results + a baseline file -> verdicts, exit code, CI outputs.

Exit codes: 0 every gated task holds; 1 a task regressed beyond its tolerance; 2 the input is
unusable (missing results or metric, another model or dataset revision, a bad baseline).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ..errors import DataError
from ..metrics.significance import PairedTest, paired_test
from ..results.files import read_result_file, result_files
from ..run.manifest import atomic_write_json
from ..run.per_query import per_query_path, read_per_query

BASELINE_VERSION = 1


@dataclass(frozen=True)
class BaselineEntry:
    """One gated number: a model identity's metric on a task split."""

    model: str
    task: str
    split: str
    metric: str
    value: float
    tolerance: float
    dataset_revision: str | None
    revision: str | None = None
    subset: str = "default"


@dataclass(frozen=True)
class FoundResult:
    model: str
    revision: str
    value: float | None
    dataset_revision: str | None
    per_query: dict[str, float] | None


@dataclass(frozen=True)
class Verdict:
    entry: BaselineEntry
    status: str  # "pass", "improvement", "regression", "unusable"
    message: str
    new_value: float | None = None
    test: PairedTest | None = None

    @property
    def delta(self) -> float | None:
        return None if self.new_value is None else self.new_value - self.entry.value


# --- baselines ---------------------------------------------------------------------
def read_baseline(path: Path) -> list[BaselineEntry]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return [BaselineEntry(**entry) for entry in data["entries"]]
    except FileNotFoundError as exc:
        raise DataError(f"--baseline {path}: file not found; create it with --write-baseline.") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"--baseline {path}: not a bge_eval baseline file ({exc}).") from exc


def sidecar(path: Path) -> Path:
    """Per-query baseline values live beside the baseline, keeping it small and reviewable."""
    return Path(path).with_suffix(".per_query.json")


def write_baseline(path: Path, results: Path, tasks: list[str] | None, metric: str,
                   tolerance: float, split: str | None = None) -> list[BaselineEntry]:
    """Create or update baseline entries (and their per-query values) from saved results."""
    new_entries, per_query = [], {}
    for result_file, meta in result_files(results):
        data = read_result_file(result_file)
        name = data["task_name"]
        if tasks and name not in tasks:
            continue
        for split_name, scores in data["scores"].items():
            if split and split_name != split:
                continue
            for score in scores:
                if metric not in score:
                    continue
                entry = BaselineEntry(
                    model=meta["name"], task=name, split=split_name, metric=metric,
                    value=round(float(score[metric]), 6), tolerance=tolerance,
                    dataset_revision=data.get("dataset_revision"), revision=meta.get("revision"),
                    subset=score.get("hf_subset", "default"),
                )
                new_entries.append(entry)
                values = read_per_query(_per_query_file(result_file, name), split_name, metric, entry.subset)
                if values is not None:
                    per_query[_key(entry)] = values
    if not new_entries:
        raise DataError(f"--results {results}: no result with metric {metric!r}"
                        + (f" for tasks {', '.join(tasks)}" if tasks else "") + ".")
    old = read_baseline(path) if Path(path).is_file() else []
    old_per_query = _read_sidecar(path)
    replaced = {_key(e) for e in new_entries}
    entries = [e for e in old if _key(e) not in replaced] + new_entries
    atomic_write_json(Path(path), {"bge_eval_baseline": BASELINE_VERSION,
                                   "entries": [asdict(e) for e in entries]})
    kept = {k: v for k, v in old_per_query.items() if k not in replaced}
    atomic_write_json(sidecar(path), {**kept, **per_query})
    return new_entries


def _key(entry: BaselineEntry) -> str:
    return "|".join((entry.model, entry.task, entry.split, entry.subset, entry.metric))


def _read_sidecar(path: Path) -> dict[str, dict[str, float]]:
    file = sidecar(path)
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


# --- results -----------------------------------------------------------------------
def _per_query_file(result_file: Path, task: str) -> Path:
    """results/<model>/<revision>/<Task>.json -> predictions/<model>/<revision>/<Task>_per_query.json"""
    revision_dir = result_file.parent
    output = revision_dir.parent.parent.parent
    return per_query_path(output / "predictions" / revision_dir.parent.name / revision_dir.name, task)


def find_result(results: Path, entry: BaselineEntry) -> list[FoundResult]:
    """Every saved result for the entry's task (any model), newest layout first."""
    found = []
    for path, meta in result_files(results):
        if path.stem != entry.task:
            continue
        data = read_result_file(path)
        value = None
        for score in data["scores"].get(entry.split, []):
            if score.get("hf_subset", "default") == entry.subset and entry.metric in score:
                value = float(score[entry.metric])
        per_query = read_per_query(_per_query_file(path, entry.task), entry.split, entry.metric, entry.subset)
        found.append(FoundResult(meta["name"], meta.get("revision", ""), value,
                                 data.get("dataset_revision"), per_query))
    return found


# --- verdicts ----------------------------------------------------------------------
def judge(entry: BaselineEntry, results: Path, baseline_per_query: dict[str, float] | None,
          max_drop: float | None, alpha: float, require_significance: bool) -> Verdict:
    found = find_result(results, entry)
    where = f"{entry.task} ({entry.split}, {entry.metric})"
    if not found:
        return Verdict(entry, "unusable", f"{where}: no result for this task under {results}.")
    mine = [f for f in found if f.model == entry.model]
    if not mine:
        models = ", ".join(sorted({f.model for f in found}))
        return Verdict(entry, "unusable",
                       f"{where}: results are for {models}, the baseline is for {entry.model}.")
    result = mine[0]
    if result.value is None:
        return Verdict(entry, "unusable", f"{where}: the result file has no {entry.metric} for this split.")
    if entry.dataset_revision and result.dataset_revision and entry.dataset_revision != result.dataset_revision:
        return Verdict(entry, "unusable", f"{where}: dataset revision {result.dataset_revision} differs "
                       f"from the baseline's {entry.dataset_revision}.")
    tolerance = entry.tolerance if max_drop is None else max_drop
    test = None
    if baseline_per_query and result.per_query:
        test = paired_test(baseline_per_query, result.per_query)
    delta = result.value - entry.value
    facts = f"baseline {entry.value:.5f}, new {result.value:.5f}, delta {delta:+.5f} (tolerance {tolerance:.5f})"
    if test is not None:
        facts += (f"; paired test over {test.n_queries} queries: p={test.p_value:.4f}, "
                  f"95% CI [{test.ci_low:+.5f}, {test.ci_high:+.5f}]")
    significant = test is not None and test.p_value < alpha
    if delta < -tolerance and (significant or not require_significance):
        return Verdict(entry, "regression", f"{where}: regressed: {facts}.", result.value, test)
    if delta < -tolerance:
        return Verdict(entry, "pass", f"{where}: drop beyond tolerance but not significant: {facts}.",
                       result.value, test)
    status = "improvement" if delta > tolerance else "pass"
    return Verdict(entry, status, f"{where}: {'improved' if status == 'improvement' else 'holds'}: {facts}.",
                   result.value, test)


def run_gate(results: Path, baseline: Path, *, tasks: list[str] | None = None, metric: str | None = None,
             max_drop: float | None = None, alpha: float = 0.05,
             require_significance: bool = False) -> list[Verdict]:
    entries = [e for e in read_baseline(baseline)
               if (not tasks or e.task in tasks) and (metric is None or e.metric == metric)]
    if not entries:
        raise DataError(f"--baseline {baseline}: no entry for the tasks/metric asked for.")
    per_query = _read_sidecar(baseline)
    return [judge(e, results, per_query.get(_key(e)), max_drop, alpha, require_significance)
            for e in entries]


def exit_code(verdicts: list[Verdict]) -> int:
    if any(v.status == "unusable" for v in verdicts):
        return 2
    return 1 if any(v.status == "regression" for v in verdicts) else 0


# --- outputs -----------------------------------------------------------------------
def markdown_summary(verdicts: list[Verdict]) -> str:
    icon = {"pass": "pass", "improvement": "improved", "regression": "**REGRESSION**", "unusable": "**unusable**"}
    lines = ["## bge_eval gate", "",
             "| task | split | metric | baseline | new | delta | tolerance | p | 95% CI | verdict |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for v in verdicts:
        e, t = v.entry, v.test
        lines.append("| " + " | ".join([
            e.task, e.split, e.metric, f"{e.value:.5f}",
            "" if v.new_value is None else f"{v.new_value:.5f}",
            "" if v.delta is None else f"{v.delta:+.5f}", f"{e.tolerance:.5f}",
            "" if t is None else f"{t.p_value:.4f}",
            "" if t is None else f"[{t.ci_low:+.5f}, {t.ci_high:+.5f}]", icon[v.status],
        ]) + " |")
    lines += ["", *[f"- {v.message}" for v in verdicts], ""]
    return "\n".join(lines)


def junit_xml(verdicts: list[Verdict]) -> str:
    failures = sum(v.status == "regression" for v in verdicts)
    errors = sum(v.status == "unusable" for v in verdicts)
    cases = []
    for v in verdicts:
        name = quoteattr(f"{v.entry.task} {v.entry.split} {v.entry.metric}")
        body = ""
        if v.status == "regression":
            body = f"<failure message={quoteattr(v.message)}/>"
        elif v.status == "unusable":
            body = f"<error message={quoteattr(v.message)}/>"
        else:
            body = f"<system-out>{_escape(v.message)}</system-out>"
        cases.append(f'  <testcase classname="bge_eval.gate" name={name}>{body}</testcase>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="bge_eval gate" tests="{len(verdicts)}" '
            f'failures="{failures}" errors="{errors}">\n' + "\n".join(cases) + "\n</testsuite>\n")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
