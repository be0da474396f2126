"""Sweeps on a real Ray cluster on this machine, always inside a network namespace of the
test's own holding only loopback (Ray would otherwise bind to the machine's interface address):
a head started with `ray start --head`, the CLI as driver (tests/run/ray_scenarios.py); the PID
namespace ends with the script, so nothing is left running. Checked: a two-model sweep equals
the same sweep run locally; a worker killed mid-unit costs a retry, not a result; a killed
driver's rerun computes only the missing units."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bge_eval.cli import main
from tests.helpers import MINILM

HERE = Path(__file__).resolve().parent
PORT = 6390
NAMESPACE = ["unshare", "--net", "--pid", "--fork", "--mount-proc"]
CLS_MODEL = "local/all-MiniLM-L6-v2-cls"


def scores(output: Path) -> dict[str, dict]:
    return {str(p.relative_to(output)): json.loads(p.read_text())["scores"]
            for p in output.glob("results/*/*/*.json") if p.name not in ("model_meta.json", "bge_eval_manifest.json")}


@pytest.fixture(scope="module")
def models(minilm_path, tmp_path_factory) -> list[tuple[str, Path]]:
    """MiniLM and a copy pooled by CLS: two checkpoints of one architecture, as a sweep has."""
    cls = shutil.copytree(minilm_path, tmp_path_factory.mktemp("minilm-cls") / "model")
    pooling = json.loads((cls / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    return [(MINILM, Path(minilm_path)), (CLS_MODEL, cls)]


@pytest.fixture(scope="module")
def cluster_facts(models, shared_data, scifact_subset, tmp_path_factory) -> dict:
    assert shutil.which("unshare") and os.geteuid() == 0, \
        "the Ray tests need root for a network namespace (unshare --net); .ci/run runs as root"
    work = tmp_path_factory.mktemp("ray")
    ray_cli = Path(sys.executable).parent / "ray"
    # Ray's state in the home folder (~/.ray: auth tokens, cluster addresses) is the test's own
    script = (f"set -e; ip link set lo up; export RAY_USAGE_STATS_ENABLED=0 HOME='{work}/home'; "
              f"mkdir -p \"$HOME\"; unset RAY_ADDRESS RAY_AUTH_TOKEN RAY_AUTH_TOKEN_PATH; "
              f"'{ray_cli}' start --head --port {PORT} --num-cpus 2 --include-dashboard=false "
              f"--disable-usage-stats --node-ip-address 127.0.0.1 > '{work}/head.log' 2>&1; "
              f"trap \"'{ray_cli}' stop --force > /dev/null 2>&1\" EXIT; "
              f"'{sys.executable}' '{HERE / 'ray_scenarios.py'}' 127.0.0.1:{PORT} '{work}/facts.json' "
              + " ".join(f"'{name}={path}'" for name, path in models) + f" '{shared_data}' '{scifact_subset}'")
    done = subprocess.run([*NAMESPACE, "bash", "-c", script], capture_output=True, text=True, timeout=1500,
                          cwd=work)
    assert done.returncode == 0, done.stderr[-3000:] + (work / "head.log").read_text()[-2000:]
    facts = json.loads((work / "facts.json").read_text())
    facts["work"] = str(work)
    return facts


def test_a_sweep_on_ray_equals_the_same_sweep_run_locally(cluster_facts, models, tmp_path):
    facts = cluster_facts["sweep"]
    assert facts["rc"] == 0, facts["err"]
    assert "sweep: 2 models, 4 (model, task) units computed, 0 failed" in facts["out"]
    local = tmp_path / "local"
    argv = ["run", "--tasks", "BgeEvalDemoSTS", "BgeEvalDemoRetrieval", "--output", str(local),
            "--no-embedding-cache", "--no-progress"]
    for name, path in models:
        argv += ["--model", name, "--model-path", str(path)]
    assert main(argv) == 0
    on_ray = Path(cluster_facts["work"]) / "sweep"
    assert len(scores(local)) == 4 and scores(on_ray) == scores(local)  # bit for bit
    for path in local.glob("predictions/*/*/*_per_query.json"):
        assert (on_ray / path.relative_to(local)).read_bytes() == path.read_bytes()


def test_a_worker_killed_mid_unit_is_retried_and_its_result_written_once(cluster_facts):
    facts = cluster_facts["killed"]
    assert facts["killed_pid"], "no unit was seen running to kill"
    assert facts["rc"] == 0, facts["err"]
    assert "2 (model, task) units computed, 0 failed" in facts["out"]
    output = Path(cluster_facts["work"]) / "killed"
    assert len(scores(output)) == 2
    for settings in output.glob("results/*/*/run_settings.jsonl"):  # one line per committed evaluation
        assert len(settings.read_text().splitlines()) == 1
    for manifest in output.glob("results/*/*/bge_eval_manifest.json"):
        assert list(json.loads(manifest.read_text())["tasks"]) == ["BIOSSES"]


def test_a_killed_driver_rerun_computes_only_the_missing_units(cluster_facts):
    facts = cluster_facts["resumed"]
    assert facts["rc"] == 0, facts["err"]
    before, after = facts["before"], facts["after"]
    assert 1 <= len(before) < 4 and len(after) == 4
    assert all(after[name] == mtime for name, mtime in before.items())  # finished units untouched
    assert f"{4 - len(before)} (model, task) units computed, 0 failed" in facts["out"]


def test_four_corpus_shards_on_ray_give_the_one_process_rankings_and_ndcg(cluster_facts, models, scifact_subset,
                                                                          tmp_path):
    """One shard's worker killed mid-shard: Ray runs that shard again, the rankings are unchanged; the
    int8 index variant asked for beside it equals a one-process run's."""
    facts = cluster_facts["sharded"]
    assert facts["killed_pid"], "no shard worker was seen running to kill"
    assert facts["rc"] == 0, facts["err"]
    assert "1 (model, task) units computed, 0 failed" in facts["out"]
    name, path = models[0]
    local = tmp_path / "local"
    assert main(["run", "--model", name, "--model-path", str(path), "--tasks", "SciFact", "--data-dir",
                 str(scifact_subset), "--output", str(local), "--no-embedding-cache", "--no-progress",
                 "--corpus-chunk", "64", "--index", "int8"]) == 0
    on_ray = Path(cluster_facts["work"]) / "sharded"
    assert scores(on_ray) == scores(local)  # nDCG@10 and every other metric, the run's and its variants'
    assert len(scores(local)) == 3  # the run, exact and int8
    [variant] = local.glob("predictions/*/*+index-int8/SciFact_predictions.json")
    assert json.loads((on_ray / variant.relative_to(local)).read_text()) == json.loads(variant.read_text())
    [ranked] = [p for p in local.glob("predictions/*/*/SciFact_predictions.json") if "+index-" not in str(p)]
    assert json.loads((on_ray / ranked.relative_to(local)).read_text()) == json.loads(ranked.read_text())
    [manifest] = [p for p in on_ray.glob("results/*/*/bge_eval_manifest.json") if "+index-" not in str(p)]
    assert json.loads(manifest.read_text())["tasks"]["SciFact"]["shards"]["count"] == 4
    assert not (on_ray / ".shards").exists()


