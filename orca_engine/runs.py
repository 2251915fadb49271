"""A finished run rebuilt from its folder (`load_run`): enough to predict and evaluate on new data.

The folder's files belong to `orca_engine.run_folder.RunFolder`; this module only reads them back
into a model. Every problem (a missing, damaged or edited file) is a RunError that says what to do.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import RunConfig
from .contracts import BuildInfo, DataSpec
from .errors import RunError
from .run_folder import MODEL, WEIGHTS, RunFolder

if TYPE_CHECKING:
    import torch

    from .model import OrcaEnsemble, OrcaModel


@dataclass
class LoadedRun:
    """A finished run rebuilt from its folder: enough to predict and evaluate on new data."""
    run_dir: Path
    config: RunConfig
    build_info: BuildInfo
    model: OrcaModel | OrcaEnsemble

    @property
    def data_spec(self) -> DataSpec:
        return self.build_info.data_spec

    @property
    def complete(self) -> bool:
        """False for a refine checkpoint: the run was stopped or killed before it finished."""
        return self.build_info.complete

    @property
    def incomplete_note(self) -> str:
        """What a user of an unfinished run's model should know ("" for a finished run)."""
        checkpoint = self.build_info.checkpoint
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
    folder = RunFolder(run_dir)
    if not folder.path.is_dir():
        raise RunError(f"run folder {folder.path} does not exist")
    config = folder.read_config()
    info = folder.read_build_info()
    state = folder.read_weights(device)
    try:
        model = build_model(modality=info.modality, task=info.task, input_shape=info.input_shape,
                            output_shape=info.output_shape, num_outputs=info.num_outputs,
                            backbone_name=config.model.backbone, model_cfg=config.model, pretrained=False,
                            device=device, members=info.members)
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{folder.path / MODEL} cannot rebuild the model ({type(e).__name__}: {e}); it is "
                       f"incomplete or was edited: restore it, or start a new run") from None
    _load_weights(model, state, folder.path)
    model.test_time_shift = info.test_time_shift
    model.eval()
    return LoadedRun(folder.path, config, info, model)


def _load_weights(model: OrcaModel | OrcaEnsemble, state: dict[str, torch.Tensor], run_dir: Path) -> None:
    """Weights into the rebuilt model; RunError when they no longer fit (config.json edited after the run)."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = next((line for line in lines if "mismatch" in line or "Missing" in line), lines[-1] if lines else "")
        raise RunError(f"the weights in {run_dir / WEIGHTS} do not fit the model that config.json and "
                       f"model.json describe ({detail[:200]}); were they edited after the run? Restore them from the "
                       f"run's exported zip, or start a new run") from None
