"""The shared test class every architecture's tests inherit (as segmentation_models.pytorch does).

A subclass sets ``name`` (registry name), optionally ``kwargs`` (overrides of the "small"
preset), and overrides :meth:`ModelTester.make_inputs` / :meth:`ModelTester.check_output`
when its inputs or outputs differ from a ``B × 1 × H × W`` image → ``SegmentationOutput``.
All sizes are tiny (32–64 px, < ~200 k parameters) so the suite runs in seconds on 2 cores.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest
import torch

from workbench.models import SegmentationOutput, create_model, load_model, save_checkpoint


def outputs_by_name(out: Any) -> dict[str, torch.Tensor]:
    """Every tensor a model returned, by name (a list of feature maps or SegmentationOutput)."""
    if isinstance(out, SegmentationOutput):
        return out.tensors()
    if isinstance(out, (list, tuple)):
        return {f"feature{i}": t for i, t in enumerate(out)}
    if isinstance(out, torch.Tensor):
        return {"output": out}
    raise TypeError(f"unexpected model output {type(out)}")


def perturb_batchnorm(model: torch.nn.Module) -> None:
    """Give BatchNorm layers non-trivial running statistics and affine values (reproducibly)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)


class ModelTester:
    """Forward/backward/determinism/mode/batch/odd-size/compile/checkpoint tests for one model."""

    name: ClassVar[str] = ""
    preset: ClassVar[str] = "small"
    kwargs: ClassVar[dict[str, Any]] = {}
    size: ClassVar[tuple[int, int]] = (32, 32)
    odd_size: ClassVar[tuple[int, int]] = (50, 46)
    batch: ClassVar[int] = 2
    #: name prefixes of parameters that legitimately get no gradient with make_inputs()
    #: (each model's own tests exercise them)
    expect_no_grad: ClassVar[tuple[str, ...]] = ()
    #: run the torch.compile smoke test (kept to two models so the CPU suite stays short;
    #: WORKBENCH_ALL_COMPILE_TESTS=1 runs it for every model)
    compile_test: ClassVar[bool] = False

    # -- hooks -------------------------------------------------------------------------------

    def build(self, **overrides: Any) -> torch.nn.Module:
        return create_model(self.name, preset=self.preset, **{**self.kwargs, **overrides})

    def make_inputs(
        self, batch: int, h: int, w: int, seed: int = 0
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        g = torch.Generator().manual_seed(seed)
        return (torch.randn(batch, 1, h, w, generator=g),), {}

    def check_output(self, out: Any, batch: int, h: int, w: int, model: torch.nn.Module) -> None:
        assert isinstance(out, SegmentationOutput)
        k = model.config["num_classes"]
        assert out.logits.shape == (batch, k, h, w)
        if out.front is not None:
            assert out.front.shape == (batch, 1, h, w)

    # -- helpers -----------------------------------------------------------------------------

    def run(self, model: torch.nn.Module, batch: int, h: int, w: int, seed: int = 0) -> Any:
        args, kwargs = self.make_inputs(batch, h, w, seed)
        return model(*args, **kwargs)

    # -- tests -------------------------------------------------------------------------------

    def test_forward_shape(self) -> None:
        model = self.build().eval()
        with torch.no_grad():
            out = self.run(model, self.batch, *self.size)
        self.check_output(out, self.batch, *self.size, model)
        for name, t in outputs_by_name(out).items():
            assert torch.isfinite(t).all(), name

    def test_backward_reaches_every_parameter(self) -> None:
        torch.manual_seed(0)
        model = self.build().train()
        out = self.run(model, self.batch, *self.size)
        loss = sum(t.float().square().mean() for t in outputs_by_name(out).values())
        loss.backward()
        active = [
            (n, p) for n, p in model.named_parameters() if not n.startswith(self.expect_no_grad)
        ]
        missing = [n for n, p in active if p.grad is None]
        assert not missing, f"parameters without gradient: {missing}"
        zero = [n for n, p in active if not p.grad.abs().sum() > 0]
        assert not zero, f"parameters with an all-zero gradient: {zero}"

    def test_deterministic_under_seed(self) -> None:
        results = []
        for _ in range(2):
            torch.manual_seed(123)
            model = self.build().train()  # train mode: dropout / drop-path / region dropout
            torch.manual_seed(7)
            out = outputs_by_name(self.run(model, self.batch, *self.size))
            results.append((model.state_dict(), out))
        (sd_a, out_a), (sd_b, out_b) = results
        assert sd_a.keys() == sd_b.keys()
        for k in sd_a:
            assert torch.equal(sd_a[k], sd_b[k]), k
        assert out_a.keys() == out_b.keys()
        for k in out_a:
            assert torch.equal(out_a[k], out_b[k]), k

    def test_eval_vs_train_mode(self) -> None:
        model = self.build()
        perturb_batchnorm(model)
        model.eval()
        before = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            a = outputs_by_name(self.run(model, self.batch, *self.size))
            b = outputs_by_name(self.run(model, self.batch, *self.size))
        for k in a:  # eval: repeatable, and no state changes (BN running stats frozen)
            assert torch.equal(a[k], b[k]), k
        for k, v in model.state_dict().items():
            assert torch.equal(v, before[k]), k
        model.train()
        with torch.no_grad():
            c = outputs_by_name(self.run(model, self.batch, *self.size))
        has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
        if has_bn:  # train mode uses batch statistics and updates the running ones
            changed = [
                k
                for k, v in model.state_dict().items()
                if k.endswith("running_mean") and not torch.equal(v, before[k])
            ]
            assert changed
            assert not torch.allclose(
                a["logits" if "logits" in a else next(iter(a))],
                c["logits" if "logits" in c else next(iter(c))],
            )

    @pytest.mark.parametrize("mode", ["train", "eval"])
    def test_batch_of_one(self, mode: str) -> None:
        model = self.build()
        getattr(model, mode)()
        out = self.run(model, 1, *self.size)
        self.check_output(out, 1, *self.size, model)
        if mode == "train":
            sum(t.float().mean() for t in outputs_by_name(out).values()).backward()

    def test_odd_input_size(self) -> None:
        model = self.build().eval()
        with torch.no_grad():
            out = self.run(model, self.batch, *self.odd_size)
        self.check_output(out, self.batch, *self.odd_size, model)

    def test_batch_independence(self) -> None:
        """In eval mode a sample's output does not depend on the rest of the batch."""
        model = self.build()
        perturb_batchnorm(model)
        model.eval()
        args, kwargs = self.make_inputs(2, *self.size)
        with torch.no_grad():
            both = outputs_by_name(model(*args, **kwargs))
            first = outputs_by_name(model(*_first(args), **_first(kwargs)))
        for k in first:
            torch.testing.assert_close(first[k], both[k][:1], rtol=1e-4, atol=1e-5)

    def test_compile_traces_whole_graph(self) -> None:
        """torch.compile smoke test: dynamo traces the model in one graph (no graph breaks).

        Uses the ``eager`` backend (1–3 s here); the inductor backend takes ~75 s per model on
        2 CPU cores and is exercised by the GPU tests instead.
        """
        if not (self.compile_test or os.environ.get("WORKBENCH_ALL_COMPILE_TESTS")):
            pytest.skip(
                "torch.compile smoke test runs on caffe_unet and ssl4sar_hybrid only on "
                "CPU (1-3 s each); set WORKBENCH_ALL_COMPILE_TESTS=1 for every model"
            )
        model = self.build().eval()
        compiled = torch.compile(model, backend="eager", fullgraph=True)
        with torch.no_grad():
            expected = outputs_by_name(self.run(model, 1, *self.size))
            got = outputs_by_name(self.run(compiled, 1, *self.size))
        for k in expected:
            torch.testing.assert_close(got[k], expected[k])

    def test_checkpoint_round_trip(self, tmp_path) -> None:
        model = self.build()
        perturb_batchnorm(model)
        model.eval()
        path = save_checkpoint(
            model,
            tmp_path / f"{self.name}.pt",
            train_config={"preset": self.preset},
            metrics={"iou": 0.5},
        )
        loaded = load_model(path, device="cpu")
        assert type(loaded) is type(model)
        assert loaded.config == model.config
        assert not loaded.training
        assert loaded.checkpoint_info.model_name == self.name
        with torch.no_grad():
            a = outputs_by_name(self.run(model, self.batch, *self.size))
            b = outputs_by_name(self.run(loaded, self.batch, *self.size))
        for k in a:
            assert torch.equal(a[k], b[k]), k

    def test_config_rebuilds_same_architecture(self) -> None:
        model = self.build()
        clone = type(model)(**model.config)
        assert clone.config == model.config
        assert {k: v.shape for k, v in clone.state_dict().items()} == {
            k: v.shape for k, v in model.state_dict().items()
        }

    def test_parameter_budget(self) -> None:
        n = sum(p.numel() for p in self.build().parameters())
        assert 1_000 <= n <= 250_000, f"{self.name} small preset has {n} parameters"


def _first(obj: Any) -> Any:
    """The first sample of every tensor in (nested) args/kwargs."""
    if isinstance(obj, torch.Tensor):
        return obj[:1]
    if isinstance(obj, dict):
        return {k: _first(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_first(v) for v in obj)
    return obj
