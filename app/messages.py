"""Every user-facing string of the web app, in one place (labels, explanations, errors, statuses).

Config options carry their own help line (`orca_engine.config`); only the short widget labels
live here, keyed by the option's dotted name.
"""
from __future__ import annotations

from orca_engine.session import ProjectionStatus, projection_notes

from .glossary import PAPER_LINK, term

# -- limits stated in the UI (enforced by launch(max_file_size=...) and data.max_samples) -------
MAX_UPLOAD_MB = 50
MAX_SAMPLES = 20_000

TITLE = "ORCA Explorer"
INTRO = (
    "# ORCA Explorer\n"
    "Reuse a pretrained transformer on data of another kind (signals, images, tables) with "
    "**ORCA** (Shen et al., ICML 2023): first *align* a small new input layer so your data looks, "
    "to the transformer, like the data it was trained on; then *refine* the whole model on your "
    "task. Work through the steps in order; step 7 compares the runs you made. Unfamiliar words are "
    f"explained under [Words used here](#glossary-orca) at the bottom; the method is {PAPER_LINK}."
)

# -- step headings and their one-or-two-sentence explanations -----------------------------------
STEPS = {
    "data": ("1. Data", "Give the explorer a labelled dataset: upload a file or pick a bundled example. "
                        "It shows what it understood so you can check before training."),
    "backbone": ("2. Backbone", f"Pick the pretrained transformer ({term('body', 'backbone')}) to reuse. A text "
                                "model can learn a signal or image task: that is the cross-modal part. Backbones "
                                "marked unavailable cannot be started here."),
    "align": ("3. Align", f"Train only the new input layer (the {term('embedder')}) so your embedded data moves "
                          f"toward the {term('source', 'source data')} the transformer knows, by lowering an "
                          f"{term('objective', 'alignment objective')} such as the {term('otdd', 'OTDD')}. The "
                          "curve shows that distance; the picture shows both clouds, and how close yours gets "
                          "depends on your data and the step budget."),
    "refine": ("4. Refine", f"Fine-tune embedder, transformer and prediction head together on your labels "
                            f"({term('scope', 'what is trained')} can be narrowed). The validation split picks "
                            "the best checkpoint; the test split is not looked at."),
    "test": ("5. Test", f"Scores on the held-out test split, measured once, beside the "
                        f"{term('majority')} and classical {term('baseline')}; then a box to try the model on one "
                        "sample, shown with its prediction."),
    "export": ("6. Export", "Take the run with you: a zip with config, events, metrics and model, the command "
                            "line that reproduces it, and the figures. Replay an earlier run from its events."),
    "compare": ("7. Compare your runs", "Every run you finished, side by side: change one thing (alignment on or "
                                        "off, the objective, what is fine-tuned, the seed) and see whether the "
                                        "test score moves by more than the spread between seeds."),
}

# -- widget labels, keyed by config option -------------------------------------------------------
LABELS = {
    "data.label_column": "Label column",
    "data.modality": "Input kind",
    "data.task": "Task",
    "data.val_fraction": "Validation share",
    "data.test_fraction": "Test share",
    "data.train_fraction": "Share of training data used",
    "model.backbone": "Backbone",
    "model.pretrained": "Pretrained weights",
    "model.embedder_init": "Embedder start",
    "model.max_tokens": "Max tokens",
    "model.patch_size": "Patch size",
    "align.objective": "Objective",
    "align.steps": "Most steps (stops at a plateau)",
    "align.min_steps": "Steps before the plateau rule",
    "align.plateau_steps": "Plateau window (steps)",
    "align.plateau_tolerance": "Plateau tolerance",
    "align.max_seconds": "Time limit (s)",
    "align.lr": "Learning rate",
    "align.optimizer": "Optimiser",
    "align.source_proxy": "Source proxy data",
    "align.source_samples": "Source samples",
    "align.samples_per_class": "Target samples per class",
    "align.pseudo_label_k": "Pseudo-label clusters",
    "align.projection_every": "Projection every (steps)",
    "align.projection_points": "Projection points",
    "refine.scope": "What is trained",
    "tune.trials": "Trials",
    "tune.max_seconds": "Time limit (s)",
    "tune.trial_steps_scale": "Steps per trial (x the automatic budget)",
    "refine.epochs": "Epochs (0 = automatic step budget)",
    "refine.target_epochs": "Automatic budget: epochs aimed at",
    "refine.min_steps": "Automatic budget: at least (steps)",
    "refine.max_steps": "Automatic budget: at most (steps)",
    "refine.max_seconds": "Time limit (s, 0 = none)",
    "refine.eval_every": "Validate every (steps, 0 = automatic)",
    "refine.head_first_fraction": "Head-first share (LP-FT)",
    "refine.early_stopping": "Early stopping",
    "refine.select_on": "Weights kept (auto: the last ones under 50 validation samples)",
    "refine.augment": "Training-batch augmentation",
    "refine.augment_probability": "Share of each batch augmented",
    "refine.tta": "Test-time shifts (average over shifted copies)",
    "refine.soup": "Weight soup of the best checkpoints",
    "refine.members": "Models averaged (0 = automatic: 3 on small data)",
    "refine.lr": "Learning rate",
    "refine.optimizer": "Optimiser",
    "refine.new_layers_lr_scale": "New layers learning-rate multiplier",
    "refine.batch_size": "Batch size (0 = automatic)",
    "refine.warmup_fraction": "Warm-up share",
    "refine.weight_decay": "Weight decay",
    "refine.grad_clip": "Gradient clip",
    "refine.patience": "Patience (steps, 0 = automatic)",
    "refine.class_weights": "Class weights",
    "seed": "Seed",
}

