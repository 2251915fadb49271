"""Run folders: everything needed to inspect, replay and rebuild a run, written atomically.

    runs/<YYYYmmdd-HHMMSS>-<name>-<id>/
        config.json        the validated RunConfig
        events.jsonl       one JSON record per line, with a `type` field (see orca_engine.events)
        metrics.json       {"test": {...}, "validation": {...}, "align": {"objective_before", ...}, ...}
        model.safetensors  the refined (or aligned) weights
        model.json         what rebuilds the model: data spec, shapes, task, backbone
        predictions.csv    test-split predictions

A killed run leaves a readable folder: JSON files are replaced atomically (temp file + rename)
and events are appended line by line and flushed.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import RunConfig
from .errors import RunError
from .events import to_json_line

RUN_FILES = ("config.json", "events.jsonl", "metrics.json", "model.safetensors", "model.json",
             "predictions.csv")


def new_run_dir(runs_dir: str | Path, name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "run"
    path = Path(runs_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write a whole file so that readers see either the old or the new content, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


class EventLog:
    """Append-only events.jsonl; each record is one flushed line (thread-safe)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        with self._lock:
            if self._file.closed:
                return
            self._file.write(to_json_line(record))
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def load_events(run_dir: str | Path) -> list[dict]:
    """Every complete event record of a run (a torn last line from a killed run is skipped)."""
    path = Path(run_dir) / "events.jsonl"
    if not path.exists():
        raise RunError(f"{run_dir} has no events.jsonl; is it a run folder?")
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the run did not get that far (see its events.jsonl)") from None


# -- model save / rebuild ----------------------------------------------------------------------

def save_model(run_dir: str | Path, model, build_info: dict) -> None:
    """Weights as safetensors (atomic) + the shapes/spec that rebuild the architecture."""
    save_weights(run_dir, model.state_dict(), build_info)


def save_weights(run_dir: str | Path, state: dict, build_info: dict) -> None:
    """A state dict as model.safetensors + model.json (atomic each). A refine checkpoint passes
    `build_info["checkpoint"] = {"complete": False, "step": s}`; the finished model has none."""
    from safetensors.torch import save
    state = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    write_atomic(Path(run_dir) / "model.safetensors", save(_dedup_shared(state)))
    write_json(Path(run_dir) / "model.json", build_info)


def _dedup_shared(state: dict) -> dict:
    """safetensors refuses tensors sharing storage (tied weights): store clones."""
    seen, out = set(), {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        out[k] = v.clone() if key in seen else v
        seen.add(key)
    return out


@dataclass
class LoadedRun:
    """A finished run rebuilt from its folder: enough to predict and evaluate on new data."""
    run_dir: Path
    config: RunConfig
    build_info: dict
    model: Any  # orca_engine.model.OrcaModel

    @property
    def data_spec(self) -> dict:
        return self.build_info["data_spec"]

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Model outputs in the task's units (class probabilities, targets, 0/1 probabilities, fields)."""
        from .predict import predict_array
        return predict_array(self.model, x, self.build_info, batch_size=batch_size)


def load_run(run_dir: str | Path, device: str = "cpu") -> LoadedRun:
    from safetensors.torch import load_file

    from .model import build_model
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} does not exist")
    config = RunConfig.from_dict(read_json(run_dir / "config.json"))
    info = read_json(run_dir / "model.json")
    if not (run_dir / "model.safetensors").exists():
        raise RunError(f"{run_dir} has no model.safetensors; the run did not finish refining")
    model = build_model(modality=info["modality"], task=info["task"], input_shape=tuple(info["input_shape"]),
                        output_shape=tuple(info["output_shape"]), num_outputs=info["num_outputs"],
                        backbone_name=config.model.backbone, model_cfg=config.model, pretrained=False,
                        device=device)
    state = load_file(str(run_dir / "model.safetensors"), device=device)
    model.load_state_dict(state)
    model.eval()
    return LoadedRun(run_dir, config, info, model)


def export_zip(run_dir: str | Path, dest: str | Path | None = None) -> Path:
    """Zip the run's files (config, events, metrics, model, predictions, figures) for download."""
    run_dir = Path(run_dir)
    dest = Path(dest) if dest else run_dir.parent / f"{run_dir.name}.zip"
    tmp = dest.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                z.write(path, f"{run_dir.name}/{path.relative_to(run_dir)}")
    os.replace(tmp, dest)
    return dest
