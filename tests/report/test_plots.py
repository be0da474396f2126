"""Figures are drawn without touching the caller's matplotlib backend (a notebook keeps its own)."""

import subprocess
import sys


def test_a_histogram_is_a_png_and_leaves_the_backend_alone():
    code = (
        "import matplotlib; matplotlib.use('svg'); "
        "from bge_eval.metrics.distributions import distribution; "
        "from bge_eval.report.plots import histogram_png; "
        "png = histogram_png(distribution({'kind': 'binary', 'scores': [0.1, 0.8, 0.9], 'gold': [0, 1, 1]}), 't'); "
        "import sys; print(png[:4] == b'\\x89PNG', matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "svg", "False"]
