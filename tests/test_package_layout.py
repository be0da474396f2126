"""The house rules, checked: `import bge_eval` is light, torch stays in the encoding and search
packages, mteb's internals stay in the adapter, modules stay small, stages are packages."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bge_eval"
MODULES = sorted(PACKAGE.rglob("*.py"))
TORCH_PACKAGES = ("encoding", "search")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_import_bge_eval_loads_neither_torch_nor_mteb():
    code = ("import sys, bge_eval; bge_eval.evaluate; bge_eval.RunConfig; "
            "print(sorted(m for m in ('torch', 'mteb', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_torch_only_in_the_encoding_and_search_packages(path):
    relative = path.relative_to(PACKAGE)
    uses_torch = any(name == "torch" or name.startswith("torch.") for name in imported_modules(path))
    assert not uses_torch or relative.parts[0] in TORCH_PACKAGES, f"{relative} imports torch"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_mteb_internals_only_in_the_adapter(path):
    """Outside _mteb.py only mteb's top-level API (import mteb; mteb.get_task, ...) is used."""
    if path.name == "_mteb.py":
        return
    deep = sorted(name for name in imported_modules(path) if name.startswith("mteb."))
    assert not deep, f"{path.relative_to(PACKAGE)} imports {deep}; go through bge_eval/_mteb.py"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


def test_stages_are_subpackages_and_utilities_are_single():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"models", "tasks", "encoding", "search", "run", "metrics", "results", "report", "gating"} <= stages
    sources = {path: path.read_text(encoding="utf-8") for path in MODULES}
    assert [p.name for p, text in sources.items() if "os.fsync(" in text] == ["_util.py"]  # one atomic write
    assert [p.name for p, text in sources.items() if "mp.get_context(" in text] == ["_util.py"]  # one pool
    assert [p.name for p, text in sources.items() if "fcntl.flock(" in text and "LOCK_EX" in text] == ["_util.py"]


def test_results_paths_are_known_in_one_place():
    """Only the layout module spells out the results / predictions folder arithmetic."""
    offenders = [p.relative_to(PACKAGE) for p, text in ((p, p.read_text(encoding="utf-8")) for p in MODULES)
                 if p.name != "layout.py" and ('/ "predictions"' in text or "parent.parent.parent" in text)]
    assert offenders == [], offenders
