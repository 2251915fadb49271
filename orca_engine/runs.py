"""Run folders: everything needed to inspect, replay and rebuild a run, written atomically.

    runs/<YYYYmmdd-HHMMSS>-<name>-<id>/
        config.json        the validated RunConfig
        events.jsonl       one JSON record per line, with a `type` field (see orca_engine.events)
        metrics.json       {"test": {...}, "validation": {...}, "align": {"objective_before", ...}, ...}
        model.safetensors  the refined (or aligned) weights
        model.json         what rebuilds the model: data spec, shapes, task, backbone
        predictions.csv    test-split predictions

A killed run leaves a readable folder: JSON files are replaced atomically (temp file + rename)
and events are appended line by line and flushed. The folder name ends in 96 random bits, so
knowing when a run started and on what data is not enough to name it.
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
FINISHED_RUN_FILES = ("config.json", "events.jsonl", "metrics.json", "model.safetensors", "model.json")
STARTED_RUN_FILES = ("config.json", "events.jsonl")
SERVER_ONLY_FILES = ("error.log",)  # a traceback names server paths: kept for the operator, never zipped
TEXT_SUFFIXES = (".json", ".jsonl", ".csv", ".txt", ".html")


def new_run_dir(runs_dir: str | Path, name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "run"
    path = Path(runs_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_urlsafe(12)}"
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
    """Append-only events.jsonl; each record is one line (thread-safe).

    The file is opened for each append and closed again, so a run holds no file descriptor
    between events: a server with thousands of finished or idle runs keeps none open. Errors
    (a full disk) propagate to the caller, which decides what a failed write means.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.closed = False

    def append(self, record: dict) -> None:
        line = to_json_line(record)
        with self._lock:
            if self.closed:
                return
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)

    def close(self) -> None:
        with self._lock:
            self.closed = True


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
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the run did not get that far (see its events.jsonl)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} is damaged ({str(e).splitlines()[0]}); it was truncated or edited by hand: restore "
                       f"it from the run's exported zip, or start a new run") from None
    if not isinstance(value, dict):
        raise RunError(f"{path} holds a {type(value).__name__}, not a JSON object; restore it or start a new run")
    return value


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

    @property
    def complete(self) -> bool:
        """False for a refine checkpoint: the run was stopped or killed before it finished."""
        return not self.build_info.get("checkpoint")

    @property
    def incomplete_note(self) -> str:
        """What a user of an unfinished run's model should know ("" for a finished run)."""
        checkpoint = self.build_info.get("checkpoint")
        if not checkpoint:
            return ""
        return (f"this run did not finish: its weights are the best validation checkpoint of refinement so far "
                f"(step {checkpoint.get('step', '?')}), not a tested model")

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Model outputs in the task's units (class probabilities, targets, 0/1 probabilities, fields),
        computed in the run's precision, as its test split was."""
        from .predict import predict_array
        return predict_array(self.model, x, self.build_info, batch_size=batch_size, precision=self.config.precision)


def load_run(run_dir: str | Path, device: str = "cpu") -> LoadedRun:
    """Rebuild a finished run; RunError (never a raw traceback) for a missing, damaged or edited folder."""
    from .model import build_model
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} does not exist")
    config = RunConfig.from_dict(read_json(run_dir / "config.json"))
    info = read_json(run_dir / "model.json")
    weights = run_dir / "model.safetensors"
    if not weights.exists():
        raise RunError(f"{run_dir} has no model.safetensors; the run did not finish refining")
    try:
        model = build_model(modality=info["modality"], task=info["task"], input_shape=tuple(info["input_shape"]),
                            output_shape=tuple(info["output_shape"]), num_outputs=info["num_outputs"],
                            backbone_name=config.model.backbone, model_cfg=config.model, pretrained=False,
                            device=device)
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{run_dir / 'model.json'} cannot rebuild the model ({type(e).__name__}: {e}); it is "
                       f"incomplete or was edited: restore it, or start a new run") from None
    _load_weights(model, _read_weights(weights, device), run_dir)
    model.eval()
    return LoadedRun(run_dir, config, info, model)


def _load_weights(model, state: dict, run_dir: Path) -> None:
    """Weights into the rebuilt model; RunError when they no longer fit (config.json edited after the run)."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = next((line for line in lines if "mismatch" in line or "Missing" in line), lines[-1] if lines else "")
        raise RunError(f"the weights in {run_dir / 'model.safetensors'} do not fit the model that config.json and "
                       f"model.json describe ({detail[:200]}); were they edited after the run? Restore them from the "
                       f"run's exported zip, or start a new run") from None


def _read_weights(path: Path, device: str):
    """The saved state dict; RunError for a damaged file (safetensors raises its own error type)."""
    from safetensors.torch import load_file
    try:
        return load_file(str(path), device=device)
    except Exception as e:  # noqa: BLE001: SafetensorError derives from Exception only
        raise RunError(f"{path} is damaged ({str(e).splitlines()[0]}); the run was killed while saving or the "
                       f"file was truncated: restore it from the run's exported zip, or start a new run") from None


def missing_run_files(run_dir: str | Path, names: tuple[str, ...]) -> list[str]:
    """Which of `names` the run folder lacks (all of them when the folder itself is gone)."""
    return [name for name in names if not (Path(run_dir) / name).is_file()]


def export_zip(run_dir: str | Path, dest: str | Path | None = None,
               replace: dict[str, str] | None = None) -> Path:
    """Zip the run's files (config, events, metrics, model, predictions, figures) for download.

    `replace` maps strings to their stand-ins in the text files (e.g. the server's path of the run
    folder -> its name), so a download does not reveal where things live on the server.
    `error.log` stays behind (its traceback names server paths).
    """
    run_dir = Path(run_dir)
    dest = Path(dest) if dest else run_dir.parent / f"{run_dir.name}.zip"
    tmp = dest.with_suffix(".zip.tmp")
    pairs = sorted((replace or {}).items(), key=lambda kv: -len(kv[0]))  # longest first: /a/b before /a
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(run_dir.rglob("*")):
            if not path.is_file() or path.name.startswith(".") or path.name in SERVER_ONLY_FILES:
                continue
            name = f"{run_dir.name}/{path.relative_to(run_dir)}"
            if pairs and path.suffix in TEXT_SUFFIXES:
                text = path.read_text(encoding="utf-8", errors="replace")
                for old, new in pairs:
                    text = text.replace(old, new)
                z.writestr(name, text)
            else:
                z.write(path, name)
    os.replace(tmp, dest)
    return dest
