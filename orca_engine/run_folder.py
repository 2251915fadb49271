"""`RunFolder`: the one owner of a run folder's files. Nothing else names them, writes them or parses them.

    runs/<YYYYmmdd-HHMMSS>-<name>-<id>/
        config.json        the validated RunConfig (as the person who started it knows it)
        events.jsonl       one JSON record per line, with a `type` field (see orca_engine.events)
        metrics.json       {"test": {...}, "validation": {...}, "align": {"objective_before", ...}, ...}
        model.safetensors  the refined (or aligned) weights
        model.json         BuildInfo: what rebuilds the model (data spec, shapes, task, backbone)
        predictions.csv    test-split predictions
        error.log          a traceback for whoever runs the server (never exported)

A killed run leaves a readable folder: JSON files are replaced atomically (temp file + rename)
and events are appended line by line. The folder name ends in 96 random bits, so knowing when a
run started and on what data is not enough to name it.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import RunConfig
from .contracts import BuildInfo
from .errors import RunError
from .events import to_json_line
from .formats import suffixes

if TYPE_CHECKING:
    import torch

CONFIG, EVENTS, METRICS = "config.json", "events.jsonl", "metrics.json"
WEIGHTS, MODEL, PREDICTIONS, ERROR_LOG = "model.safetensors", "model.json", "predictions.csv", "error.log"
STARTED_RUN_FILES = (CONFIG, EVENTS)
FINISHED_RUN_FILES = (CONFIG, EVENTS, METRICS, WEIGHTS, MODEL)
SERVER_ONLY_FILES = (ERROR_LOG,)  # a traceback names server paths: kept for the operator, never zipped


class RunFolder:
    """A run folder and its files: config, events, metrics, predictions, weights, error log."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, runs_dir: str | Path, name: str) -> RunFolder:
        """A new, uniquely named folder under `runs_dir` (OSError when it cannot be made)."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "run"
        path = Path(runs_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_urlsafe(12)}"
        path.mkdir(parents=True, exist_ok=False)
        return cls(path)

    @property
    def name(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- config ---------------------------------------------------------------------------------
    def write_config(self, config: RunConfig) -> None:
        write_json(self.path / CONFIG, config.to_dict())

    def read_config_dict(self) -> dict[str, Any]:
        return read_json(self.path / CONFIG)

    def read_config(self) -> RunConfig:
        return RunConfig.from_dict(self.read_config_dict())

    # -- events ---------------------------------------------------------------------------------
    def event_log(self) -> EventLog:
        return EventLog(self.path / EVENTS)

    def read_events(self) -> list[dict[str, Any]]:
        """Every complete event record (a torn last line from a killed run is skipped)."""
        path = self.path / EVENTS
        if not path.exists():
            raise RunError(f"{self.path} has no {EVENTS}; is it a run folder?")
        return event_records(path.read_text(encoding="utf-8", errors="replace"))

    # -- results --------------------------------------------------------------------------------
    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.path / METRICS, metrics)

    def read_metrics(self) -> dict[str, Any]:
        return read_json(self.path / METRICS)

    def write_predictions(self, csv: str) -> Path:
        write_atomic(self.path / PREDICTIONS, csv)
        return self.path / PREDICTIONS

    def save_weights(self, state: dict[str, torch.Tensor], build_info: BuildInfo) -> None:
        """A state dict as model.safetensors + model.json (atomic each); a refine checkpoint passes
        `build_info.as_checkpoint(step)`."""
        from safetensors.torch import save
        state = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
        write_atomic(self.path / WEIGHTS, save(_dedup_shared(state)))
        write_json(self.path / MODEL, build_info.to_dict())

    def read_build_info(self) -> BuildInfo:
        info = read_json(self.path / MODEL)
        try:
            return BuildInfo.from_dict(info)
        except (KeyError, TypeError, ValueError) as e:
            raise RunError(f"{self.path / MODEL} cannot rebuild the model ({type(e).__name__}: {e}); it is "
                           f"incomplete or was edited: restore it, or start a new run") from None

    def read_weights(self, device: str = "cpu") -> dict[str, torch.Tensor]:
        """The saved state dict; RunError for a missing or damaged file."""
        from safetensors.torch import load_file
        path = self.path / WEIGHTS
        if not path.exists():
            raise RunError(f"{self.path} has no {WEIGHTS}; the run did not finish refining")
        try:
            return load_file(str(path), device=device)
        except Exception as e:  # noqa: BLE001: SafetensorError derives from Exception only
            raise RunError(f"{path} is damaged ({str(e).splitlines()[0]}); the run was killed while saving or the "
                           f"file was truncated: restore it from the run's exported zip, or start a new run") from None

    def drop_weights(self) -> None:
        """Delete the large weights file (a comparison grid keeps only the small records)."""
        (self.path / WEIGHTS).unlink(missing_ok=True)

    def write_error_log(self, text: str) -> bool:
        """A traceback for whoever runs the server; False when even that cannot be written."""
        try:
            (self.path / ERROR_LOG).write_text(text)
            return True
        except OSError:
            return False

    # -- checks and export ----------------------------------------------------------------------
    def missing(self, names: tuple[str, ...]) -> list[str]:
        """Which of `names` the folder lacks (all of them when the folder itself is gone)."""
        return [name for name in names if not (self.path / name).is_file()]

    def export_zip(self, dest: str | Path | None = None, replace: dict[str, str] | None = None) -> Path:
        """Zip the run's files (config, events, metrics, model, predictions, figures) for download.

        `replace` maps strings to their stand-ins in the text files (e.g. the server's path of the
        run folder -> its name), so a download does not reveal where things live on the server.
        `error.log` stays behind (its traceback names server paths).
        """
        dest = Path(dest) if dest else self.path.parent / f"{self.name}.zip"
        tmp = dest.with_suffix(".zip.tmp")
        pairs = sorted((replace or {}).items(), key=lambda kv: -len(kv[0]))  # longest first: /a/b before /a
        text_suffixes = suffixes(text=True)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(self.path.rglob("*")):
                if not path.is_file() or path.name.startswith(".") or path.name in SERVER_ONLY_FILES:
                    continue
                name = f"{self.name}/{path.relative_to(self.path)}"
                if pairs and path.suffix in text_suffixes:
                    text = path.read_text(encoding="utf-8", errors="replace")
                    for old, new in pairs:
                        text = text.replace(old, new)
                    z.writestr(name, text)
                else:
                    z.write(path, name)
        os.replace(tmp, dest)
        return dest


class EventLog:
    """Append-only events.jsonl; each record is one line (thread-safe).

    The file is opened for each append and closed again, so a run holds no file descriptor
    between events: a server with thousands of finished or idle runs keeps none open. Errors
    (a full disk) propagate to the caller, which decides what a failed write means.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._count = 0
        self.closed = False

    def append(self, record: dict[str, Any]) -> None:
        line = to_json_line(record)
        with self._lock:
            if self.closed:
                return
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)

    def record(self, event) -> dict[str, Any]:
        """Number and time-stamp a typed event as the session does, append it; returns the record."""
        with self._lock:
            index, self._count = self._count, self._count + 1
        record = {"index": index, "time": round(time.time(), 3), **event.to_dict()}
        self.append(record)
        return record

    def close(self) -> None:
        with self._lock:
            self.closed = True


