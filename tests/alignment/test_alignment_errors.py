"""Bad inputs raise typed errors whose message names the problem and the fix."""
import math

import pytest
import torch

from orca_engine.alignment import make_objective
from orca_engine.errors import ConfigError, DataError
from alignment_problems import small_problem


def test_unknown_objective_lists_the_names():
    xs, ys, _, _ = small_problem()
    with pytest.raises(ConfigError, match="otdd-exact"):
        make_objective("otdd-fast", xs, ys)


@pytest.mark.parametrize("options, match", [({"blur": 0.3}, "no option blur"),
                                            ({"epsilon": -1.0}, "epsilon"),
                                            ({"scaling": 1.5}, "scaling")])
def test_bad_options(options, match):
    xs, ys, _, _ = small_problem()
    with pytest.raises(ConfigError, match=match):
        make_objective("otdd-exact", xs, ys, **options)


def broken(case):
    xs, ys, xt, yt = small_problem()
    xt = xt.detach()
    if case == "width":
        xt = xt[:, :5]
    elif case == "label length":
        yt = yt[:-1]
    elif case == "float labels":
        yt = yt.float()
    elif case == "integer features":
        xt = xt.long()
    elif case == "tokens":
        xt = xt[:, None, :]
    elif case == "nan":
        xt[3, 2] = math.nan
    elif case == "inf":
        xt[0, 0] = math.inf
    elif case == "singleton class":
        yt = yt.clone()
        yt[0] = 7
    return xs, ys, xt, yt


@pytest.mark.parametrize("name", ["otdd-exact", "l2"])
@pytest.mark.parametrize("case, match", [
    ("width", "features per sample"), ("label length", "shape"), ("float labels", "pseudo_labels"),
    ("integer features", "floating point"), ("tokens", "mean-pool"), ("nan", "NaN or inf"),
    ("inf", "NaN or inf"), ("singleton class", "fewer than 2 samples"),
])
def test_bad_target_inputs(name, case, match):
    xs, ys, xt, yt = broken(case)
    objective = make_objective(name, xs, ys)
    with pytest.raises(DataError, match=match):
        objective(xt, yt)


def test_bad_source_inputs():
    xs, ys, _, _ = small_problem()
    with pytest.raises(DataError, match="fewer than 2 samples"):
        make_objective("otdd-exact", xs[:41], ys[:41])  # class 2 keeps one sample
    with pytest.raises(DataError, match="NaN or inf"):
        make_objective("mmd", torch.full_like(xs, math.nan), ys)
