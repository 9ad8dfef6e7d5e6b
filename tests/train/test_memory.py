"""In-memory data: `Images` reads exactly what `to_tensor` makes, from uint8."""

import numpy as np
import pytest
import torch

from sqz.train.memory import Images, as_images, to_tensor


def test_images_read_as_the_normalised_tensor(small_dataset):
    split, pre = small_dataset.test, small_dataset.preprocess
    full, y = to_tensor(split, pre)
    lazy, y2 = as_images(split, pre)
    assert lazy.x.dtype == np.uint8 and len(lazy) == len(full) and torch.equal(y, y2)
    assert torch.equal(lazy[10:74], full[10:74]) and torch.equal(lazy[:0], full[:0])
    idx = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))[:33]
    assert torch.equal(lazy[idx], full[idx])
    with pytest.raises(TypeError):
        Images(split.x, pre)[3]
