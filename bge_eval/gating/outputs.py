"""The gate's verdicts as CI reads them: a Markdown summary (job summaries, PR comments) and JUnit XML."""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .verdicts import Verdict


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
