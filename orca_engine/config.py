"""Run configuration: frozen, nested, validated dataclasses; the one source of defaults and limits.

Every field carries a one-line `help` and its limits (`choices` or `range`) in its metadata; the
CLI builds its flags from them and the UI its widgets, so both share one truth. Validation errors
name the field, the value and what is allowed.

    cfg = RunConfig.from_dict({"data": {"source": "digits"}, "align": {"steps": 20}})
    cfg = cfg.with_overrides({"refine.epochs": 3})
    RunConfig.from_file("run.yaml");  cfg.save("run.yaml")
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import ConfigError


def option(default: Any, help: str, *, choices: Iterable[str] | Callable[[], Iterable[str]] | None = None,
           range: tuple[float, float] | None = None) -> Any:
    """A config field with its help line and limits (`range` is inclusive)."""
    return field(default=default, metadata={"help": help, "choices": choices, "range": range})


def allowed_choices(f: dataclasses.Field) -> tuple[str, ...] | None:
    choices = f.metadata.get("choices")
    if choices is None:
        return None
    return tuple(choices() if callable(choices) else choices)


def _backbone_names() -> tuple[str, ...]:
    from .backbones import BACKBONES
    return BACKBONES.names()


def _source_proxy_names() -> tuple[str, ...]:
    from .sources import proxy_choices
    return proxy_choices()


def _objective_names() -> tuple[str, ...]:
    from .alignment import OBJECTIVES
    return tuple(OBJECTIVES)


class _Section:
    """Validation and (de)serialisation shared by every config dataclass."""

    _path: str = ""  # dotted prefix used in error messages, e.g. "align"

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            name = f"{self._path}.{f.name}" if self._path else f.name
            value = getattr(self, f.name)
            if isinstance(value, _Section):
                continue
            object.__setattr__(self, f.name, _checked(name, value, f))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{cls._path or 'config'} must be a mapping, got {type(data).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            where = f" in '{cls._path}'" if cls._path else ""
            raise ConfigError(f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}{where}; "
                              f"allowed: {', '.join(fields)}")
        kwargs = {}
        for name, value in data.items():
            sub = _section_type(fields[name])
            kwargs[name] = sub.from_dict(value) if sub is not None else value
        return cls(**kwargs)


def _section_type(f: dataclasses.Field):
    factory = f.default_factory if f.default_factory is not dataclasses.MISSING else None
    return factory if isinstance(factory, type) and issubclass(factory, _Section) else None


def _checked(name: str, value: Any, f: dataclasses.Field) -> Any:
    """Coerce `value` to the field's type and check its limits; raise ConfigError naming the field."""
    default = f.default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
    elif isinstance(default, int):
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ConfigError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be finite, got {value!r}")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, got {value!r}")
    lo_hi = f.metadata.get("range")
    if lo_hi is not None and not (lo_hi[0] <= value <= lo_hi[1]):
        raise ConfigError(f"{name} = {value!r} is out of range; allowed: {lo_hi[0]} to {lo_hi[1]}")
    choices = allowed_choices(f)
    if choices is not None and value not in choices:
        raise ConfigError(f"{name} = {value!r} is not allowed; choose one of: {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class DataConfig(_Section):
    _path = "data"
    source: str = option("digits", "bundled example name, or path to a CSV/TSV, .npy/.npz, or .zip of image class "
                                   "folders; a folder of .npy files or hf:NAME is read from disk lazily")
    label_column: str = option("", "CSV/TSV only: the column holding the target; empty = the last column")
    modality: str = option("auto", "input kind; 'auto' infers it from the shape",
                           choices=("auto", "tabular", "sequence", "image"))
    task: str = option("auto", "task type; 'auto' infers it from the labels",
                       choices=("auto", "classification", "regression", "multilabel", "dense"))
    val_fraction: float = option(0.15, "share of the data held out for validation (model selection)", range=(0.05, 0.5))
    test_fraction: float = option(0.2, "share of the data held out for the final test (reported once)", range=(0.05, 0.5))
    train_fraction: float = option(1.0, "share of the training split actually used (data-scarcity experiments)",
                                   range=(0.01, 1.0))
    max_samples: int = option(10_000_000, "refuse datasets with more samples than this: a safety limit for a "
                              "public server (the app sets its own); large data is read from disk lazily",
                              range=(10, 10_000_000))


@dataclass(frozen=True)
class ModelConfig(_Section):
    _path = "model"
    backbone: str = option("minilm", "pretrained body (see `python -m orca_engine backbones`)", choices=_backbone_names)
    pretrained: bool = option(True, "load pretrained body weights; false = same architecture, random init (ablation)")
    embedder_init: str = option("copy", "embedder start: copy the body's own embedding weights, or random",
                                choices=("copy", "random"))
    max_tokens: int = option(16, "most tokens the embedder may produce per sample (cost grows with it; the "
                                 "paper uses up to 512 on GPUs, 16 keeps a 2-core CPU interactive)", range=(1, 1024))
    patch_size: int = option(0, "2-D inputs on a text body: patch side in pixels; 0 = choose automatically",
                             range=(0, 64))


@dataclass(frozen=True)
class AlignConfig(_Section):
    _path = "align"
    objective: str = option("otdd-exact", "alignment objective; 'none' skips alignment", choices=_objective_names)
    steps: int = option(300, "most alignment steps; the stage stops earlier once the objective plateaus "
                             "(0 skips alignment)", range=(0, 100_000))
    min_steps: int = option(30, "alignment steps always taken before the plateau rule may stop it", range=(0, 100_000))
    plateau_steps: int = option(20, "plateau rule: compare the objective's running mean over this many steps with "
                                    "the one before (0 = always run align.steps)", range=(0, 10_000))
    plateau_tolerance: float = option(0.02, "plateau rule: stop when the running mean fell by less than this share",
                                      range=(0.0, 1.0))
    max_seconds: float = option(120.0, "stop alignment after this many seconds (0 = no limit)", range=(0.0, 1e6))
    lr: float = option(1e-2, "alignment learning rate (the embedder alone is trained here)", range=(1e-7, 10.0))
    optimizer: str = option("adam", "alignment optimiser", choices=("adam", "adamw", "sgd"))
    source_proxy: str = option("auto", "labelled data of the body's own modality ('auto' picks by backbone)",
                               choices=_source_proxy_names)
    source_samples: int = option(1000, "source proxy samples used by the objective", range=(20, 50_000))
    samples_per_class: int = option(64, "target samples per class drawn at each alignment step", range=(2, 10_000))
    pseudo_label_k: int = option(10, "k-means clusters used as classes for regression/dense/multi-label targets",
                                 range=(2, 100))
    projection_every: int = option(2, "emit a projection sample every this many steps (0 = never)", range=(0, 10_000))
    projection_points: int = option(500, "points per side in the live projection", range=(10, 5000))


@dataclass(frozen=True)
class RefineConfig(_Section):
    _path = "refine"
    scope: str = option("full", "what is trained: everything, LayerNorms+embedder+head (FPT), or all but the body",
                        choices=("full", "layernorm", "frozen-body"))
    epochs: int = option(0, "fixed number of epochs; 0 = automatic: a step budget sized to the data "
                            "(refine.target_epochs, bounded by refine.min_steps and refine.max_steps)",
                         range=(0, 10_000))
    target_epochs: int = option(10, "automatic budget: passes over the training data aimed at", range=(1, 10_000))
    min_steps: int = option(500, "automatic budget: at least this many optimiser steps (small data still learns); "
                                 "early stopping never ends a run before this", range=(0, 1_000_000))
    max_steps: int = option(1500, "automatic budget: at most this many optimiser steps (large data stays "
                                  "affordable)", range=(1, 10_000_000))
    max_seconds: float = option(0.0, "stop refinement after this many seconds (0 = no limit; a time-capped run "
                                     "depends on the machine's speed)", range=(0.0, 1e7))
    lr: float = option(1e-4, "peak learning rate of the pretrained body (linear warm-up, then linear decay)",
                       range=(1e-7, 10.0))
    optimizer: str = option("adamw", "refinement optimiser", choices=("adamw", "sgd"))
    new_layers_lr_scale: float = option(10.0, "learning-rate multiplier for the new layers (embedder, head) "
                                              "over the pretrained body's rate; 1 = one rate for all as in ORCA",
                                        range=(0.1, 1000.0))
    batch_size: int = option(0, "samples per optimisation step; 0 = automatic: about a tenth of the training "
                                "split, between 8 and 32", range=(0, 4096))
    warmup_fraction: float = option(0.1, "share of steps spent warming the learning rate up", range=(0.0, 0.9))
    head_first_fraction: float = option(0.0, "share of steps that train only the new layers (embedder, head) "
                                             "before the body joins (LP-FT, Kumar et al. 2022); 0 = off",
                                        range=(0.0, 0.9))
    weight_decay: float = option(0.01, "decoupled weight decay", range=(0.0, 1.0))
    grad_clip: float = option(1.0, "clip the gradient norm to this (0 = no clipping)", range=(0.0, 1e6))
    eval_every: int = option(0, "validate every this many steps; 0 = automatic (about 20 checks a run, fewer "
                                "when the validation split is large)", range=(0, 1_000_000))
    patience: int = option(0, "early stopping: stop after this many steps without a better validation "
                              "checkpoint, never before refine.min_steps; 0 = automatic (a third of the budget)",
                           range=(0, 10_000_000))
    early_stopping: bool = option(True, "stop when validation stops improving (see refine.patience)")
    select_on: str = option("auto", "what picks the kept checkpoint: the task metric on the validation split "
                                    "(ties broken by the validation loss), the validation loss (near-ties broken "
                                    "by the metric), or the last step's weights; auto = last for classification "
                                    "or multi-label with a validation split under 50 samples (too few to tell "
                                    "checkpoints apart), else metric", choices=("auto", "metric", "loss", "last"))
    class_weights: bool = option(False, "weight the loss by inverse class frequency (imbalanced classes)")
    augment: str = option("auto", "label-preserving input augmentation of each training batch (time shift, "
                                  "translation, noise; never for dense tasks); auto = when the budget passes over "
                                  "the training split at least 25 times (small data), on = always, none = off",
                          choices=("auto", "on", "none"))
    augment_probability: float = option(0.5, "share of the samples of each training batch that augmentation "
                                             "changes (the rest pass through as they are)", range=(0.0, 1.0))
    tta: str = option("auto", "test-time augmentation: the model's outputs averaged over the input and copies "
                              "shifted by half the training shift (validation, test and predict alike); auto = "
                              "for sequences when refinement augments, on = sequences and images, none = off",
                      choices=("auto", "on", "none"))
    soup: str = option("auto", "average the weights of the best validation checkpoints, each kept only if the "
                               "validation score does not get worse (a greedy weight soup); auto = regression "
                               "tasks, on = every task, none = the single best checkpoint",
                       choices=("auto", "on", "none"))
    ema: float = option(0.0, "keep an exponential moving average of the weights with this decay and validate, "
                             "select and save the average (0 = off)", range=(0.0, 0.9999))
    members: int = option(0, "models trained from the aligned start with different seeds, their predicted "
                             "probabilities (regression: values) averaged (a seed ensemble; each member costs one "
                             "refinement); 0 = automatic: 3 when the budget passes over the training split 25+ "
                             "times (small data, where one run's result varies most with its seed), else 1",
                          range=(0, 10))


@dataclass(frozen=True)
class EvaluateConfig(_Section):
    _path = "evaluate"
    baselines: str = option("all", "classical baselines fitted on the same split beside the test result: all that "
                                   "suit the data (linear, nearest neighbours, DTW, MiniRocket), linear only, or none",
                            choices=("all", "linear", "none"))
    baseline_seconds: float = option(120.0, "skip a baseline whose estimated cost exceeds this many seconds",
                                     range=(1.0, 1e6))


@dataclass(frozen=True)
class TuneConfig(_Section):
    _path = "tune"
    trials: int = option(12, "most hyperparameter trials (each a full align + refine on the training split, scored "
                             "on validation)", range=(1, 10_000))
    max_seconds: float = option(900.0, "stop starting new trials after this many seconds", range=(10.0, 1e7))
    trial_steps_scale: float = option(1.0, "scale of each trial's refinement step floor (refine.min_steps) "
                                           "relative to the value tried",
                                      range=(0.05, 10.0))
    executor: str = option("serial", "where trials run: serial (this process, one at a time), or ray[:ADDRESS] "
                                     "(Ray tasks, one CPU each, as many at once as the cluster has CPUs; ADDRESS "
                                     "of a running cluster or 'auto', none starts a local Ray; needs "
                                     "requirements-scale.txt)")

    def __post_init__(self) -> None:
        super().__post_init__()
        from .raytools import parse_executor
        parse_executor(self.executor, "tune.executor =")  # a wrong value fails here, before a run starts


@dataclass(frozen=True)
class RunConfig(_Section):
    _path = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    refine: RefineConfig = field(default_factory=RefineConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    seed: int = option(0, "seed for splits, initialisation, sampling and shuffling", range=(0, 2**31 - 1))
    device: str = option("auto", "'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N'")
    precision: str = option("auto", "bf16 autocasts the model's forward pass where the device computes bf16 natively "
                                    "(CUDA, CPUs with AMX/AVX512-bf16), else runs fp32; auto = bf16 where native and "
                                    "checked for quality (about 2x faster refinement, same accuracy on digits), "
                                    "fp32 elsewhere", choices=("fp32", "bf16", "auto"))
    name: str = option("", "a label for the run (defaults to data-backbone)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.device in ("auto", "cpu", "cuda") or
                (self.device.startswith("cuda:") and self.device[5:].isdigit())):
            raise ConfigError(f"device = {self.device!r} is not allowed; use auto, cpu, cuda or cuda:N")
        if self.data.val_fraction + self.data.test_fraction >= 0.8:
            raise ConfigError("data.val_fraction + data.test_fraction must leave at least 20% for training; "
                              f"got {self.data.val_fraction} + {self.data.test_fraction}")

    # -- round trips -------------------------------------------------------------------------
    def with_overrides(self, overrides: dict[str, Any]) -> "RunConfig":
        """A copy with dotted keys replaced, e.g. {"align.steps": 10, "seed": 1}."""
        data = self.to_dict()
        for key, value in overrides.items():
            node, parts = data, key.split(".")
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"unknown option {key!r}")
                node = node[part]
            if parts[-1] not in node:
                raise ConfigError(f"unknown option {key!r}")
            node[parts[-1]] = value
        return RunConfig.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_yaml(self) -> str:
        import yaml
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.write_text(self.to_yaml() if path.suffix in (".yaml", ".yml") else self.to_json())

    @classmethod
    def from_file(cls, path: str | Path) -> "RunConfig":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml
                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as e:  # noqa: BLE001 - any parse error is the user's to fix
            raise ConfigError(f"config file {path} is not valid {path.suffix[1:].upper() or 'JSON'}: {e}") from None
        return cls.from_dict(data)


def iter_options(section: type[_Section] = RunConfig, prefix: str = ""):
    """Yield (dotted_name, field, default) for every leaf option: what CLI flags and UI widgets are built from."""
    for f in dataclasses.fields(section):
        sub = _section_type(f)
        if sub is not None:
            yield from iter_options(sub, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f, f.default


# -- command-line flags: one naming rule shared by the CLI and the app's "reproduce" box ----------
FLAG_ALIASES = {"data.source": "--data", "model.backbone": "--backbone", "data.label_column": "--label-column",
                "align.objective": "--objective"}


def cli_flag(dotted: str) -> str:
    """'align.steps' -> '--align-steps'; the common ones have short aliases (e.g. '--data')."""
    return FLAG_ALIASES.get(dotted, "--" + dotted.replace(".", "-").replace("_", "-"))


def command_line(config: RunConfig) -> str:
    """The `python -m orca_engine run ...` command that reproduces `config` (non-default options only)."""
    import shlex
    parts = ["python", "-m", "orca_engine", "run", "--data", config.data.source, "--backbone", config.model.backbone]
    values = _flatten(config.to_dict())
    for dotted, f, default in iter_options():
        if dotted in ("data.source", "model.backbone") or values[dotted] == default:
            continue
        value = values[dotted]
        parts += [cli_flag(dotted), ("true" if value else "false") if isinstance(value, bool) else str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
