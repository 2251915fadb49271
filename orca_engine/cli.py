"""Command line: `python -m orca_engine {run,predict,evaluate,compare,backbones,examples} ...`.

Every run option is a flag built from the config's own metadata (help, choices, ranges), so the
CLI, the app and config files share one source of truth. `--config run.yaml` loads a file and
flags override it. User errors print one line and exit 2; `--debug` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .config import RunConfig, allowed_choices, cli_flag, iter_options
from .errors import ConfigError, OrcaError


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config option, defaulting to None so only flags actually given override."""
    group = parser.add_argument_group("run options (override --config)")
    for dotted, f, default in iter_options():
        kind = _parse_bool if isinstance(default, bool) else type(default)
        choices = allowed_choices(f) if not callable(f.metadata.get("choices")) else None
        limits = f" [{f.metadata['range'][0]}..{f.metadata['range'][1]}]" if f.metadata.get("range") else ""
        group.add_argument(cli_flag(dotted), dest=dotted, type=kind, default=None, choices=choices,
                           metavar=dotted.split(".")[-1].upper(),
                           help=f"{f.metadata['help']}{limits} (default: {default!r})")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    config = RunConfig.from_file(args.config) if args.config else RunConfig()
    overrides = {dotted: getattr(args, dotted) for dotted, _, _ in iter_options()
                 if getattr(args, dotted, None) is not None}
    return config.with_overrides(overrides) if overrides else config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orca_engine",
                                     description="ORCA cross-modal fine-tuning: align an embedder to a pretrained "
                                                 "body, then refine, on your data.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="align, refine and test; writes a run folder")
    run.add_argument("--config", help="a run config (.yaml, .yml or .json); flags override it")
    run.add_argument("--out", default="runs", help="folder that receives the run folder (default: runs/)")
    run.add_argument("--stages", default="align,refine,evaluate", help="comma-separated subset, in order")
    run.add_argument("--tune", action="store_true",
                     help="search hyperparameters on the validation split first (stages tune,evaluate; "
                          "see the tune.* options for its budget)")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--no-projection", action="store_true", help="skip the 2-D projection frames")
    run.add_argument("--launcher", choices=("none", "accelerate"), default="none",
                     help="accelerate: refine data-parallel in --num-processes processes via `accelerate launch` "
                          "(alignment runs once, on rank 0; only rank 0 writes the run folder). Under "
                          "`accelerate launch` or torchrun the engine sees the launch by itself")
    run.add_argument("--num-processes", type=int, default=2, help="processes for --launcher accelerate (default 2)")
    add_config_flags(run)

    predict = sub.add_parser("predict", help="predict new data with a finished run")
    predict.add_argument("run_dir")
    predict.add_argument("--data", required=True, help="file encoded like the run's training data")
    predict.add_argument("--out", help="CSV to write (default: RUN_DIR/predictions-<file>.csv)")

    evaluate = sub.add_parser("evaluate", help="metrics of a finished run on labelled data")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data", required=True, help="labelled file in the run's training format")

    add_compare_parser(sub)
    sub.add_parser("backbones", help="list registered backbones and whether they work offline")
    sub.add_parser("examples", help="list bundled example datasets")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.command](args)
    except OrcaError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_run(args: argparse.Namespace) -> int:
    from .distributed import launched_world_size, launcher_command
    from .session import Session
    config = config_from_args(args)
    stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    if args.tune:
        stages = ("tune", "evaluate")
    if launched_world_size() > 1:
        return _run_launched(config, stages, args)
    if args.launcher == "accelerate":
        import subprocess
        return subprocess.run(launcher_command(args.argv, args.num_processes)).returncode
    session = Session(runs_dir=args.out, live_projection=not args.no_projection)
    run_id = session.start(config, stages=stages)
    progress = Progress(enabled=not args.quiet)
    cursor = 0
    try:
        while True:
            status = session.wait(run_id, timeout=0.25)
            for event in session.events(run_id, since=cursor):
                cursor += 1
                progress.show(event)
            if not status.active:
                break
    except KeyboardInterrupt:
        session.cancel(run_id)
        session.wait(run_id, timeout=30)
        raise
    progress.close()
    status = session.status(run_id)
    if status.state == "failed":
        print(f"error: {status.error}", file=sys.stderr)
        print(status.run_dir)
        return 2
    test = status.metrics.get("test")
    if test:
        print("test: " + ", ".join(f"{k}={v:.4g}" for k, v in test.items()), file=sys.stderr)
        for line in result_context(status.metrics):
            print(line, file=sys.stderr)
    print(status.run_dir)
    return 0