# -- the one JSONL reader ------------------------------------------------------------------------

def event_records(text: str) -> list[dict[str, Any]]:
    """The event records of an events.jsonl text: JSON objects with a `type`, one a line; torn or
    foreign lines are skipped."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "type" in record:
            records.append(record)
    return records


def read_event_file(path: str | Path, max_bytes: int) -> list[dict[str, Any]]:
    """Event records from an events.jsonl, or from a run zip holding one (members over `max_bytes`
    are not read). RunError when the file holds none."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as archive:
                found = [i for i in archive.infolist() if i.filename.endswith(EVENTS) and i.file_size <= max_bytes]
                text = archive.read(found[0]).decode(errors="replace") if found else ""
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile) as e:
        raise RunError(f"cannot read {path.name} ({e}); give a run's {EVENTS} or its exported zip") from None
    records = event_records(text)
    if not records:
        raise RunError(f"{path.name} holds no run events; give a run's {EVENTS} or its exported zip")
    return records


def read_events_gz(path: str | Path) -> list[dict[str, Any]]:
    """The event records of a gzipped events file (a recorded lesson, a cached run)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return event_records(f.read())


def events_gz_bytes(records: list[dict[str, Any]], level: int = 9) -> bytes:
    """Records as gzipped JSON lines; mtime 0, so the same records give the same bytes."""
    text = "".join(to_json_line(r) for r in records)
    return gzip.compress(text.encode(), compresslevel=level, mtime=0)


# -- atomic writes -------------------------------------------------------------------------------

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


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from a run file; RunError (saying what to do) when it is missing or damaged."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path} is missing; the run did not get that far (see its {EVENTS})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path} is damaged ({str(e).splitlines()[0]}); it was truncated or edited by hand: restore "
                       f"it from the run's exported zip, or start a new run") from None
    if not isinstance(value, dict):
        raise RunError(f"{path} holds a {type(value).__name__}, not a JSON object; restore it or start a new run")
    return value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dedup_shared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses tensors sharing storage (tied weights): store clones."""
    seen, out = set(), {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
        out[k] = v.clone() if key in seen else v
        seen.add(key)
    return out
