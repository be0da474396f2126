"""The regression gate: baseline files (baseline), verdicts against saved results (verdicts),
and what CI reads of them (outputs)."""

from .baseline import BaselineEntry, BaselineWrite, LeftOut, read_baseline, sidecar, write_baseline
from .outputs import GateReport, junit_xml, markdown_summary
from .verdicts import Verdict, exit_code, judge, run_gate

__all__ = ["BaselineEntry", "BaselineWrite", "GateReport", "LeftOut", "Verdict", "exit_code", "judge", "junit_xml",
           "markdown_summary", "read_baseline", "run_gate", "sidecar", "write_baseline"]
