"""The data layer shared by CLI and app: any source -> a split, encoded `Dataset`, and back for predict.

    dataset = load_dataset(cfg.data, seed=cfg.seed)   # example name, CSV/TSV, .npz, zip of class folders
    x_new = encode_inputs("new.csv", dataset.spec)     # encoded exactly like training
    x, y = encode_labelled("more.csv", dataset.spec)   # a labelled file, for scoring
    inspect_file("upload.csv")                         # columns, shapes, guesses for the form
    EXAMPLES                                           # registry of bundled example datasets
"""
from .dataset import Dataset, Splits
from .encoding import encode_inputs, encode_labelled, target_stats
from .examples import EXAMPLES, ExampleData, ExampleSpec
from .inspection import inspect_file
from .loader import load_dataset
from .tasks import TASKS, infer_task

__all__ = ["load_dataset", "encode_inputs", "encode_labelled", "target_stats", "inspect_file", "Dataset", "Splits",
           "EXAMPLES", "ExampleSpec", "ExampleData", "TASKS", "infer_task"]
