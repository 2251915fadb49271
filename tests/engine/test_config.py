"""Config: defaults validate, round-trips are lossless, and bad values name field, value and range."""
import pytest

from orca_engine.config import RunConfig, cli_flag, command_line, iter_options
from orca_engine.errors import ConfigError


def test_defaults_round_trip_through_dict_json_and_yaml(tmp_path):
    cfg = RunConfig().with_overrides({"align.steps": 7, "refine.scope": "layernorm", "seed": 3})
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    for name in ("run.yaml", "run.json"):
        cfg.save(tmp_path / name)
        assert RunConfig.from_file(tmp_path / name) == cfg


@pytest.mark.parametrize("overrides, fragments", [
    ({"align.steps": -1}, ["align.steps", "-1", "0 to 100000"]),
    ({"refine.lr": "fast"}, ["refine.lr", "number"]),
    ({"refine.scope": "half"}, ["refine.scope", "'half'", "full, layernorm, frozen-body"]),
    ({"model.backbone": "gpt-17"}, ["model.backbone", "minilm"]),
    ({"align.objective": "kl"}, ["align.objective", "otdd-exact"]),
    ({"refine.epochs": 2.5}, ["refine.epochs", "whole number"]),
    ({"model.pretrained": "yes"}, ["model.pretrained", "true or false"]),
    ({"device": "tpu"}, ["device", "'tpu'", "cuda:N"]),
    ({"precision": "fp16"}, ["precision", "'fp16'", "fp32, bf16, auto"]),
    ({"data.val_fraction": 0.45, "data.test_fraction": 0.45}, ["val_fraction", "20%"]),
])
def test_bad_values_raise_config_error_naming_field_value_and_allowed(overrides, fragments):
    with pytest.raises(ConfigError) as err:
        RunConfig().with_overrides(overrides)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_unknown_keys_are_refused_with_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"unknown option stepz in 'align'; allowed: objective, steps"):
        RunConfig.from_dict({"align": {"stepz": 3}})
    with pytest.raises(ConfigError, match="unknown option 'align.nope'"):
        RunConfig().with_overrides({"align.nope": 1})


def test_config_file_errors_are_config_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("align: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        RunConfig.from_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        RunConfig.from_file(tmp_path / "missing.json")


def test_every_option_has_help_and_a_flag():
    names = [dotted for dotted, f, _ in iter_options()]
    assert len(names) == len(set(names)) > 20
    for dotted, f, _ in iter_options():
        assert f.metadata["help"], dotted
        assert cli_flag(dotted).startswith("--")


def test_command_line_lists_only_non_default_options():
    cmd = command_line(RunConfig().with_overrides({"align.steps": 5, "data.source": "my data.csv"}))
    assert cmd.startswith("python -m orca_engine run --data 'my data.csv' --backbone minilm")
    assert "--align-steps 5" in cmd and "--refine-epochs" not in cmd


@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
def test_every_precision_is_accepted_on_cpu(precision):
    config = RunConfig().with_overrides({"precision": precision, "device": "cpu"})
    assert config.precision == precision and RunConfig.from_dict(config.to_dict()) == config
