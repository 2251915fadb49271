"""Small labelled problems shared by the alignment tests (seconds, not minutes, on 2 cores)."""
import torch


def clusters(n_per_class: int, n_classes: int, dim: int, *, spread: float = 2.0, seed: int = 0):
    """Gaussian clouds around random centres: features (n, dim) float32, labels (n,) int64."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_classes, dim, generator=g) * spread
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    features = centres[labels] + torch.randn(len(labels), dim, generator=g)
    return features, labels


def small_problem():
    """Source: 3 classes x 20 in 8-D; target: 2 classes x 12, shifted and shrunk, requires_grad."""
    xs, ys = clusters(20, 3, 8, seed=0)
    xt, yt = clusters(12, 2, 8, seed=1)
    return xs, ys, (xt * 0.7 + 0.5).requires_grad_(), yt
