"""Render a ReportData with the Jinja2 templates in reports/: index.html (self-contained:
styles and images inline) and README.md (GitHub pipe tables). No computing here."""

from __future__ import annotations

from pathlib import Path

from .._util import atomic_write_text
from .data import ReportData


def template_environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("bge_eval._reports", ""),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["score"] = lambda v: "" if v is None else f"{100 * v:.2f}"
    env.filters["signed"] = lambda v: "" if v is None else f"{100 * v:+.2f}"
    env.filters["cell"] = _cell
    env.filters["pvalue"] = lambda p: "<0.001" if p < 0.001 else f"={p:.3f}"
    env.filters["md"] = lambda text: str(text).replace("|", "\\|")
    env.filters["seconds"] = lambda v: "" if v is None else f"{v:.2f}"
    env.filters["thousands"] = lambda v: "" if v is None else f"{v:,}"
    return env


def _cell(cell) -> str:
    if cell.mean is None:
        return f"- (0/{cell.expected})"
    text = f"{100 * cell.mean:.2f}"
    return f"{text} ({cell.n}/{cell.expected})" if cell.partial else text


def render(data: ReportData, output: Path) -> tuple[Path, Path]:
    env = template_environment()
    output = Path(output)
    html = env.get_template("report.html.j2").render(data=data)
    markdown = env.get_template("report.md.j2").render(data=data)
    atomic_write_text(output / "index.html", html)
    atomic_write_text(output / "README.md", markdown)
    return output / "index.html", output / "README.md"