# -- data step -----------------------------------------------------------------------------------
EXAMPLE_LABEL = "Bundled example"
USE_EXAMPLE = "Use this example"
UPLOAD_LABEL = "Or upload your data"
UPLOAD_HELP = (f"CSV/TSV (one row per sample), .npy/.npz (arrays `x` and `y`), or a .zip of image folders "
               f"(one folder per class). Up to {MAX_UPLOAD_MB} MB and {MAX_SAMPLES:,} samples.")
DATA_ADVANCED = "Data options"
NO_DATA = "No data yet: pick an example or upload a file."
DATA_LOADED = "**{name}**: {modality} inputs of shape {shape}, {task} with {outputs}. Split {sizes}."
CLASS_COUNTS = "Samples per class (training split)"
PREVIEW = "Preview"
DATA_NOTES = "Notes"
NEED_DATA = "Pick or upload data in step 1 first."

# -- backbone step -------------------------------------------------------------------------------
BACKBONE_TABLE_HEADERS = ["Name", "Status", "Kind", "Size", "Licence", "Offline", "About"]
BACKBONE_CHOICE_UNAVAILABLE = "{name} (unavailable here)"
BACKBONE_ADVANCED = "Advanced: embedder and source proxy"
AVAILABLE = "available"
UNAVAILABLE = "unavailable: {reason}"
BACKBONE_CHOSEN = "**{name}**: {kind} model, {params} parameters, licence {licence}. {status}"

# -- run controls --------------------------------------------------------------------------------
START = "Start"
TUNE = "Tune, then test"
TUNE_HINT = ("**Tune** searches learning rates, batch size, steps, tokens and alignment on the validation "
             "split (Optuna), as the ORCA paper did per task; each trial is a whole align + refine. The best "
             "trial is then tested once. Budget: the options under *Tuning budget*.")
TUNE_ADVANCED = "Tuning budget"
TRIAL_HEADERS = ["trial", "validation score", "best so far", "seconds", "settings"]
PAUSE = "Pause"
RESUME = "Resume"
STEP = "Step"
STOP = "Stop"
ALIGN_ADVANCED = "Advanced: optimiser and live views"
REFINE_ADVANCED = "Advanced: batch, schedule, regularisation"
PROJECTION_METHOD = "Projection"
PROJECTION_CHOICES = [("PCA (fast, linear)", "pca"), ("UMAP (slower, non-linear)", "umap")]
PROJECTION_NOTES = projection_notes()  # the engine words what each projection can and cannot show
UMAP_STARTING = ("UMAP is still getting ready (compiling, up to a minute after the app starts): frames are "
                 "PCA until then, and the plot's title says which one you see.")
UMAP_STARTING_SHORT = "UMAP still getting ready: PCA frames until then"
UMAP_UNAVAILABLE = "UMAP is not available on this server ({reason}); frames stay PCA."


