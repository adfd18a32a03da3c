"""lr_config policies: mmcv 1.x formulas checked against hand-computed values."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from minim.cls.engine.lr_schedule import build_lr_hook
from minim.errors import ConfigError


def fake_runner(max_epochs=10, iters_per_epoch=5, lr=0.1):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr)
    return SimpleNamespace(optimizer=optimizer, epoch=0, iter=0, max_epochs=max_epochs,
                           max_iters=max_epochs * iters_per_epoch, iters_per_epoch=iters_per_epoch)


def run_schedule(hook, runner, read):
    """``read(param_group)`` of every iteration as ``hook`` schedules it: list indexed by global iteration."""
    hook.before_run(runner)
    trace = []
    for epoch in range(runner.max_epochs):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        for _ in range(runner.iters_per_epoch):
            hook.before_train_iter(runner)
            trace.append(read(runner.optimizer.param_groups[0]))
            runner.iter += 1
    return trace


def lr_trace(lr_config, max_epochs=10, iters_per_epoch=5, by_epoch_runner=True):
    """lr used by every iteration: list indexed by global iteration."""
    return run_schedule(build_lr_hook(lr_config, by_epoch_runner), fake_runner(max_epochs, iters_per_epoch),
                        lambda group: group["lr"])


def at_epoch(trace, epoch, iters_per_epoch=5):
    return trace[epoch * iters_per_epoch + iters_per_epoch - 1]


def test_step_int_every_n_epochs_with_min_lr():
    trace = lr_trace(dict(policy="step", step=2, gamma=0.1, min_lr=0.005))
    assert [round(at_epoch(trace, e), 6) for e in range(6)] == [0.1, 0.1, 0.01, 0.01, 0.005, 0.005]


def test_step_milestones():
    trace = lr_trace(dict(policy="step", step=[3, 5]))
    expected = [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert [at_epoch(trace, e) for e in range(7)] == pytest.approx(expected)


def test_cosine_annealing_min_lr_and_ratio():
    trace = lr_trace(dict(policy="CosineAnnealing", min_lr=0.0))
    assert at_epoch(trace, 0) == pytest.approx(0.1)
    assert at_epoch(trace, 2) == pytest.approx(0.05 * (1 + math.cos(math.pi * 0.2)))  # 0.0904508
    assert at_epoch(trace, 5) == pytest.approx(0.05)
    ratio = lr_trace(dict(policy="CosineAnnealing", min_lr_ratio=0.1))
    assert at_epoch(ratio, 5) == pytest.approx(0.01 + 0.5 * 0.09)


def test_cosine_by_iteration():
    trace = lr_trace(dict(policy="CosineAnnealing", min_lr=0.0, by_epoch=False), max_epochs=4, iters_per_epoch=25)
    assert trace[0] == pytest.approx(0.1) and trace[50] == pytest.approx(0.05) and trace[25] == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))


def test_poly_and_exp():
    poly = lr_trace(dict(policy="poly", power=2.0, min_lr=0.001))
    assert at_epoch(poly, 5) == pytest.approx((0.1 - 0.001) * 0.25 + 0.001)  # 0.02575
    exp = lr_trace(dict(policy="exp", gamma=0.9))
    assert at_epoch(exp, 3) == pytest.approx(0.0729)


@pytest.mark.parametrize(
    "warmup, expected",
    [
        ("linear", [0.01, 0.0325, 0.055, 0.0775, 0.1]),  # lr * (1 - (1 - i/4) * 0.9)
        ("constant", [0.01, 0.01, 0.01, 0.01, 0.1]),
        ("exp", [0.01, 0.1 * 0.1**0.75, 0.1 * 0.1**0.5, 0.1 * 0.1**0.25, 0.1]),  # lr * ratio ** (1 - i/4)
    ],
)
def test_warmup_counted_in_iterations(warmup, expected):
    trace = lr_trace(dict(policy="step", step=[100], warmup=warmup, warmup_iters=4, warmup_ratio=0.1))
    assert trace[:5] == pytest.approx(expected)


def test_warmup_by_epoch_converts_epochs_to_iterations():
    trace = lr_trace(dict(policy="step", step=[100], warmup="linear", warmup_iters=1, warmup_ratio=0.1,
                          warmup_by_epoch=True), iters_per_epoch=5)
    assert trace[:6] == pytest.approx([0.01, 0.028, 0.046, 0.064, 0.082, 0.1])


def test_warmup_multiplies_the_by_iteration_schedule():
    trace = lr_trace(dict(policy="CosineAnnealing", min_lr=0.0, by_epoch=False, warmup="linear", warmup_iters=10,
                          warmup_ratio=0.5), max_epochs=4, iters_per_epoch=25)
    regular = 0.05 * (1 + math.cos(math.pi * 5 / 100))
    assert trace[5] == pytest.approx(regular * (1 - (1 - 5 / 10) * 0.5))


def test_initial_lr_is_kept_as_base_lr():
    hook = build_lr_hook(dict(policy="step", step=[1]), True)
    runner = fake_runner()
    runner.optimizer.param_groups[0]["initial_lr"] = 0.5  # e.g. restored from a resumed optimizer
    hook.before_run(runner)
    hook.before_train_epoch(runner)
    assert runner.optimizer.param_groups[0]["lr"] == 0.5


def test_leftover_key_names_key_and_suggests_delete():
    with pytest.raises(ConfigError) as info:
        build_lr_hook(dict(policy="CosineAnnealing", min_lr=0, step=[30, 60]), True)
    message = str(info.value)
    assert "'step'" in message and "_delete_=True" in message and "\n" not in message


@pytest.mark.parametrize(
    "cfg, words",
    [
        (dict(policy="CosineAnnealing", min_lr=0, min_lr_ratio=0.1), "exactly one of min_lr"),
        (dict(policy="CosineAnnealing"), "exactly one of min_lr"),
        (dict(policy="cosine", min_lr=0), "unknown lr_config.policy"),
        (dict(policy="step", step=[2], warmup="quadratic", warmup_iters=3), "warmup must be"),
        (dict(policy="step", step=[2], warmup="linear", warmup_iters=0), "warmup_iters must be > 0"),
        (dict(policy="step", step=0), "positive int"),
        (dict(step=[1]), "needs a 'policy'"),
    ],
)
def test_bad_lr_configs(cfg, words):
    with pytest.raises(ConfigError, match=words):
        build_lr_hook(cfg, True)


def test_by_epoch_defaults_to_the_runners_kind_and_true_needs_an_epoch_runner():
    assert build_lr_hook(dict(policy="step", step=[2]), runner_by_epoch=False).by_epoch is False  # as mmcv's
    assert build_lr_hook(dict(policy="step", step=[2]), runner_by_epoch=True).by_epoch is True  # IterBasedRunner
    with pytest.raises(ConfigError, match="by_epoch=False"):
        build_lr_hook(dict(policy="step", step=[2], by_epoch=True), runner_by_epoch=False)


def momentum_trace(momentum_config, optimizer="SGD", max_epochs=4, iters_per_epoch=5):
    """The momentum (SGD) or betas[0] (Adam) every iteration uses."""
    from minim.cls.engine.momentum_schedule import build_momentum_hook

    runner = fake_runner(max_epochs, iters_per_epoch)
    param = torch.nn.Parameter(torch.zeros(1))
    runner.optimizer = (torch.optim.SGD([param], lr=0.1, momentum=0.9) if optimizer == "SGD"
                        else torch.optim.Adam([param], lr=0.1, betas=(0.9, 0.999)))
    return run_schedule(build_momentum_hook(momentum_config), runner,
                        lambda group: group["momentum"] if optimizer == "SGD" else group["betas"][0])


def test_momentum_cosine_and_step_follow_mmcv():
    cosine = momentum_trace(dict(policy="CosineAnnealing", min_momentum_ratio=0.5), max_epochs=3)
    assert [cosine[e * 5] for e in range(3)] == pytest.approx(
        [0.9, 0.45 + 0.225 * (1 + math.cos(math.pi / 3)), 0.5625])  # mmcv's value in epoch 3 of 3: 0.5625
    step = momentum_trace(dict(policy="step", step=[1, 3], min_momentum=0.3))
    assert [step[e * 5] for e in range(4)] == pytest.approx([0.9, 0.45, 0.45, 0.3])
    adam = momentum_trace(dict(policy="step", step=2, gamma=0.9), optimizer="Adam")
    assert [adam[e * 5] for e in range(4)] == pytest.approx([0.9, 0.9, 0.81, 0.81])


def test_momentum_warmup_divides_the_regular_momentum():
    trace = momentum_trace(dict(policy="step", step=100, warmup="linear", warmup_iters=4, warmup_ratio=0.9))
    assert trace[:5] == pytest.approx([0.9 / 0.9, 0.9 / (1 - 0.75 * 0.1), 0.9 / (1 - 0.5 * 0.1),
                                       0.9 / (1 - 0.25 * 0.1), 0.9])


@pytest.mark.parametrize("cfg, words", [
    (dict(policy="cyclic"), "unknown momentum_config.policy 'cyclic'; minim knows: step, CosineAnnealing"),
    (dict(policy="CosineAnnealing"), "exactly one of min_momentum and min_momentum_ratio"),
    (dict(policy="step", step=2, min_lr=0.1), "momentum_config key 'min_lr' is not used"),
])
def test_bad_momentum_configs(cfg, words):
    from minim.cls.engine.momentum_schedule import build_momentum_hook

    with pytest.raises(ConfigError, match=words):
        build_momentum_hook(cfg)


def test_no_lr_config_means_constant_lr():
    assert build_lr_hook(None) is None
