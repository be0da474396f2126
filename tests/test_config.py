"""RunConfig checks every field where it is built: the API and the CLI refuse alike, in one line."""

from __future__ import annotations

import dataclasses
import typing

import pytest

import bge_eval
from bge_eval.cli import main
from bge_eval.config import RunConfig, RunOptions
from bge_eval.errors import BgeEvalError, ConfigError

pytestmark = pytest.mark.hermetic

BAD = [
    ({"precision": "fp8"}, "precision (--precision): expected one of auto, fp32, fp16, bf16; got 'fp8'"),
    ({"batch_size": 0}, "batch_size (--batch-size): expected a positive integer"),
    ({"batch_size": True}, "batch_size (--batch-size): expected a positive integer"),
    ({"token_budget": -5}, "token_budget (--token-budget): expected a positive integer"),
    ({"instruction_policy": "xyz"}, "instruction_policy (--instruction-policy): expected one of bge, mteb, none"),
    ({"instruction": "Find:", "instruction_policy": "none"}, "instruction (--instruction): needs instruction_policy"),
    ({"device": "cpu", "devices": ("cpu", "cpu")}, "devices (--devices): give device or devices, not both"),
    ({"data_dir": "/no/such/folder"}, "data_dir (--data-dir / $BGE_EVAL_DATA_DIR): not a folder"),
    ({"overwrite": "yes"}, "overwrite (--overwrite): expected True or False"),
    ({"output": 3}, "output (--output): expected a path"),
]


@pytest.mark.parametrize(("options", "message"), BAD, ids=[next(iter(o)) for o, _ in BAD])
def test_the_api_refuses_a_bad_option_in_one_line(options, message):
    with pytest.raises(ConfigError) as caught:
        bge_eval.evaluate("some/model", ["STSBenchmark"], **options)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, BgeEvalError)


CLI_BAD = [
    (["--precision", "fp8"], "precision (--precision): expected one of"),
    (["--batch-size", "0"], "batch_size (--batch-size): expected a positive integer"),
    (["--instruction-policy", "xyz"], "instruction_policy (--instruction-policy): expected one of"),
    (["--instruction", "Find:", "--instruction-policy", "mteb"], "instruction (--instruction): needs"),
    (["--device", "cpu", "--devices", "cpu", "cpu"], "devices (--devices): give device or devices"),
]


@pytest.mark.parametrize(("argv", "message"), CLI_BAD, ids=[a[0] for a, _ in CLI_BAD])
def test_the_cli_gives_the_same_error_with_exit_2(argv, message, tmp_path, capsys):
    code = main(["run", "--model", "some/model", "--tasks", "STSBenchmark", "--output", str(tmp_path / "out"),
                 "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_a_good_config_keeps_its_values_and_takes_strings_for_paths(tmp_path):
    config = RunConfig(model="m", output=str(tmp_path), devices=["cpu", "cpu"], batch_size=8)
    assert config.output == tmp_path and config.devices == ("cpu", "cpu") and config.batch_size == 8


def test_the_api_options_are_runconfigs_fields():
    """RunOptions (the API's typed keywords) names exactly RunConfig's fields but the three given apart."""
    fields = {f.name for f in dataclasses.fields(RunConfig)} - {"model", "tasks", "benchmark"}
    assert set(typing.get_type_hints(RunOptions)) == fields
