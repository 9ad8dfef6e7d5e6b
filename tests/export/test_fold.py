import torch

from sqz.export.fold import fold_batchnorm
from sqz.train.model import ArchConfig, build


def test_folding_batchnorm_keeps_the_outputs():
    torch.manual_seed(0)
    model = build(ArchConfig(num_classes=10, in_channels=1, batch_norm=True))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 32, 32))
    model.eval()
    plain = fold_batchnorm(model)
    assert not plain.cfg.batch_norm
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), plain(x), atol=1e-4)
