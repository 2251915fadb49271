"""Properties every registered objective must have, table-driven over OBJECTIVES."""
import numpy as np
import pytest
import torch

from orca_engine.alignment import OBJECTIVES, make_objective
from alignment_problems import small_problem

NAMES = list(OBJECTIVES)
DEBIASED = ["otdd-exact", "otdd-gaussian", "mmd", "none"]  # zero on identical datasets by definition


def test_registry_lists_the_issue_names():
    assert set(NAMES) == {"otdd-exact", "otdd-gaussian", "mmd", "l2", "none"}
    assert tuple(OBJECTIVES) == OBJECTIVES.names()


@pytest.mark.parametrize("name", NAMES)
def test_each_record_names_an_objective_class_registered_under_its_own_name(name):
    from orca_engine.alignment import Objective
    cls = OBJECTIVES.get(name).cls  # the record is torch-free; the class is imported here
    assert issubclass(cls, Objective) and cls.name == name


@pytest.mark.parametrize("name", NAMES)
def test_scalar_non_negative_with_finite_gradient(name):
    xs, ys, xt, yt = small_problem()
    loss = make_objective(name, xs, ys)(xt, yt)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert float(loss) >= -1e-4
    loss.backward()
    assert xt.grad is not None and torch.isfinite(xt.grad).all()
    if name != "none":
        assert float(xt.grad.abs().sum()) > 0


@pytest.mark.parametrize("name", DEBIASED)
def test_about_zero_for_identical_datasets(name):
    """ORCA compares each target class with the whole labelled source, so "identical" means one class."""
    xs, ys, xt, yt = small_problem()
    xs, ys = xs[ys == 0], ys[ys == 0]
    objective = make_objective(name, xs, ys)
    same = float(objective(xs.clone(), ys))
    different = float(objective(xt, yt))
    assert abs(same) <= 1e-3 * max(different, 1e-6) + 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_invariant_to_sample_order(name):
    xs, ys, xt, yt = small_problem()
    g = torch.Generator().manual_seed(0)
    ps, pt = torch.randperm(len(xs), generator=g), torch.randperm(len(xt), generator=g)
    a = float(make_objective(name, xs, ys)(xt, yt))
    b = float(make_objective(name, xs[ps], ys[ps])(xt[pt], yt[pt]))
    assert a == pytest.approx(b, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_single_target_class_and_bf16_inputs(name):
    xs, ys, xt, yt = small_problem()
    objective = make_objective(name, xs, ys)
    one_class = objective(xt, torch.zeros_like(yt))
    assert torch.isfinite(one_class)
    half = objective(xt.detach().bfloat16().requires_grad_(), yt)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    assert float(half) == pytest.approx(float(objective(xt, yt)), rel=5e-2, abs=1e-3)


@pytest.mark.parametrize("name", NAMES)
def test_objective_maths_stays_fp32_inside_a_bf16_autocast_region(name):
    xs, ys, xt, yt = small_problem()
    objective = make_objective(name, xs, ys)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = objective(xt, yt)
        matrix = objective.class_distances(xt, yt)
    assert inside.dtype == torch.float32
    assert float(inside) == pytest.approx(float(objective(xt, yt)), rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(matrix, objective.class_distances(xt, yt), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_class_distances_shape_order_and_no_gradient(name):
    xs, ys, xt, yt = small_problem()
    yt = yt * 3 + 5  # arbitrary class ids: rows follow sorted unique labels
    objective = make_objective(name, xs, ys + 2)
    matrix = objective.class_distances(xt, yt)
    assert isinstance(matrix, np.ndarray) and matrix.shape == (2, 3)
    assert np.isfinite(matrix).all() and (matrix >= -1e-4).all()
    assert list(objective.target_classes(yt)) == [5, 8] and list(objective.source_classes) == [2, 3, 4]
    assert xt.grad is None


@pytest.mark.parametrize("name", ["otdd-exact", "otdd-gaussian", "mmd", "l2"])
def test_class_distances_find_the_matching_class(name):
    """A target class drawn from source class 1 is closest to column 1."""
    xs, ys, _, _ = small_problem()
    xt = xs[ys == 1][:12] + 0.05
    matrix = make_objective(name, xs, ys).class_distances(xt, torch.zeros(12, dtype=torch.long))
    assert matrix[0].argmin() == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name):
    xs, ys, xt, yt = small_problem()
    cpu = float(make_objective(name, xs, ys)(xt, yt))
    gpu = make_objective(name, xs.cuda(), ys.cuda())(xt.detach().cuda().requires_grad_(), yt.cuda())
    assert gpu.device.type == "cuda" and float(gpu) == pytest.approx(cpu, rel=1e-3, abs=1e-5)
