"""The alignment stage's live-view features: a snapshot of the embedder, run off the training thread."""
import threading
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from orca_engine.stages.align import _Probe


class Embedder(nn.Module):
    """(B, 4) -> (B, 3, 6) tokens, with dropout and a buffer, like the real embedders."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 6)
        self.dropout = nn.Dropout(0.5)
        self.register_buffer("position", torch.randn(3, 6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.linear(x)[:, None, :] + self.position)


def probe_for(x: torch.Tensor) -> _Probe:
    probe = _Probe.__new__(_Probe)  # only the projection sample matters here
    probe.proj_x, probe._shadow = x, None
    return probe


def test_deferred_features_are_the_embedder_at_submit_time_without_dropout_in_another_thread():
    torch.manual_seed(0)
    model = SimpleNamespace(embedder=Embedder().train())  # alignment trains in train mode
    x = torch.randn(10, 4)
    probe = probe_for(x)
    features = probe.deferred_projection_features(model)
    model.embedder.eval()
    with torch.no_grad():
        expected = model.embedder(x).mean(dim=1).numpy()
        model.embedder.train()
        model.embedder.linear.weight.add_(1.0)  # a later alignment step
        model.embedder.position.add_(1.0)
    results = []
    thread = threading.Thread(target=lambda: results.append(features()))
    thread.start()
    thread.join(10)
    np.testing.assert_allclose(results[0], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(features(), results[0])  # deterministic: dropout is off
    assert model.embedder.training, "the live model's mode must not change"
    later = probe.deferred_projection_features(model)()  # a new snapshot sees the new weights
    assert not np.allclose(later, expected)
