import copy

import torch

from sqz.train.arch import ArchConfig
from sqz.train.distill import distillation
from sqz.train.model import build


def test_distillation_is_zero_for_the_teacher_itself_and_pulls_a_student_toward_it():
    torch.manual_seed(0)
    teacher = build(ArchConfig(num_classes=10, in_channels=1)).eval()
    torch.nn.init.normal_(teacher.classifier[1].weight, 0.0, 0.5)
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    twin = copy.deepcopy(teacher)
    pure = distillation(teacher, alpha=1.0)
    assert pure(twin(x), x, y).item() < 1e-6
    student = torch.randn(8, 10, requires_grad=True)
    loss = pure(student, x, y)
    assert loss.item() > 0.01
    loss.backward()
    stepped = (student - 10 * student.grad).detach()
    assert pure(stepped, x, y).item() < loss.item()
    assert all(not p.requires_grad for p in teacher.parameters())
