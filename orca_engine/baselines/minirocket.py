"""MiniRocket (Dempster, Schmidt and Webb, KDD 2021): random-free convolutional features + ridge.

A fixed set of 84 kernels of length 9 (weights -1, with +2 at three of the nine positions),
applied at dilations spread exponentially up to the series length. Each (kernel, dilation) has
biases drawn from quantiles of its own output on a random training series; each feature is the
proportion of positive values (PPV) of `conv(x) - bias`. Half the (kernel, dilation) pairs use
zero padding ("same" output), half only the valid part. About 10,000 features feed a ridge
classifier (or regressor) whose penalty is chosen by leave-one-out on the training split.

Multichannel series: each (kernel, dilation) sums its convolution over a random subset of
channels, as in MiniRocketMultivariate. This is our implementation in torch (the reference
implementation needs numba and a library whose pins do not fit ours); the maths follows the
paper and the authors' code, and the tests check its invariants.

    features = MiniRocket(seed=0).fit(x_train).transform(x)      # x (N, C, L) -> (N, ~9996)
"""
from __future__ import annotations

import itertools
import time

import numpy as np
import torch

from .neighbors import _score
from .result import BaselineResult

KERNEL_LENGTH = 9
NUM_FEATURES = 10_000
MAX_DILATIONS = 32
RIDGE_ALPHAS = np.logspace(-3, 3, 10)
CHUNK = 32  # series per transform block: bounded memory on long series
# (84, 3): positions of the three +2 weights of each kernel
KERNEL_INDICES = np.array(list(itertools.combinations(range(KERNEL_LENGTH), 3)), dtype=np.int64)


def kernel_weights() -> torch.Tensor:
    """(84, 1, 9): -1 everywhere, +2 at each kernel's three positions."""
    w = -torch.ones(len(KERNEL_INDICES), 1, KERNEL_LENGTH)
    for k, positions in enumerate(KERNEL_INDICES):
        w[k, 0, positions] = 2.0
    return w


