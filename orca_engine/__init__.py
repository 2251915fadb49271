"""ORCA Explorer's engine: align a new embedder to a pretrained body, then refine, on any data.

Layering: session -> stages -> models, alignment, data -> config, events, errors.
This package imports neither gradio nor plotly, and keeps heavy imports (torch models, umap) lazy.
"""
import os

# OpenMP threads that spin while they wait made every training step several times slower on a busy
# 2-core machine; sleeping waits are robust there but cost some speed on a quiet one (one MiniLM step:
# 448 against 142 ms busy, 84 against 127 ms quiet; docs/BENCHMARKS.md "Threads"). A shared Space and
# a CI machine are busy more often than not. It must be set before torch loads OpenMP; a user's own
# setting (e.g. OMP_WAIT_POLICY=ACTIVE on a dedicated machine) wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import AlignConfig, DataConfig, ModelConfig, RefineConfig, RunConfig  # noqa: E402
from .errors import BackboneError, ConfigError, DataError, OrcaError, RunError  # noqa: E402

__all__ = ["RunConfig", "DataConfig", "ModelConfig", "AlignConfig", "RefineConfig",
           "OrcaError", "ConfigError", "DataError", "BackboneError", "RunError"]
__version__ = "0.1.0"