def projection_note(method: str, status: ProjectionStatus) -> str:
    """What the chosen projection shows, and whether UMAP is ready to draw it yet."""
    note = PROJECTION_NOTES.get(method, "")
    if method != "umap" or status.umap_ready:
        return note
    if status.umap_unavailable is not None:  # failed too often to be retried
        return f"{note}\n\n{UMAP_UNAVAILABLE.format(reason=status.umap_unavailable)}"
    return f"{note}\n\n{UMAP_STARTING}"
OBJECTIVE_PLOT = "Alignment objective"
PROJECTION_PLOT = "Source (circles) and your data (crosses), coloured by class"
HEATMAP_PLOT = "Distance from your classes (rows) to source classes (columns)"
REFINE_PLOT = "Training loss and validation metric"
REFINE_WITHOUT_ALIGN = ("Start refines the model you aligned in step 3 while it is still in memory; without one "
                        "(nothing aligned yet, or a page reloaded after a server restart) it first aligns with "
                        "step 3's settings, then refines.")

# -- statuses ------------------------------------------------------------------------------------
NO_RUN = "No run yet."
STATE_NAMES = {
    "queued": "Queued",
    "running": "Running",
    "paused": "Paused",
    "idle": "Waiting for the next step",
    "finished": "Finished",
    "failed": "Failed",
    "cancelled": "Stopped",
}
QUEUE_POSITION = "position {position} in the queue: another visitor's run is using the machine"
QUEUE_ETA = " · starts in about {eta} (runs ahead × the median length of recent runs)"
PROGRESS = "{state}: {stage} step {step}/{total} · elapsed {elapsed} · ETA {eta}"
QUEUED_PAUSED = ("still in the queue (position {position}); it will hold before its first step until you "
                 "press Resume or Step")
PROGRESS_NO_STEPS = "{state}: {stage} · elapsed {elapsed}"
UNKNOWN_ETA = "—"
FAILED = "The run failed: {message}"
RUN_LABEL = "Run `{run_id}`"
REATTACHED = "Re-attached to your run `{run_id}`."
ALIGNED = ("Aligned in {steps} steps: {objective} went from {before:.4g} to {after:.4g} ({change:+.0f}%); "
           "exact OTDD {otdd_before:.4g} → {otdd_after:.4g}. Refine next (step 4).")
STOPPED = "Stopped. Start again when you are ready."
ALIGNED_NONE = ("No alignment (objective `none`): the embedder keeps its starting weights and no distance was "
                "minimised. Refine next (step 4).")
TEST_HEADLINE = "Test {metric}: **{value:.4g}** (measured once, on {n} held-out samples)"

# -- test step -----------------------------------------------------------------------------------
TEST_METRICS = "Test metrics"
TEST_PLOT = "Predictions on the test split"
VERDICT_WIN = "✅ {text}."
VERDICT_LOSS = ("⚠ {text}. A classical model does better on this data: try **Tune**, another backbone, or "
                "keep the baseline.")
BELOW_CHANCE = ("⚠ Test {metric} {value:.3g} is no better than always answering the most frequent class "
                "({chance:.3g}): the model has learned nothing beyond class frequencies.")
NEAR_CHANCE = ("Test accuracy {value:.3g} is within chance of always answering the most frequent class "
               "({chance:.3g} ± {margin:.2g} on this many test samples): the model has learned little or nothing.")
BELOW_MEAN = ("Test R² {value:.3g} is no better than always predicting the training mean: the model has learned "
              "nothing usable.")
MAJORITY_ROW = "always the most frequent class"
CHANCE_ROW = "random guess, 1 in {k} (accuracy)"
BASELINE_ROW = "baseline: {model}"
NO_TEST_YET = "Test metrics appear when refinement has finished."
TRY_SAMPLE = "Test sample number"
TRY_UPLOAD = "Or upload samples (same format as the training file)"
TRY_BUTTON = "Predict"
PREDICTION_HEADERS = ["Sample", "Prediction", "Confidence / value", "True"]
TRY_SHOWN = "The sample predicted"
SAMPLE_ROW_HEADERS = ["feature (as the model reads it: standardised)", "value"]
TRY_NEEDS_MODEL = "Train a model first: predictions need a finished or aligned run in memory."