def dilations_for(length: int, num_features: int = NUM_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Dilations spread exponentially over the series length, and features (biases) per dilation."""
    per_kernel = num_features // len(KERNEL_INDICES)
    true_max = min(per_kernel, MAX_DILATIONS)
    multiplier = per_kernel / true_max
    max_exponent = np.log2(max(1.0, (length - 1) / (KERNEL_LENGTH - 1)))
    dilations, counts = np.unique(np.logspace(0, max_exponent, true_max, base=2).astype(np.int64),
                                  return_counts=True)
    counts = (counts * multiplier).astype(np.int64)
    remainder, i = per_kernel - counts.sum(), 0
    while remainder > 0:
        counts[i] += 1
        remainder -= 1
        i = (i + 1) % len(counts)
    return dilations, counts


def golden_quantiles(n: int) -> np.ndarray:
    """A low-discrepancy sequence in (0, 1): fractional parts of k * golden ratio."""
    return ((np.arange(1, n + 1) * ((np.sqrt(5) + 1) / 2)) % 1).astype(np.float32)


class MiniRocket:
    """The MiniRocket transform. `fit` draws biases (and channel subsets) from the training data."""

    def __init__(self, num_features: int = NUM_FEATURES, seed: int = 0):
        self.num_features, self.seed = num_features, seed
        self.weights = kernel_weights()

    def fit(self, x: np.ndarray) -> "MiniRocket":
        """x: (N, C, L) float training series."""
        n, channels, length = x.shape
        rng = np.random.default_rng(self.seed)
        self.dilations, self.counts = dilations_for(length, self.num_features)
        quantiles = golden_quantiles(len(KERNEL_INDICES) * int(self.counts.sum()))
        self.channel_masks, self.biases = [], []
        offset = 0
        for d_index, dilation in enumerate(self.dilations):
            mask = _channel_subsets(channels, rng)  # (84, C) 0/1
            picks = rng.integers(n, size=len(KERNEL_INDICES))
            conv = self._conv(torch.as_tensor(x[picks], dtype=torch.float32), int(dilation), mask)  # (84, 84, L)
            own = conv[np.arange(len(KERNEL_INDICES)), np.arange(len(KERNEL_INDICES))]  # kernel k on series k
            count = int(self.counts[d_index])
            q = quantiles[offset:offset + len(KERNEL_INDICES) * count].reshape(-1, count)  # (84, count)
            own = own.numpy()
            biases = np.stack([np.quantile(own[k], q[k]) for k in range(len(KERNEL_INDICES))])
            self.biases.append(torch.as_tensor(biases, dtype=torch.float32))  # (84, count)
            self.channel_masks.append(mask)
            offset += len(KERNEL_INDICES) * count
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """(N, C, L) -> (N, F) proportions of positive values, F = 84 * sum(counts)."""
        blocks = []
        for start in range(0, len(x), CHUNK):
            xb = torch.as_tensor(x[start:start + CHUNK], dtype=torch.float32)
            parts = []
            for d_index, dilation in enumerate(self.dilations):
                conv = self._conv(xb, int(dilation), self.channel_masks[d_index])  # (B, 84, L)
                pad = (KERNEL_LENGTH - 1) * int(dilation) // 2
                ppv = torch.empty(len(xb), len(KERNEL_INDICES), int(self.counts[d_index]))  # (B, 84, count)
                for parity in (0, 1):  # alternate "same" and valid-only outputs, as the paper does
                    kernels = np.flatnonzero((d_index + np.arange(len(KERNEL_INDICES))) % 2 == parity)
                    out = conv[:, kernels]
                    if parity == 1 and pad > 0 and out.shape[-1] > 2 * pad:
                        out = out[..., pad:-pad]
                    biases = self.biases[d_index][kernels].unsqueeze(1)  # (k, 1, count)
                    ppv[:, kernels] = (out.unsqueeze(-1) > biases).float().mean(dim=2)
                parts.append(ppv.reshape(len(xb), -1))
            blocks.append(torch.cat(parts, dim=1).numpy())
        return np.concatenate(blocks) if blocks else np.zeros((0, 0), dtype=np.float32)

    def _conv(self, x: torch.Tensor, dilation: int, mask: np.ndarray) -> torch.Tensor:
        """(B, C, L) -> (B, 84, L): every kernel at `dilation`, "same" zero padding, summed over the
        kernel's channel subset."""
        b, c, length = x.shape
        pad = (KERNEL_LENGTH - 1) * dilation // 2
        per_channel = torch.nn.functional.conv1d(x.reshape(b * c, 1, length), self.weights, padding=pad,
                                                 dilation=dilation)  # (B*C, 84, L)
        per_channel = per_channel.reshape(b, c, len(KERNEL_INDICES), -1)
        return torch.einsum("bckl,kc->bkl", per_channel, torch.as_tensor(mask, dtype=torch.float32))


def _channel_subsets(channels: int, rng: np.random.Generator) -> np.ndarray:
    """(84, C) 0/1: which channels each kernel sums over (all of them for one channel)."""
    mask = np.zeros((len(KERNEL_INDICES), channels), dtype=np.float32)
    if channels == 1:
        mask[:] = 1.0
        return mask
    limit = min(channels, KERNEL_LENGTH)
    for k in range(len(KERNEL_INDICES)):
        size = int(2 ** rng.uniform(0, np.log2(limit + 1)))
        size = max(1, min(channels, size))
        mask[k, rng.choice(channels, size=size, replace=False)] = 1.0
    return mask


def minirocket_seconds(dataset) -> float:
    """Estimated cost: the transform of every split (the ridge fit is small beside it)."""
    n = len(dataset.x_train) + len(dataset.x_val) + len(dataset.x_test)
    _, channels, length = dataset.x_train.shape
    return n * channels * length * 84 * 32 * 9 / 4e9 + n * length * NUM_FEATURES / 2e9


def minirocket(dataset, seed: int = 0) -> BaselineResult:
    """MiniRocket features + ridge (classifier or regressor), penalty by leave-one-out on train."""
    from sklearn.linear_model import RidgeClassifierCV, RidgeCV
    from sklearn.preprocessing import StandardScaler
    started = time.perf_counter()
    transform = MiniRocket(seed=seed).fit(dataset.x_train)
    scaler = StandardScaler().fit(transform.transform(dataset.x_train))
    feats = {s: scaler.transform(transform.transform(dataset.split(s)[0])) if len(dataset.split(s)[0]) else None
             for s in ("train", "val", "test")}
    task = dataset.task
    y_train = np.asarray(dataset.y_train)
    if task == "classification":
        model = RidgeClassifierCV(alphas=RIDGE_ALPHAS).fit(feats["train"], y_train)
        predict = model.predict
    else:
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit(feats["train"], y_train.reshape(len(y_train), -1))
        predict = lambda f: model.predict(f).reshape(len(f), *y_train.shape[1:])  # noqa: E731
    scores = {s: _score(dataset, predict(feats[s]), dataset.split(s)[1]) if feats[s] is not None else {}
              for s in ("val", "test")}
    return BaselineResult("MiniRocket", "alpha", float(model.alpha_), scores["val"], scores["test"], {},
                          time.perf_counter() - started, len(y_train))
