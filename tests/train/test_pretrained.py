"""`--init`: torchvision's own SqueezeNet and sqz checkpoints map onto sqz's model exactly, or are refused."""

import numpy as np
import pytest
import torch

from sqz.errors import ModelFileError
from sqz.runtime.preprocess import Preprocess
from sqz.train import checkpoint, pretrained
from sqz.train.arch import ArchConfig
from sqz.train.data import Dataset, Split
from sqz.train.model import Fire, build


def _torchvision_models():
    """torchvision.models. The PyPI wheel's C++ ops are built for CUDA torch and do not load beside the CPU
    build, and torchvision then fails on two unguarded op registrations; a schema stub for them lets it
    import (SqueezeNet uses no torchvision op)."""
    try:
        import torchvision
    except RuntimeError as exc:
        if "does not exist" not in str(exc):
            raise
        for name in ("nms", "qnms"):
            torch.library.define(f"torchvision::{name}", "(Tensor dets, Tensor scores, float th) -> Tensor")
        import torchvision
    return torchvision.models


def _torchvision_net(version: str, seed: int = 0):
    torch.manual_seed(seed)
    models = _torchvision_models()
    net = {"1.0": models.squeezenet1_0, "1.1": models.squeezenet1_1}[version](weights=None)
    with torch.no_grad():  # random, larger biases so that no layer is trivially zero
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.05)
    return net.eval()


def _saved(net, tmp_path, name="squeezenet.pth"):
    path = tmp_path / name
    torch.save(net.state_dict(), path)
    return str(path)


def _arch(version, classes=1000, **kw):
    return ArchConfig.named(version, num_classes=classes, in_channels=3, batch_norm=False, **kw)


def _classes(k):
    return tuple(f"c{i}" for i in range(k))


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_torchvision_weights_give_torchvisions_logits(version, tmp_path):
    tv = _torchvision_net(version)
    ours = pretrained.start(_arch(version), _saved(tv, tmp_path), _classes(1000)).eval()
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = tv(x), ours(x)
    assert (want > 0).sum() > 500, "logits mostly zero: the comparison would prove little"
    assert (got - want).abs().max().item() <= 1e-5
    assert len(pretrained.sqz_names(ours)) == len(tv.state_dict()) == 52


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_k_classes_keep_the_features_and_get_a_new_classifier(version, tmp_path):
    tv = _torchvision_net(version)
    ours = pretrained.start(_arch(version, 10), _saved(tv, tmp_path), _classes(10)).eval()
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (ours.features(x) - tv.features(x)).abs().max().item() <= 1e-5
        assert ours(x).shape == (2, 10)
    assert ours.classifier[1].weight.shape == (10, 512, 1, 1)
    assert ours.classifier[1].weight.std().item() == pytest.approx(0.01, rel=0.3)


def test_batch_norm_on_when_asked_still_takes_every_convolution(tmp_path):
    tv = _torchvision_net("1.1")
    ours = pretrained.start(
        ArchConfig.named("1.1", num_classes=10, in_channels=3, batch_norm=True), _saved(tv, tmp_path), _classes(10)
    )
    assert torch.equal(ours.features[5].expand3x3[0].weight, tv.features[6].expand3x3.weight)
    assert pretrained.resolve_batch_norm(None, _saved(tv, tmp_path)) is False
    assert pretrained.resolve_batch_norm(True, _saved(tv, tmp_path)) is True
    assert pretrained.resolve_batch_norm(None, "") is True