# -- export step ---------------------------------------------------------------------------------
EXPORT_BUTTON = "Prepare the download"
EXPORT_FILE = "Run zip (config, events, metrics, model)"
FIGURES_FILE = "Figures (interactive HTML)"
COMMAND_LINE = "Reproduce from a terminal"
REPLAY_HEADING = "### Replay an earlier run"
REPLAY_PICK = "Your runs"
REPLAY_UPLOAD = "Or a run zip / events.jsonl"
REPLAY_BUTTON = "Replay"
REPLAYING = "Replaying `{name}` from its recorded events."

# -- the classroom: shared runs, replays, lessons, share links --------------------------------------
REPLAY_CACHED = ("▶ Replaying an identical run finished at {clock} ({date}): same data, settings, seed and code, "
                 "so the same result. No queue, no training; it plays in {seconds:.0f} s.")
REPLAY_TIME_LIMITED = "Note: that run's {reason}, so a fresh run on a quieter machine could go further."
ATTACHED = ("👥 Watching an identical run another visitor started ({viewers} watching): no second copy is "
            "computed. You can watch it, not pause or stop it.")
SHARED_READ_ONLY = ("You are watching a run another visitor started (identical settings are computed once): it is "
                    "read-only for you. Change a setting and start again to get a run of your own.")
LESSON_PLAYING = "▶ Lesson **{title}**: a recorded run, playing in {seconds:.0f} s. Nothing is trained."
SCRUB_LABEL = ("Frame: drag to step back through the alignment (grey crosses: where your data started; black "
               "line: the path of its centre)")
SCRUB_LIVE = "Newest frame"
LESSON_PICK = "Lesson"
LESSON_PLAY = "Play the lesson"
LESSON_HEADING = ("## Lessons: watch a finished run, then test ORCA's claim\n"
                  "A recorded run plays at once (nothing is trained). Follow the guide, predict, then reveal the "
                  "answer from the runs' own numbers. Practitioners: untick *Show the guide* and go to step 1.")
SHOW_GUIDE = "Show the guide"
PREDICT_LABEL = "Predict first: will alignment help on this data?"
REVEAL_BUTTON = "Reveal the answer"
PAIR_BUTTON = "Align vs no-align on the data of step 1 (same seed and budget)"
PAIR_PLOT = "Validation score by epoch: aligned vs not aligned"
PAIR_HEADERS = ["run", "metric", "best validation", "test", "OTDD before → after", "state"]
REVEAL_NEEDS_PAIR = ("The answer needs both runs: play a lesson with an aligned and a no-align run, or press "
                     "**Align vs no-align** for your data.")
REVEAL_WAIT = "Both runs must finish their test first; the answer appears when they have."
REVEAL_YOU_SAID = "You predicted: **{prediction}**."
REVEAL_NUMBERS = ("Test {metric}: **{a:.4g}** with alignment, **{b:.4g}** without ({gain:+.4g} for alignment; same "
                  "data, seed and training budget).")
REVEAL_HELPED = "On this data and seed, **alignment helped**: the difference is larger than test-set noise."
REVEAL_HURT = "On this data and seed, **alignment did not help**: the run without it scored better."
REVEAL_NO_CLEAR = ("**No clear difference**: a test score on {n} samples wobbles by about ±{noise:.3f} (one standard "
                   "error of the difference), and the gap is within twice that. Run more seeds (step 7) before "
                   "concluding.")
REVEAL_OTDD = "Alignment moved the OTDD from {before:.4g} to {after:.4g}: the data did get closer to the source."
REVEAL_BASELINE = "And the yardstick: {text}."
SHARE_HEADING = "### For slides and sharing"
GIF_BUTTON = "Animated GIF of the alignment"
PNG_BUTTON = "Figures as PNG"
SHARE_BUTTON = "Read-only share link"
GIF_FILE = "GIF"
PNG_FILES = "PNG figures"
GIF_READY = "GIF ready: {details}."
NOTHING_TO_ANIMATE = "No projection frames yet: align (step 3) or play a lesson first."
NOTHING_TO_SHARE = "Nothing to share yet: start a run or play a lesson first."
SHARE_LINK = ("Anyone with this link can watch a replay of this run, and nothing more (no pause, stop or delete): "
              "[{link}]({link})  \nLink id: `{share_id}`")
