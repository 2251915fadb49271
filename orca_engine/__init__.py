"""ORCA Explorer's engine: align a new embedder to a pretrained body, then refine, on any data.

Layering: session -> stages -> models, alignment, data -> config, events, errors.
This package imports neither gradio nor plotly, and keeps heavy imports (torch models, umap) lazy.
"""
import os

# OpenMP threads that spin while they wait made every training step 10x slower on a busy 2-core
# machine (3.5 s against 0.3 s a MiniLM step, measured side by side; docs/BENCHMARKS.md). Sleeping
# waits cost little on a quiet one. It must be set before torch loads OpenMP; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import AlignConfig, DataConfig, ModelConfig, RefineConfig, RunConfig  # noqa: E402
from .errors import BackboneError, ConfigError, DataError, OrcaError, RunError  # noqa: E402

__all__ = ["RunConfig", "DataConfig", "ModelConfig", "AlignConfig", "RefineConfig",
           "OrcaError", "ConfigError", "DataError", "BackboneError", "RunError"]
__version__ = "0.1.0"
