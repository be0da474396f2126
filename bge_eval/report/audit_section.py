"""The report's contamination section (docs/audit.md): what the audit found per task, and each
run's score on the items it found clean next to the full score (the gate's metric for the type,
recomputed from the per-item files). Shown when `report --audit FILE` is given or an audit.json
sits in a results folder the report reads."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contamination.clean import AUDIT_FILE, Audit, clean_score, read_audit
from ..errors import DataError
from ..gating.baseline import gate_metric, recorded_facts
from ..results.files import read_result_file
from ..results.per_item import read_per_item


@dataclass(frozen=True)
class CleanRow:
    run: str
    task: str
    split: str
    metric: str
    items: int = 0
    excluded: int = 0
    full: float | None = None
    clean: float | None = None
    note: str = ""  # why there is no clean score

    @property
    def difference(self) -> float | None:
        return None if self.full is None or self.clean is None else self.clean - self.full


@dataclass(frozen=True)
class FindingRow:
    task: str  # "Task (split)"
    unit: str
    items: int
    contaminated: int
    seen: str  # what was seen, in words


@dataclass(frozen=True)
class AuditSection:
    source: str
    threshold: float
    findings: list[FindingRow]
    rows: list[CleanRow] = field(default_factory=list)


def find_audit(folders: list[Path], given: Path | None) -> Audit | None:
    if given is not None:
        return read_audit(given)
    found = next((Path(f) / AUDIT_FILE for f in folders if (Path(f) / AUDIT_FILE).is_file()), None)
    return read_audit(found) if found else None


def audit_section(audit: Audit | None, runs: list[Any], rows: list[Any]) -> AuditSection | None:
    """runs, rows: report.data's Run values and their TaskRows."""
    if audit is None:
        return None
    findings = [FindingRow(f"{task} ({split}{'' if subset == 'default' else ', ' + subset})", a.unit, a.items,
                           len(a.contaminated), _seen(a.unit, a.counts))
                for (task, subset, split), a in sorted(audit.tasks.items())]
    by_label = {run.label: run for run in runs}
    clean = [_clean_row(audit, by_label[row.run], row) for row in rows
             if row.run in by_label and audit.task(row.task, "default", row.split) is not None]
    return AuditSection(str(audit.path), audit.threshold, findings, clean)


def _seen(unit: str, counts: dict[str, int]) -> str:
    if unit == "queries":
        return (f"{counts.get('queries_seen', 0)} queries, {counts.get('relevant_documents_seen', 0)} of "
                f"{counts.get('relevant_documents', 0)} relevant documents, {counts.get('pairs_together', 0)} "
                "(query, relevant document) pairs as one training (query, pos)")
    return f"{counts.get(unit + '_seen', 0)} {unit} ({counts.get(unit + '_seen_exact', 0)} exact copies)"


def _clean_row(audit: Audit, run: Any, row: Any) -> CleanRow:
    audited = audit.task(row.task, "default", row.split)
    assert audited is not None
    path = run.results_dir / f"{row.task}.json"
    entries = read_result_file(path)["scores"].get(row.split, [])
    metric = gate_metric(row.type, entries[0] if entries else {})
    base = CleanRow(row.run, row.task, row.split, metric)
    other = audited.other_data(recorded_facts(path, row.task)[1])
    if other:
        return CleanRow(**{**base.__dict__, "note": other})
    value = entries[0].get(metric) if len(entries) == 1 else None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return CleanRow(**{**base.__dict__, "note": f"no single finite {metric} to recompute"})
    try:
        found, why = read_per_item(path, row.task, row.type, row.split, metric, "default", value)
    except DataError as exc:
        found, why = None, str(exc)
    if found is None:
        return CleanRow(**{**base.__dict__, "note": why})
    score = clean_score(found, metric, audited.contaminated)
    return CleanRow(row.run, row.task, row.split, metric, score.items, score.excluded, score.full,
                    None if math.isnan(score.clean) else score.clean)
