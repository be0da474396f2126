"""The house rules, checked: `import bge_eval` is light, torch stays in the encoding and search
packages, mteb's internals stay in the adapter, modules stay small, stages are packages."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.hermetic

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


def test_torch_only_in_the_encoding_and_search_packages():
    offenders = [str(path.relative_to(PACKAGE)) for path in MODULES
                 if any(name == "torch" or name.startswith("torch.") for name in imported_modules(path))
                 and path.relative_to(PACKAGE).parts[0] not in TORCH_PACKAGES]
    assert offenders == [], f"these import torch: {offenders}"


def test_mteb_internals_only_in_the_adapter():
    """Outside _mteb.py only mteb's top-level API (import mteb; mteb.get_task, ...) is used."""
    offenders = {str(path.relative_to(PACKAGE)): deep for path in MODULES if path.name != "_mteb.py"
                 and (deep := sorted(name for name in imported_modules(path) if name.startswith("mteb.")))}
    assert offenders == {}, f"go through bge_eval/_mteb.py: {offenders}"


def test_no_module_over_400_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in MODULES
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_stages_are_subpackages_and_utilities_are_single():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert {"models", "tasks", "encoding", "search", "run", "metrics", "results", "report", "gating"} <= stages
    sources = {path: path.read_text(encoding="utf-8") for path in MODULES}
    assert [p.name for p, text in sources.items() if "os.fsync(" in text] == ["_util.py"]  # one atomic write
    assert [p.name for p, text in sources.items() if "mp.get_context(" in text] == ["_util.py"]  # one pool
    assert [p.name for p, text in sources.items() if "fcntl.flock(" in text and "LOCK_EX" in text] == ["_util.py"]


def test_no_module_shadows_a_public_function():
    """Importing bge_eval.X sets the package's attribute X to that module, so a module named like a
    public function (audit, compare) would replace bge_eval.X() once anything imported it."""
    import bge_eval

    modules = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py"} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert not modules & set(bge_eval.__all__)


def test_public_functions_stay_functions_after_their_packages_load():
    code = ("import bge_eval, bge_eval.contamination.findings, bge_eval.comparison.viewer; "
            "assert callable(bge_eval.audit) and callable(bge_eval.compare), (bge_eval.audit, bge_eval.compare)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_subpackage_is_shipped():
    """pyproject lists the packages a wheel carries; one left out installs without it."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    present = {".".join(p.parent.relative_to(PACKAGE.parent).parts) for p in PACKAGE.rglob("__init__.py")}
    assert present - listed == set()


def test_results_paths_are_known_in_one_place():
    """Only the layout module spells out the results / predictions folder arithmetic."""
    offenders = [p.relative_to(PACKAGE) for p, text in ((p, p.read_text(encoding="utf-8")) for p in MODULES)
                 if p.name != "layout.py" and ('/ "predictions"' in text or "parent.parent.parent" in text)]
    assert offenders == [], offenders


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the bge_eval modules it imports, at the top or inside functions alike."""
    modules = {_module_name(path): path for path in MODULES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:  # `from pkg import module` imports the module itself
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _room(module: str) -> str:
    """A module's room: its subpackage below bge_eval, or the top-level module itself."""
    return module.split(".")[1] if module.count(".") else module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_files():
    assert _cycles(import_graph()) == []


def test_no_import_cycle_between_packages():
    rooms: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        rooms.setdefault(_room(module), set()).update(_room(t) for t in targets if _room(t) != _room(module))
    assert _cycles(rooms) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
