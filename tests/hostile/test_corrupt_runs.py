"""Damaged or edited run folders load as a RunError that says what to do, never a raw traceback."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from orca_engine.config import ModelConfig, RunConfig
from orca_engine.errors import RunError
from orca_engine.contracts import BuildInfo
from orca_engine.run_folder import RunFolder
from orca_engine.runs import load_run

BACKBONE = "tiny-bert"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A loadable run folder: a tiny random-weight model on 8 tabular features, two classes."""
    from orca_engine.model import build_model
    run_dir = tmp_path_factory.mktemp("run")
    config = RunConfig().with_overrides({"model.backbone": BACKBONE, "model.max_tokens": 4})
    info = BuildInfo(modality="tabular", task="classification", input_shape=(8,), output_shape=(), num_outputs=2,
                     class_names=("a", "b"))
    model = build_model(backbone_name=BACKBONE, model_cfg=config.model, modality="tabular", task="classification",
                        input_shape=(8,), output_shape=(), num_outputs=2, pretrained=False)
    RunFolder(run_dir).write_config(config)
    RunFolder(run_dir).save_weights(model.state_dict(), info)
    return run_dir


def _copy(run_folder: Path, tmp_path: Path) -> Path:
    for name in ("config.json", "model.json", "model.safetensors"):
        (tmp_path / name).write_bytes((run_folder / name).read_bytes())
    return tmp_path


def _truncate(name: str, keep: int) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes((d / name).read_bytes()[:keep])


def _edit_json(name: str, key: str, value) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        data = json.loads((d / name).read_text())
        section, _, field = key.rpartition(".")
        (data[section] if section else data)[field] = value
        (d / name).write_text(json.dumps(data))
    return edit


CASES = [
    ("truncated model.json", _truncate("model.json", 20), "model.json is damaged"),
    ("truncated config.json", _truncate("config.json", 10), "config.json is damaged"),
    ("truncated safetensors header", _truncate("model.safetensors", 6), "model.safetensors is damaged"),
    ("model.json loses a key", lambda d: (d / "model.json").write_text('{"task": "classification"}'),
     "cannot rebuild the model"),
    ("num_outputs edited", _edit_json("model.json", "num_outputs", 5), "do not fit the model"),
    ("max_tokens edited in config.json", _edit_json("config.json", "model.max_tokens", 16), "do not fit the model"),
]


@pytest.mark.parametrize("damage, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_damaged_run_folder_is_a_run_error(damage, fragment: str, run_folder: Path, tmp_path: Path):
    run_dir = _copy(run_folder, tmp_path)
    damage(run_dir)
    with pytest.raises(RunError, match=fragment) as raised:
        load_run(run_dir)
    message = str(raised.value)
    assert "\n" not in message and ("restore" in message.lower() or "new run" in message)


def test_undamaged_copy_loads(run_folder: Path, tmp_path: Path):
    assert load_run(_copy(run_folder, tmp_path)).build_info.num_outputs == 2