def _run_launched(config: RunConfig, stages: tuple[str, ...], args: argparse.Namespace) -> int:
    """One rank of `accelerate launch` / torchrun: rank 0 shows progress and prints the run folder."""
    from .distributed import run_distributed
    progress = Progress(enabled=not args.quiet)
    run_dir, metrics = run_distributed(config, stages, args.out, progress.show)
    progress.close()
    if run_dir is None:
        return 0
    if metrics.get("test"):
        print("test: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics["test"].items()), file=sys.stderr)
        for line in result_context(metrics):
            print(line, file=sys.stderr)
    print(run_dir)
    return 0


def result_context(metrics: dict) -> list[str]:
    """Lines that put the test result in context: majority-class rate, each baseline, the verdict."""
    lines = []
    reference = metrics.get("test_reference", {})
    if "majority_class_rate" in reference:
        lines.append(f"  always the most frequent class: accuracy={reference['majority_class_rate']:.4g}")
    baselines = metrics.get("baselines", {})
    for result in baselines.get("results", []):
        figures = ", ".join(f"{k}={v:.4g}" for k, v in result["test"].items())
        lines.append(f"  baseline {result['model']}: {figures} ({result['seconds']:.1f} s)")
    for name, why in baselines.get("skipped", {}).items():
        lines.append(f"  baseline {name}: skipped ({why})")
    if baselines.get("verdict", {}).get("text"):
        lines.append(f"verdict: {baselines['verdict']['text']}")
    return lines


def cmd_predict(args: argparse.Namespace) -> int:
    from .csv_out import csv_text
    from .data import encode_inputs
    from .run_folder import write_atomic
    from .runs import load_run
    run = load_run(args.run_dir)
    if not run.complete:
        print(f"warning: {run.incomplete_note}", file=sys.stderr)
    x = encode_inputs(args.data, run.data_spec)
    outputs = run.predict(x)
    out = Path(args.out) if args.out else Path(args.run_dir) / f"predictions-{Path(args.data).stem}.csv"
    header, rows = prediction_table(outputs, run.build_info)
    write_atomic(out, csv_text(header, rows))  # quoted and formula-escaped: class names are user text
    print(out)
    return 0


def prediction_table(outputs, build_info):
    """Header and rows for a predictions CSV: the predicted class and its probabilities, or values."""
    import numpy as np
    if build_info.task == "classification":
        names = list(build_info.class_names) or [str(i) for i in range(outputs.shape[1])]
        pred = np.array([names[k] for k in outputs.argmax(axis=1)], dtype=object)
        rows = np.column_stack([pred, np.round(outputs, 5).astype(object)])
        return ["predicted"] + [f"p_{n}" for n in names], rows
    flat = outputs.reshape(len(outputs), -1)
    return [f"pred_{j}" for j in range(flat.shape[1])], np.round(flat, 6)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import encode_labelled
    from .metrics import TASK_METRICS
    from .predict import model_outputs, to_task_units
    from .runs import load_run
    run = load_run(args.run_dir)
    x, y = encode_labelled(args.data, run.data_spec)
    raw = model_outputs(run.model, x, precision=run.config.precision)  # as its test split was
    task = run.build_info.task
    scored = raw if task in ("classification", "multilabel") else to_task_units(raw, run.build_info)
    print(json.dumps(TASK_METRICS.get(task).compute(y, scored), indent=2))
    return 0


def cmd_backbones(args: argparse.Namespace) -> int:
    from .backbones import BACKBONES, backbone_status
    print(f"{'name':<20}{'kind':<8}{'params':>10}  {'offline':<8} description")
    for name, spec in BACKBONES.items():
        ok, reason = backbone_status(name)
        print(f"{name:<20}{spec.kind:<8}{spec.params / 1e6:>9.1f}M  {'yes' if ok else 'no':<8} "
              f"{spec.description}{'' if ok else f' ({reason})'}")
    return 0


def cmd_examples(args: argparse.Namespace) -> int:
    from .data import EXAMPLES
    for name, spec in EXAMPLES.items():
        print(f"{name:<22}{spec.modality:<10}{spec.task:<16}{spec.description}")
    return 0


def add_compare_parser(sub) -> None:
    from .compare import DEFAULT_FRACTION_VARIANTS, DEFAULT_FRACTIONS, PRESETS, VARIANTS
    compare = sub.add_parser("compare", help="run a grid of ORCA variants over seeds; write tables and plots",
                             description="Each variant is the ORCA recipe with one thing changed: "
                                         + "; ".join(f"{n}: {v.question}" for n, v in VARIANTS.items()))
    compare.add_argument("--data", help="bundled example name or data file (default: the config's)")
    compare.add_argument("--backbone", help="pretrained body (default: the config's)")
    compare.add_argument("--config", help="a base run config (.yaml/.json); the preset, then --set, override it")
    compare.add_argument("--preset", choices=tuple(PRESETS), default="quick",
                         help="training budget of every run (recorded with the table; default: quick)")
    compare.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a base config option, e.g. --set refine.epochs=5 (repeatable)")
    compare.add_argument("--variants", default="all", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    compare.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: 0,1,2)")
    compare.add_argument("--fractions", default=",".join(f"{f:g}" for f in DEFAULT_FRACTIONS),
                         help="training-split fractions for --fraction-variants (default: %(default)s)")
    compare.add_argument("--fraction-variants", default=",".join(DEFAULT_FRACTION_VARIANTS),
                         help="variants also run at every fraction (default: %(default)s; 'none' for none)")
    compare.add_argument("--out", help="output folder (default: compare/<data>-<backbone>)")
    compare.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    compare.add_argument("--keep-models", action="store_true", help="keep every run's model.safetensors")
    compare.add_argument("--cache", help="source-feature cache folder (default: ~/.cache/orca_explorer)")
    compare.add_argument("--executor", default="serial",
                         help="where the runs go: serial (this process, default), or ray[:ADDRESS]: each group of "
                              "runs sharing a seed and data fraction becomes a Ray task with one CPU (ADDRESS of a "
                              "running cluster, or 'auto'; none starts a local Ray). Needs requirements-scale.txt")
    compare.add_argument("--gpus-per-run", type=float, default=0.0,
                         help="GPUs each Ray task asks for (default 0; 1 puts each group of runs on its own GPU)")
    compare.add_argument("--threads", type=int, default=0,
                         help="CPU threads for torch (default 0: torch's choice); 1 is often fastest on a busy machine")


def parse_assignment(text: str) -> tuple[str, object]:
    """'refine.epochs=5' -> ('refine.epochs', 5); values are read as JSON when they parse, else text."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set refine.epochs=5")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _names(text: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if text.strip() == "all":
        return default
    if text.strip() == "none":
        return ()
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _numbers(text: str, kind, flag: str) -> tuple:
    try:
        return tuple(kind(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected comma-separated numbers, e.g. {flag} 0,1,2") from None


def compare_base_config(args: argparse.Namespace) -> tuple[RunConfig, dict]:
    """File (or defaults) <- preset <- --data/--backbone <- --set; returns the config and what was overridden."""
    from .compare import PRESETS
    config = RunConfig.from_file(args.config) if args.config else RunConfig()
    overrides = dict(PRESETS[args.preset])
    if args.data:
        overrides["data.source"] = args.data
    if args.backbone:
        overrides["model.backbone"] = args.backbone
    overrides.update(parse_assignment(item) for item in args.set)
    return config.with_overrides(overrides), overrides


def compare_command(args: argparse.Namespace, base: RunConfig, spec) -> str:
    """The fully spelled-out command that regenerates a comparison."""
    parts = ["python -m orca_engine compare", f"--data {base.data.source}", f"--backbone {base.model.backbone}"]
    parts += [f"--config {args.config}"] if args.config else []
    parts += [f"--preset {args.preset}", f"--variants {','.join(spec.variants)}",
              f"--seeds {','.join(map(str, spec.seeds))}",
              f"--fractions {','.join(f'{f:g}' for f in spec.fractions)}",
              f"--fraction-variants {','.join(spec.fraction_variants) or 'none'}"]
    parts += [f"--set {item}" for item in args.set]
    parts += [f"--threads {args.threads}"] if args.threads else []
    parts += [f"--executor {args.executor}"] if args.executor != "serial" else []
    parts += [f"--gpus-per-run {args.gpus_per_run:g}"] if args.gpus_per_run else []
    parts += [f"--out {args.out}"] if args.out else []
    return " ".join(parts)


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import VARIANTS, GridSpec, machine_description, run_grid, write_outputs
    base, overrides = compare_base_config(args)
    if args.threads > 0:
        import torch
        torch.set_num_threads(args.threads)
    spec = GridSpec(variants=_names(args.variants, VARIANTS.names()), seeds=_numbers(args.seeds, int, "--seeds"),
                    fractions=_numbers(args.fractions, float, "--fractions"),
                    fraction_variants=_names(args.fraction_variants, VARIANTS.names()))
    name = f"{Path(base.data.source).stem}-{base.model.backbone}"
    out = Path(args.out or Path("compare") / name)
    print(f"compare: {len(spec.cells())} runs of {name} into {out}", file=sys.stderr)
    result = run_grid(base, spec, out, progress=lambda line: print(line, file=sys.stderr, flush=True),
                      keep_models=args.keep_models, cache_dir=args.cache, executor=args.executor,
                      gpus_per_run=args.gpus_per_run)
    settings = {"command": compare_command(args, base, spec), "preset": args.preset, "overrides": overrides,
                "base_config": base.to_dict(), "grid": spec.to_dict(), "machine": machine_description(), "seconds": round(result.seconds, 1),
                "cells": len(result.cells), "failed": [c.cell.label for c in result.cells if not c.ok],
                "model_loads": result.model_loads, "alignments_reused": result.alignments_reused}
    written = write_outputs(out, result.run_dirs, settings, plots=not args.no_plots, title=name)
    print(written["table.md"].read_text())
    failed = settings["failed"]
    if failed:
        print(f"warning: {len(failed)} run(s) failed: {', '.join(failed)} (see their events.jsonl)", file=sys.stderr)
    return 1 if len(failed) == len(result.cells) else 0


COMMANDS = {"run": cmd_run, "predict": cmd_predict, "evaluate": cmd_evaluate, "backbones": cmd_backbones,
            "examples": cmd_examples, "compare": cmd_compare}


class Progress:
    """A one-line progress display on stderr (redrawn in place on a terminal, sparse lines otherwise)."""

    def __init__(self, enabled: bool = True, stream=None):
        stream = sys.stderr if stream is None else stream  # the stderr of now, not of import time
        self.enabled, self.stream = enabled, stream
        try:
            self.tty = stream.isatty()
        except ValueError:  # a closed stream: no terminal to redraw on
            self.tty = False
        self.last_draw = 0.0
        self.stage_start = time.time()

    def show(self, event: dict) -> None:
        if not self.enabled:
            return
        kind = event["type"]
        if kind == "stage_started":
            self._line(f"{event['stage']} ...", force=True)
            self.stage_start = time.time()
        elif kind == "step":
            done = event["step"] == event["total"]
            if done or time.time() - self.last_draw > (0.2 if self.tty else 5.0):
                self._bar(event)
        elif kind == "validation":
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in event["metrics"].items())
            where = f"step {event['step']} (epoch {event['epoch']:g})" if event.get("step") else f"epoch {event['epoch']}"
            self._line(f"  {where}: {metrics}{' (best)' if event['best'] else ''}", force=True)
        elif kind == "trial":
            params = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in event["params"].items())
            self._line(f"  trial {event['trial']}/{event['total']}: value {event['value']:.4g} "
                       f"({event['seconds']:.0f} s){' (best)' if event['best'] else ''}  {params}", force=True)
        elif kind == "warning":
            self._line(f"  warning: {event['message']}", force=True)
        elif kind == "stage_finished" and event["stage"] == "prepare":
            for note in event["metrics"].get("dataset", {}).get("notes", []):
                self._line(f"  note: {note}", force=True)
            self._line(f"  source proxy: {event['metrics'].get('source_proxy', {}).get('proxy')}", force=True)
        elif kind == "stage_finished" and event["stage"] == "align" and "otdd_before" in event["metrics"]:
            m = event["metrics"]
            self._line(f"  OTDD {m['otdd_before']:.4g} -> {m['otdd_after']:.4g} in {m.get('steps', '?')} steps "
                       f"({m.get('stopped_by', '')})", force=True)
        elif kind == "stage_finished" and event["stage"] == "refine" and "budget" in event["metrics"]:
            b, m = event["metrics"]["budget"], event["metrics"]
            members = b.get("members", 1)
            kept = (f"{members} models averaged ({b['reasons'].get('members', '')})" if members > 1 else
                    f"kept step {m.get('best_step')}")
            self._line(f"  {m.get('steps')} of {b['total_steps'] * members} steps at batch {b['batch_size']} "
                       f"(stopped by {m.get('stopped_by')}); {kept}", force=True)
            if event["metrics"].get("selection_reason"):
                self._line(f"  kept weights: {event['metrics']['selection_reason']}", force=True)
            if event["metrics"].get("soup"):
                self._line(f"  soup: {event['metrics']['soup']['note']}", force=True)

    def _bar(self, event: dict) -> None:
        step, total = event["step"], max(1, event["total"])
        elapsed = time.time() - self.stage_start
        eta = elapsed / step * (total - step) if step else 0
        filled = int(24 * step / total)
        text = (f"  {event['stage']:<7}[{'#' * filled}{'.' * (24 - filled)}] {step}/{total} "
                f"loss {event['loss']:.4g}  {elapsed:.0f}s, eta {eta:.0f}s")
        self._line(text, redraw=True)

    def _line(self, text: str, force: bool = False, redraw: bool = False) -> None:
        self.last_draw = time.time()
        if self.tty and redraw:
            self.stream.write("\r" + text.ljust(100))
        else:
            self.stream.write(("\n" if self.tty else "") + text + ("" if self.tty else "\n"))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
