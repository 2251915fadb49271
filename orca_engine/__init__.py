"""ORCA Explorer's engine: align a new embedder to a pretrained body, then refine, on any data.

Layering: session -> stages -> models, alignment, data -> config, events, errors.
This package imports neither gradio nor plotly, and keeps heavy imports (torch models, umap) lazy.
"""
from .config import AlignConfig, DataConfig, ModelConfig, RefineConfig, RunConfig
from .errors import BackboneError, ConfigError, DataError, OrcaError, RunError

__all__ = ["RunConfig", "DataConfig", "ModelConfig", "AlignConfig", "RefineConfig",
           "OrcaError", "ConfigError", "DataError", "BackboneError", "RunError"]
__version__ = "0.1.0"
