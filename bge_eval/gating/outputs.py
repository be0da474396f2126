"""The gate's verdicts as CI reads them: a Markdown summary (job summaries, PR comments) and JUnit XML."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree

from .verdicts import Verdict, exit_code


def markdown_summary(verdicts: list[Verdict]) -> str:
    icon = {"pass": "pass", "improvement": "improved", "regression": "**REGRESSION**", "unusable": "**unusable**"}
    lines = ["## bge_eval gate", "",
             "| task | split | metric | baseline | new | delta | tolerance | p (drop) | upper bound | detectable "
             "| verdict |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for v in verdicts:
        e, t = v.entry, v.test
        lines.append("| " + " | ".join([
            e.task, e.split, e.metric, f"{e.value:.5f}",
            "" if v.new_value is None else f"{v.new_value:.5f}",
            "" if v.delta is None else f"{v.delta:+.5f}", f"{e.tolerance:.5f}",
            "" if t is None else f"{t.p_value:.4f}",
            "" if t is None else f"{t.upper_bound:+.5f}",
            "" if v.detectable is None else f"{v.detectable:.5f}", icon[v.status],
        ]) + " |")
    lines += ["", "detectable: the smallest drop the paired test finds with 80% power on these items.", "",
              *[f"- {v.message}" for v in verdicts], ""]
    return "\n".join(lines)


def junit_xml(verdicts: list[Verdict]) -> str:
    """One JUnit test case per verdict: a regression is a failure, an unusable result an error."""
    suite = ElementTree.Element("testsuite", name="bge_eval gate", tests=str(len(verdicts)),
                                failures=str(sum(v.status == "regression" for v in verdicts)),
                                errors=str(sum(v.status == "unusable" for v in verdicts)))
    for v in verdicts:
        case = ElementTree.SubElement(suite, "testcase", classname="bge_eval.gate",
                                      name=f"{v.entry.task} {v.entry.split} {v.entry.metric}")
        if v.status == "regression":
            ElementTree.SubElement(case, "failure", message=v.message)
        elif v.status == "unusable":
            ElementTree.SubElement(case, "error", message=v.message)
        else:
            ElementTree.SubElement(case, "system-out").text = v.message
    ElementTree.indent(suite)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


@dataclass(frozen=True)
class GateReport:
    """Every verdict of one gate, with what CI needs of them."""

    verdicts: list[Verdict]

    @property
    def exit_code(self) -> int:
        return exit_code(self.verdicts)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0

    def markdown(self) -> str:
        return markdown_summary(self.verdicts)

    def junit(self) -> str:
        return junit_xml(self.verdicts)