SHARE_PLAYING = "🔗 A shared run (read-only), replaying in {seconds:.0f} s."
SHARE_NOT_FOUND = "That share link is unknown or has expired; ask for a new one."
NO_LESSONS = "No recorded lessons are installed (run `python scripts/record_lessons.py`)."
NOTHING_TO_EXPORT = "Nothing to export yet: start a run first."

# -- errors (engine errors are shown with their own message after this prefix) ------------------
ERROR_PREFIX = {
    "DataError": "There is a problem with the data",
    "ConfigError": "A setting is out of range",
    "BackboneError": "That backbone cannot be used",
    "RunError": "That cannot be done with this run right now",
    "UploadRefused": "That file cannot be used",
    "LimitExceeded": "That is more than this public app allows",
}
ERROR_GENERIC = "Something went wrong"
NOT_YOUR_RUN = "That run belongs to another visitor (or does not exist)."
NO_ACTIVE_RUN = "You have no run to control yet: start one in step 3."
BAD_UPLOAD_TYPE = "Files of type '{suffix}' are not supported; upload CSV, TSV, .npy, .npz or .zip."
UPLOAD_TOO_LARGE = "The file is {size_mb:.0f} MB; the limit here is {limit_mb} MB."
BAD_REPLAY_FILE = "That file holds no run events; upload a run zip or its events.jsonl."
NOT_AN_UPLOAD = "'{name}' is not a file you uploaded here; upload it with the file box first."
UPLOAD_GONE = "'{name}' is no longer on the server; upload it again."
NOT_ON_PUBLIC_APP = "{what} is not offered on this public app; run the engine on your own machine for it."
OVER_LIMIT = ("{what} = {value} is over this public app's limit of {limit}, which keeps the shared machine "
              "available to everyone; lower it, or run without limits from the command line "
              "(`python -m orca_engine run`).")
TOO_MANY_RUNS = ("You already have {limit} runs queued or running; this public app runs at most that many per "
                 "visitor. Stop one (or wait for it) before starting another.")
TIME_LIMIT_STOP = ("stopped: the public time limit of {seconds:g} s per run was reached (it keeps the shared "
                   "machine available); shorten the run, or run it without limits from the command line.")

# -- step 7: compare runs -------------------------------------------------------------------------
COMPARE_BUTTON = "Refresh the comparison"
COMPARE_TABLE = "Your finished runs, grouped by what differs from the ORCA recipe (mean ± spread over seeds)"
COMPARE_HEADERS = ["variant", "runs", "metric", "test mean", "test spread", "OTDD before", "OTDD after",
                   "seconds per run"]
COMPARE_EMPTY = "No finished run on this dataset yet: finish a run (steps 3-5), then change one setting and run again."
COMPARE_NOTE = ("Comparing **{dataset}** ({n} finished runs). A difference smaller than the spread over seeds "
                "is not evidence; run each setting with two or three seeds (the seed is under step 2's advanced "
                "options). The full grid of ablations is `python -m orca_engine compare` (docs/RESULTS.md).")


# -- the run bar (one set of controls, for whichever stage is running) ----------------------------
RUN_BAR_STAGES = {"": "Starting", "prepare": "Preparing", "align": "Step 3, aligning",
                  "refine": "Step 4, refining", "tune": "Step 4, tuning", "evaluate": "Step 5, testing"}
RUN_BAR_TEXT = "**{stage}** · {progress}"
STEP_RATE = "{rate:.2g} s/step lately"
ALIGN_PAUSED_REFINE = ("Alignment is paused at step {step}/{total}. Press **Resume** in the run bar to let it finish "
                       "(then Start refinement), or **Stop** it, then Start here to align and refine afresh.")
ALIGN_RUNNING_REFINE = ("Alignment is still running (step {step}/{total}): Start refinement when it has finished, "
                        "or **Stop** it in the run bar, then Start here to align and refine afresh.")
RUN_IN_PROGRESS = ("Your run is {state} in {stage} (step {step}/{total}). Stop it in the run bar first, or wait "
                   "for it to finish.")
BACKBONE_CANNOT_START = ("Backbone {name} is unavailable on this server ({reason}). Pick one marked available "
                         "in step 2.")

