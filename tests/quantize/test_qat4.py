"""4-bit fake-quant with a straight-through estimator, baking, and the `mixed` layer choice."""

import numpy as np
import pytest
import torch
from torch import nn

from sqz.quantize import qat4
from sqz.quantize.qgraph import weights


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Conv2d(4, 8, 1),
        nn.ReLU(),
        nn.Conv2d(8, 3, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


def test_fake_quant_has_15_levels_per_channel_and_a_straight_through_gradient():
    w = torch.randn(6, 5, 3, 3, requires_grad=True)
    q = qat4.fake_quant4(w)
    for c in range(6):
        levels = torch.unique(torch.round(q[c] / (w[c].abs().max() / 7)))
        assert len(levels) <= 15 and levels.abs().max() <= 7
    q.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))


def test_qat_bakes_weights_onto_the_grid_the_int4_pass_rebuilds():
    net = _net()
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 3, (64,))
    qat4.qat4(net, list(qat4.convs(net)), x, y, torch.zeros(1), epochs=1)
    for m in qat4.convs(net).values():
        assert not hasattr(m, "parametrizations")
        w = m.weight.detach().numpy()
        q, scale = weights(w, 4)
        np.testing.assert_allclose(q * scale.reshape(-1, 1, 1, 1), w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("flip", [False, True])
def test_qat_mirrors_only_when_the_run_did(flip, monkeypatch):
    from sqz.train import finetune as finetune_mod

    calls = []
    real = finetune_mod.random_flip
    monkeypatch.setattr(finetune_mod, "random_flip", lambda x, gen: calls.append(len(x)) or real(x, gen))
    net = _net()
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 3, (64,))
    qat4.qat4(net, list(qat4.convs(net)), x, y, torch.zeros(1), epochs=1, flip=flip)
    assert bool(calls) is flip


def test_mixed_keeps_the_costliest_layer_per_byte_at_int8():
    net = _net()
    names = list(qat4.convs(net))
    sens = qat4.sensitivity(net, torch.randn(32, 1, 8, 8))
    assert set(sens) == set(names) and all(v >= 0 for v in sens.values())
    # the first conv (36 weights) made costly, the others cheap: it stays int8
    chosen = qat4.choose_mixed(net, {names[0]: 1.0, names[1]: 1e-4, names[2]: 1e-4}, share=0.5)
    assert names[0] not in chosen and names[1] in chosen
