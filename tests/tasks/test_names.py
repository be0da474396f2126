"""Names refused before mteb loads: the shipped list of mteb's names (tasks/mteb_names.json) is the
installed mteb's own, a mistyped name is one line without importing mteb or torch, and card
folders, C-MTEB's registry and the demo suite's names pass."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from bge_eval.errors import UnknownNameError
from bge_eval.tasks.names import current_names, refuse_unknown_names, shipped_names


def test_the_shipped_list_is_the_installed_mteb_s_or_is_not_used():
    shipped = json.loads((Path(__file__).parents[2] / "tasks" / "mteb_names.json").read_text())
    if shipped["mteb"] == metadata.version("mteb"):
        assert shipped_names() == shipped == current_names()  # regenerate: python -m bge_eval.tasks.names
    else:  # another mteb: every name goes to mteb itself
        assert shipped_names() is None


def test_a_mistyped_name_is_refused_without_importing_mteb_or_torch(tmp_path):
    code = ("import sys; from bge_eval.cli import main; rc = main(['run', '--tasks', 'SciFakt']); "
            "print(rc, 'mteb' in sys.modules, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.stdout.split() == ["2", "False", "False"], done.stderr
    assert "--tasks 'SciFakt': no such task. Did you mean 'SciFact'" in done.stderr


@pytest.mark.skipif(shipped_names() is None, reason="the shipped list is for another mteb version (checked above)")
def test_known_names_cards_registry_and_demo_pass(tmp_path):
    card = tmp_path / "MyCard"
    card.mkdir()
    refuse_unknown_names(["SciFact", "T2Retrieval", "BgeEvalDemoSTS", str(card), "./anything"], "C-MTEB",
                         ["Retrieval"], ["t2t"])
    for call, message in [
        (lambda: refuse_unknown_names([], "MTEB(eng, v9)", [], []), "--benchmark 'MTEB(eng, v9)'"),
        (lambda: refuse_unknown_names([], None, [], ["x2y"]), "--categories 'x2y'"),
    ]:
        with pytest.raises(UnknownNameError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()
