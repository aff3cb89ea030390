"""Optimisers and learning-rate schedules: the LR at given epochs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from workbench.errors import ConfigError
from workbench.training.optim import (
    CosineRestartSchedule,
    build_optimizer,
    build_scheduler,
    cosine_restart_factor,
)


def _params():
    return [torch.nn.Parameter(torch.zeros(2))]


def _epoch_lrs(optimizer, scheduler, n):
    lrs = []
    for _ in range(n):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_cosine_restarts_at_10_30_70_150():
    opt = build_optimizer(_params(), "adam", 5e-4)
    lrs = _epoch_lrs(opt, CosineRestartSchedule(opt, (10, 30, 70, 150)), 160)
    restarts = [0, 10, 30, 70, 150]
    for e in restarts:
        assert lrs[e] == pytest.approx(5e-4, rel=1e-12), e
    # strictly decreasing inside every cycle, jumping back up exactly at the restarts
    for a, b in zip(restarts, restarts[1:], strict=False):
        cycle = lrs[a:b]
        assert all(x > y for x, y in zip(cycle, cycle[1:], strict=False)), (a, b)
        assert lrs[b - 1] < 0.03 * 5e-4 and lrs[b] > lrs[b - 1]
        assert lrs[a + (b - a) // 2] == pytest.approx(0.5 * 5e-4, rel=1e-9)  # half way
    increases = [e for e in range(1, 160) if lrs[e] > lrs[e - 1]]
    assert increases == [10, 30, 70, 150]
    # the same curve as torch's SGDR with T_0 = 10, T_mult = 2 (cycles 10, 20, 40, 80)
    opt2 = build_optimizer(_params(), "adam", 5e-4)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt2, T_0=10, T_mult=2)
    assert lrs[:150] == pytest.approx(_epoch_lrs(opt2, ref, 150), rel=1e-9, abs=1e-15)


def test_cosine_restart_factor_and_floor():
    assert cosine_restart_factor(0, (4,)) == 1.0
    assert cosine_restart_factor(2, (4,)) == pytest.approx(0.5)
    assert cosine_restart_factor(2, (4,), eta_min_ratio=0.2) == pytest.approx(0.6)
    assert cosine_restart_factor(6, (4,)) == pytest.approx(0.5)  # the last cycle repeats
    with pytest.raises(ConfigError, match="scheduler.restarts"):
        CosineRestartSchedule(build_optimizer(_params(), "adam", 1e-3), (10, 5))


def test_schedule_state_round_trip_resumes_the_curve():
    opt = build_optimizer(_params(), "sgd", 0.01)
    sched = CosineRestartSchedule(opt, (3, 9))
    _epoch_lrs(opt, sched, 5)
    state = sched.state_dict()
    # as Lightning resumes: build both, then load the optimiser's and the scheduler's states
    opt2 = build_optimizer(_params(), "sgd", 0.01)
    sched2 = CosineRestartSchedule(opt2, (3, 9))
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(state)
    assert _epoch_lrs(opt2, sched2, 4) == pytest.approx(_epoch_lrs(opt, sched, 4))


def test_optimizers_of_the_papers():
    sgd = build_optimizer(_params(), "sgd", 0.01)
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == 0.9 and sgd.defaults["weight_decay"] == 1e-4
    adam = build_optimizer(_params(), "adam", 5e-4, weight_decay=0.0)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 5e-4
    with pytest.raises(ConfigError, match="optimizer.name"):
        build_optimizer(_params(), "lamb", 0.1)
    with pytest.raises(ConfigError, match="optimizer.lr"):
        build_optimizer(_params(), "sgd", -1.0)


def test_reduce_on_plateau_halves_after_patience():
    opt = build_optimizer(_params(), "sgd", 1e-3)
    cfg = build_scheduler(opt, "plateau", monitor="val_loss")
    assert cfg["monitor"] == "val_loss" and cfg["interval"] == "epoch"
    sched = cfg["scheduler"]
    lrs = []
    for _ in range(14):
        sched.step(1.0)  # never improves
        lrs.append(opt.param_groups[0]["lr"])
    # best at epoch 0, 5 bad epochs tolerated, halved on the 6th; again 6 epochs later
    assert lrs[:6] == [1e-3] * 6
    assert lrs[6] == pytest.approx(5e-4)
    assert lrs[12] == pytest.approx(2.5e-4)


def test_cyclic_lr_rises_to_max_in_step_size_up_steps():
    opt = build_optimizer(_params(), "sgd", 0.1)
    cfg = build_scheduler(opt, "cyclic", base_lr=0.01, max_lr=0.1, step_size_up=4)
    assert cfg["interval"] == "step"
    lrs = []
    for _ in range(9):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        cfg["scheduler"].step()
    assert lrs[0] == pytest.approx(0.01) and lrs[4] == pytest.approx(0.1)
    assert lrs[8] == pytest.approx(0.01) and lrs[2] == pytest.approx(0.055)


def test_cosine_and_none():
    opt = build_optimizer(_params(), "adam", 1e-3)
    assert build_scheduler(opt, "none") is None
    cfg = build_scheduler(opt, "cosine", max_epochs=10)
    lrs = _epoch_lrs(opt, cfg["scheduler"], 11)
    assert lrs[0] == pytest.approx(1e-3) and lrs[5] == pytest.approx(5e-4) and lrs[10] < 1e-12
    with pytest.raises(ConfigError, match="scheduler.name"):
        build_scheduler(opt, "step")
    assert math.isclose(cosine_restart_factor(10, (10, 30)), 1.0)


def test_one_cycle_warms_up_then_decays():
    opt = build_optimizer(_params(), "adamw", 2e-3)
    cfg = build_scheduler(opt, "onecycle", max_epochs=4, steps_per_epoch=25, pct_start=0.1)
    assert cfg["interval"] == "step"
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        cfg["scheduler"].step()
    assert lrs[0] == pytest.approx(2e-3 / 25)
    assert max(lrs) == pytest.approx(2e-3) and int(np.argmax(lrs)) in (9, 10)
    assert lrs[-1] < 1e-6 and all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    with pytest.raises(ConfigError, match="one-cycle"):
        build_scheduler(opt, "onecycle", max_epochs=4)