def test_freeze_features_leaves_only_the_classifier_trainable(tmp_path):
    ours = pretrained.start(
        _arch("1.1", 5), _saved(_torchvision_net("1.1"), tmp_path), _classes(5), freeze_features=True
    )
    trainable = {n for n, p in ours.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.1.weight", "classifier.1.bias"}


def test_an_sqz_checkpoint_restarts_with_its_classifier_only_for_the_same_classes(tmp_path):
    torch.manual_seed(3)
    src = build(ArchConfig.named("1.1", num_classes=4, in_channels=1, batch_norm=True)).eval()
    pre = Preprocess(size=32, content=28, channels=1)
    checkpoint.save(tmp_path / "model.pt", src, pre, _classes(4), {})
    path = str(tmp_path / "model.pt")
    assert pretrained.resolve_batch_norm(None, path) is True
    same = pretrained.start(src.cfg, path, _classes(4)).eval()
    x = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(same(x), src(x))
    other = pretrained.start(src.cfg, path, ("a", "b", "c", "d")).eval()
    assert torch.equal(other.features[0][0].weight, src.features[0][0].weight)
    assert not torch.equal(other.classifier[1].weight, src.classifier[1].weight)


def test_preprocessing_switches_to_imagenet_and_three_channels(tmp_path):
    path = _saved(_torchvision_net("1.1"), tmp_path)
    grey = np.arange(4 * 28 * 28, dtype=np.int64).reshape(4, 28, 28, 1).astype(np.uint8)
    ds = Dataset(
        "g",
        Split(grey, np.array([0, 1, 0, 1])),
        Split(grey[:2], np.array([0, 1])),
        ("a", "b"),
        Preprocess(size=32, content=28, channels=1),
    )
    out = pretrained.adapt(ds, path)
    assert out.preprocess == Preprocess(
        size=32, content=28, channels=3, mean=pretrained.IMAGENET_MEAN, std=pretrained.IMAGENET_STD
    )
    assert out.train.x.shape == (4, 28, 28, 3) and np.array_equal(out.train.x[..., 2], grey[..., 0])
    assert ds.train.x.shape[-1] == 1 and pretrained.adapt(ds, "") is ds


@pytest.mark.parametrize(
    "case,match",
    [
        ("version", "holds SqueezeNet 1.0, not 1.1; train with --arch 1.0"),
        ("shapes", "in the file but"),
        ("missing", "not a complete torchvision SqueezeNet 1.1 state dict .*missing \\['features.12.expand3x3.bias'"),
        ("other dict", "not torchvision's SqueezeNet"),
        ("list", "neither a torchvision SqueezeNet state dict nor an sqz checkpoint"),
        ("text", "not a readable torch file"),
        ("absent", "no such file"),
    ],
)
def test_unusable_files_are_refused_with_one_clear_line(case, match, tmp_path):
    tv11 = _torchvision_net("1.1").state_dict()
    path = tmp_path / "init.pth"
    arch = _arch("1.1", 10)
    if case == "version":
        torch.save(_torchvision_net("1.0").state_dict(), path)
    elif case == "shapes":
        torch.save(tv11, path)
        arch = _arch("1.1", 10, base_e=96, incr_e=96)
    elif case == "missing":
        torch.save({k: v for k, v in tv11.items() if k != "features.12.expand3x3.bias"}, path)
    elif case == "other dict":
        torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    elif case == "list":
        torch.save([torch.zeros(1)], path)
    elif case == "text":
        path.write_text("not weights")
    with pytest.raises(ModelFileError, match=match) as err:
        pretrained.start(arch, str(path), _classes(10))
    assert "\n" not in str(err.value)


def test_fire_positions_match_torchvisions_modules():
    for version, positions in pretrained.TORCHVISION_FIRES.items():
        tv = _torchvision_net(version)
        assert tuple(i for i, m in enumerate(tv.features) if type(m).__name__ == "Fire") == positions
        ours = build(_arch(version))
        assert sum(isinstance(m, Fire) for m in ours.features) == len(positions)


def test_training_from_torchvision_records_imagenet_input_and_a_linear_probe(tmp_path, small_dataset):
    from sqz.train.loop import TrainConfig, train

    tv = _torchvision_net("1.1")
    path = _saved(tv, tmp_path)
    record = train(
        TrainConfig(out=str(tmp_path / "run"), epochs=1, batch_size=32, limit=64, init=path, freeze_features=True),
        dataset=small_dataset,
        progress=False,
    )
    model, payload = checkpoint.load(tmp_path / "run" / "model.pt")
    pre = Preprocess.from_dict(payload["preprocess"])
    assert pre.channels == 3 and pre.mean == pretrained.IMAGENET_MEAN and pre.std == pretrained.IMAGENET_STD
    assert record["config"]["batch_norm"] is False and record["config"]["init"] == path
    assert not model.cfg.batch_norm and model.cfg.in_channels == 3 and model.cfg.num_classes == 10
    assert torch.equal(model.features[11].expand3x3[0].weight, tv.features[12].expand3x3.weight)
    torch.manual_seed(0)  # the run's seed: its model before the first step
    before = pretrained.start(model.cfg, path, small_dataset.classes)
    assert not torch.equal(model.classifier[1].weight, before.classifier[1].weight)


def test_freeze_features_without_init_is_refused(small_dataset, tmp_path):
    from sqz.errors import InputError
    from sqz.train.loop import TrainConfig, train

    with pytest.raises(InputError, match="give --init FILE"):
        train(
            TrainConfig(out=str(tmp_path / "run"), epochs=1, limit=32, freeze_features=True),
            dataset=small_dataset,
            progress=False,
        )


def test_a_pruned_checkpoint_brings_its_widths_to_a_run_at_another_size(tmp_path, small_dataset):
    """A pruned sqz model (explicit fire widths, no flags) continues at a new input size as it is; given
    metaparameters are the user's and are then checked against the file."""
    from sqz.train.loop import TrainConfig, train

    torch.manual_seed(4)
    widths = (
        (8, 16, 8),
        (8, 16, 8),
        (16, 24, 24),
        (16, 32, 24),
        (24, 40, 40),
        (24, 48, 40),
        (32, 64, 48),
        (32, 64, 64),
    )
    src = build(ArchConfig.named("1.1", num_classes=10, in_channels=1, widths=widths)).eval()
    checkpoint.save(tmp_path / "pruned.pt", src, Preprocess(size=64, content=64, channels=1), small_dataset.classes, {})
    path = str(tmp_path / "pruned.pt")
    assert pretrained.shape_of(path)["widths"] == widths and pretrained.shape_of("") == {}
    train(
        TrainConfig(out=str(tmp_path / "run"), epochs=1, batch_size=32, limit=64, init=path),
        dataset=small_dataset,
        progress=False,
    )
    model, payload = checkpoint.load(tmp_path / "run" / "model.pt")
    assert model.cfg.widths == widths and payload["preprocess"]["size"] == 32
    with pytest.raises(ModelFileError, match="train with the file's architecture"):
        train(
            TrainConfig(
                out=str(tmp_path / "run2"), epochs=1, batch_size=32, limit=64, init=path, metaparameters={"base_e": 64}
            ),
            dataset=small_dataset,
            progress=False,
        )
