import pytest
import torch

from sqz.compress.prune import GradualPruner, cubic_schedule, global_masks, prunable, sparsity_of
from sqz.compress.share import WeightSharer, distinct_values, kmeans_1d
from sqz.errors import InputError
from sqz.train import checkpoint
from sqz.train.evaluate import evaluate
from sqz.train.finetune import finetune
from sqz.train.memory import to_tensor


def test_cubic_schedule_reaches_the_target_and_is_monotone():
    values = [cubic_schedule(s, 100, 0.6) for s in range(101)]
    assert values[0] == 0 and values[-1] == pytest.approx(0.6)
    assert all(a <= b for a, b in zip(values, values[1:]))


def test_global_masks_keep_the_largest_weights():
    ws = [torch.tensor([0.1, -5.0, 0.2]), torch.tensor([3.0, -0.05, 0.3, 0.4])]
    masks = global_masks(ws, 3 / 7)
    assert [m.tolist() for m in masks] == [[False, True, False], [True, False, True, True]]


def test_kmeans_shares_at_most_k_values():
    values = torch.randn(5000)
    centroids, assign = kmeans_1d(values, 16)
    assert centroids.numel() == 16 and assign.max() < 16
    assert (centroids[assign] - values).abs().mean() < 0.1


@pytest.fixture(scope="module")
def finetune_data(small_dataset):
    pre = small_dataset.preprocess
    x, y = to_tensor(small_dataset.train.take(list(range(1000))), pre)
    xt, yt = to_tensor(small_dataset.test, pre)
    fill = torch.tensor([-pre.mean[0] / pre.std[0]])
    return x, y, xt, yt, fill


def test_gradual_pruning_reaches_its_sparsity_and_keeps_learning(tiny_run, finetune_data):
    x, y, xt, yt, fill = finetune_data
    model, _ = checkpoint.load(tiny_run / "model.pt")
    before = evaluate(model, xt, yt)[1]
    pruner = GradualPruner(model, 0.5, every=5)
    finetune(model, x, y, fill, epochs=1, lr=3e-4, after_step=pruner, progress=False)
    assert sparsity_of(model) == pytest.approx(0.5, abs=0.005)
    first = model.features[0][0].weight
    assert (first != 0).all(), "conv1 stays dense"
    assert evaluate(model, xt, yt)[1] > before - 0.15
    with pytest.raises(InputError):
        GradualPruner(model, 1.0)


def test_weight_sharing_leaves_at_most_2_to_the_b_values(tiny_run, finetune_data):
    x, y, xt, yt, fill = finetune_data
    model, _ = checkpoint.load(tiny_run / "model.pt")
    pruner = GradualPruner(model, 0.3, every=5)
    finetune(model, x, y, fill, epochs=1, after_step=pruner, progress=False)
    zeros = [(w == 0).clone() for w in prunable(model)]
    sharer = WeightSharer(model, 4)
    finetune(model, x, y, fill, epochs=1, after_step=sharer, progress=False)
    assert max(distinct_values(model)) <= 16
    assert all(torch.equal(z, w == 0) for z, w in zip(zeros, prunable(model))), "pruned zeros stay zero"
    assert evaluate(model, xt, yt)[1] > 0.3