# -- cost before Start ------------------------------------------------------------------------------
ESTIMATE = "Before you start: {parts}."
ESTIMATE_ALIGN = "alignment up to {steps} steps (it stops earlier at a plateau)"
ESTIMATE_NO_ALIGN = "no alignment"
ESTIMATE_REFINE = "refinement about {steps} steps"
ESTIMATE_TIME = "about {minutes} on this server at its last measured rate ({rate:.2g} s/step on {backbone})"
ESTIMATE_NO_RATE = "the time shows once a run on {backbone} has measured its step rate here"

# -- what each figure shows ---------------------------------------------------------------------------
LOOK = {
    "loss": ("What am I looking at: the alignment objective after each step; lower means your embedded data is "
             "closer to the source data. The dotted line marks the step of the distance table below."),
    "projection": ("What am I looking at: each circle is a source sample, each cross one of yours, both as the "
                   "backbone sees them after the embedder, flattened to 2-D. Aligned data overlaps the circles; "
                   "colours are classes, and the same colour on both sides means nothing."),
    "heatmap": ("What am I looking at: each cell is the distance from one of your classes (row) to one source class "
                "(column); darker is closer. The colour scale is fixed for the whole run, so cells darken as "
                "alignment works. It is recomputed every few frames: its title says at which step."),
    "curves": ("What am I looking at: top, the training loss at each step (noisy: it is one batch); bottom, the "
               "validation score each time it is measured. The kept weights are those of the best validation point; with fewer than 50 validation "
               "samples, those of the last step (the run's metrics.json says which, and why)."),
    "test": ("What am I looking at: for classes, rows are the true class and columns the predicted one; the "
             "diagonal is correct. For numbers, each dot is a test sample, on the dashed line when exact."),
}

# -- page state --------------------------------------------------------------------------------------
RESULTS_CLEARED = "New data: the results below belonged to your previous run (`{run_id}`), so they were cleared; " \
                  "replay it from step 6."
DATA_OF_REPLAY = "Replaying run `{run_id}`, trained on **{name}**."
DATA_OF_RUN_GONE = ("Your run `{run_id}` was trained on **{name}**, an upload this page no longer holds. Upload it "
                    "again to start a new run on it.")
REPLAY_NO_EXPORT = ("You are looking at a replay of `{name}`. Export works on your current run; replay files are "
                    "already a download.")
NO_PREDICTION = "Pick a test sample number, or upload samples, and press Predict."

# -- export ------------------------------------------------------------------------------------------
EXPORT_INCOMPLETE = ("This run is {state}, not finished: the zip holds {present}, but lacks {missing}. Finish a run "
                     "(steps 3-5) to get a model you can load.")
EXPORT_READY = "Run `{run_id}`: the zip holds the model, metrics, events, config, a README and reproduce.sh."
COMMAND_HEADER = ("# From a checkout of ORCA Explorer, after `bash scripts/setup.sh` once:\n"
                  "#   . .venv/bin/activate      (or write .venv/bin/python instead of python)\n")
COMMAND_UPLOAD_NOTE = ("# {name} is the file you uploaded: put it in the folder you run this from "
                       "(the run zip holds a copy under data/).\n")
FIGURES_TITLE = "ORCA Explorer: run {run_id}"
FIGURES_OFFLINE = "Self-contained: plotly is inside this file, so it opens without a network."
ZIP_README = """# ORCA Explorer run {run_id}

Made with ORCA Explorer (cross-modal fine-tuning, Shen et al., ICML 2023: https://arxiv.org/abs/2302.05738).
State when exported: **{state}**.{incomplete}

## Files
- `config.json`: every setting of the run (`--config` reruns it)
- `events.jsonl`: what happened, one JSON record per line (replay it in the app's step 6)
- `metrics.json`: test metrics, baselines and the verdict, alignment before/after, seconds per stage
- `model.safetensors`, `model.json`: the weights and what rebuilds them (`python -m orca_engine predict`)
- `predictions.csv`: the test split's predictions
- `figures/figures.html`: the app's figures; opens offline
- `reproduce.sh`: the command below{data_line}

## Reproduce
From a checkout of ORCA Explorer (run `bash scripts/setup.sh` there once), with this zip unpacked there as
the folder `{folder}`:

```bash
. .venv/bin/activate
bash {folder}/reproduce.sh
```
or, without the script:
```bash
{command}
```
"""
ZIP_DATA_LINE = "\n- `data/{name}`: the data file the run was trained on (as uploaded)"