def test_ray_missing_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["run", "--ray", "--tasks", "BgeEvalDemoSTS", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "bge_eval[ray]"' in err
    assert not (tmp_path / "out").exists()


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])  # loopback only: the network stays forbidden
def test_an_address_where_nothing_answers_is_one_line_at_once(tmp_path, capsys):
    """Ray would wait minutes for a head that is not there; the run says so at once, naming the address."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        code = main(["run", "--ray", f"127.0.0.1:{port}", "--tasks", "BgeEvalDemoSTS", "--output",
                     str(tmp_path / "out"), "--no-embedding-cache"])
    err = capsys.readouterr().err
    assert code == 2 and f"--ray 127.0.0.1:{port}: nothing answers there" in err and "ray start --head" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_refused_token_is_one_line_naming_the_cause(tmp_path, capsys, monkeypatch):
    """A head that answers but refuses the driver's token (one left in ~/.ray by another cluster)."""
    import socket
    import types

    from bge_eval.run import ray_executor

    class AuthenticationError(Exception):
        pass

    def refuse(**kwargs):
        raise AuthenticationError("token mismatch")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=refuse, shutdown=lambda: None)
    monkeypatch.setattr(ray_executor, "import_ray", lambda: fake)
    with socket.socket() as head:
        head.bind(("127.0.0.1", 0))
        head.listen()
        address = f"127.0.0.1:{head.getsockname()[1]}"
        code = main(["run", "--ray", address, "--tasks", "BgeEvalDemoSTS", "--output", str(tmp_path / "out"),
                     "--no-embedding-cache"])
    err = capsys.readouterr().err
    assert code == 2 and f"Ray: the cluster at {address} (--ray) refused this driver's authentication token" in err
    assert "~/.ray/auth_token" in err and "Traceback" not in err and not (tmp_path / "out").exists()


def test_bisect_runs_on_ray_like_a_sweep(cluster_facts):
    """Two checkpoints: the first round (first and last) is one sweep on the cluster; its results equal
    the sweep scenario's for the same models and task."""
    facts = cluster_facts["bisect"]
    assert facts["rc"] in (0, 1), facts["err"]
    assert "2 of 2 checkpoints evaluated" in facts["out"]
    work = Path(cluster_facts["work"])
    written = json.loads((work / "bisect" / "bisect.json").read_text())
    assert [e["index"] for e in written["evaluations"]] == [0, 1]
    bisected = {k: v for k, v in scores(work / "bisect").items() if "BgeEvalDemoSTS" in k}
    assert len(bisected) == 2 and bisected == {k: v for k, v in scores(work / "sweep").items() if k in bisected}
