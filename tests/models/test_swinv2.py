"""Swin V2: numerical equivalence with transformers' Swinv2Model, and pretrained loading."""

from __future__ import annotations

import re

import pytest
import torch

from workbench.errors import CheckpointError
from workbench.models import (
    SwinV2Encoder,
    adapt_stem,
    convert_hf_swinv2_state_dict,
    create_model,
    load_pretrained_swinv2,
)

transformers = pytest.importorskip("transformers")

TOLERANCE = 1e-4

CONFIGS = {
    # the tiny configuration: 2 stages, window 4, 32 px
    "tiny-2stage": dict(
        image_size=32,
        patch_size=4,
        num_channels=1,
        embed_dim=24,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=4,
    ),
    # 4 stages, RGB, window clamped in the last two stages, pretrained-window normalisation
    "4stage-rgb": dict(
        image_size=64,
        patch_size=4,
        num_channels=3,
        embed_dim=16,
        depths=[2, 2, 2, 2],
        num_heads=[2, 2, 4, 4],
        window_size=4,
        pretrained_window_sizes=[3, 3, 0, 0],
    ),
    # odd window (shift 1), patch 2, no q/v bias
    "odd-window-nobias": dict(
        image_size=36,
        patch_size=2,
        num_channels=2,
        embed_dim=12,
        depths=[2, 2, 2],
        num_heads=[1, 2, 4],
        window_size=3,
        qkv_bias=False,
    ),
}
SIZES = {
    "tiny-2stage": [(32, 32), (50, 46)],
    "4stage-rgb": [(64, 64), (50, 46), (72, 40)],
    "odd-window-nobias": [(36, 36), (29, 41)],
}


def hf_model(name: str, seed: int = 0):
    """A randomly initialised transformers Swinv2Model with non-trivial weights everywhere."""
    torch.manual_seed(seed)
    model = transformers.Swinv2Model(transformers.Swinv2Config(**CONFIGS[name])).eval()
    with torch.no_grad():  # HF initialises biases to 0 and norms to 1: perturb everything
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def our_encoder(name: str) -> SwinV2Encoder:
    c = CONFIGS[name]
    return SwinV2Encoder(
        in_chans=c["num_channels"],
        patch_size=c["patch_size"],
        embed_dim=c["embed_dim"],
        depths=c["depths"],
        num_heads=c["num_heads"],
        window_size=c["window_size"],
        qkv_bias=c.get("qkv_bias", True),
        img_size=c["image_size"],
        pretrained_window_sizes=c.get("pretrained_window_sizes"),
    ).eval()


def hf_stage_outputs(hf, x: torch.Tensor):
    """HF's stage outputs before merging, after merging, and the final normed output."""
    with torch.no_grad():
        emb, dims = hf.embeddings(x)
        before = hf.encoder(
            emb, dims, output_hidden_states=True, output_hidden_states_before_downsampling=True
        ).reshaped_hidden_states[1:]
        full = hf(x, output_hidden_states=True)
    return before, full.reshaped_hidden_states[1:], full.last_hidden_state


@pytest.mark.parametrize(
    "name,size",
    [(n, s) for n in CONFIGS for s in SIZES[n]],
    ids=lambda v: v if isinstance(v, str) else f"{v[0]}x{v[1]}",
)
def test_matches_transformers(name: str, size: tuple[int, int]) -> None:
    hf = hf_model(name)
    ours = our_encoder(name)
    ours.load_state_dict(convert_hf_swinv2_state_dict(hf.state_dict()), strict=True)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, CONFIGS[name]["num_channels"], *size, generator=g)
    before, after, last = hf_stage_outputs(hf, x)
    with torch.no_grad():
        features = ours(x)
        # our merged outputs, to compare with HF's hidden states after downsampling
        tokens = ours.patch_embed(x)
        merged = []
        for stage in ours.layers:
            out, m = stage(tokens)
            merged.append(m if m is not None else out)
            tokens = m if m is not None else out
    diffs = []
    for i, f in enumerate(features[:-1]):
        assert f.shape == before[i].shape
        diffs.append((f - before[i]).abs().max().item())
    diffs.append((features[-1].flatten(2).transpose(1, 2) - last).abs().max().item())
    for i, m in enumerate(merged[:-1]):
        diffs.append((m.permute(0, 3, 1, 2) - after[i]).abs().max().item())
    print(f"\nSwin V2 vs transformers [{name} {size}]: max |diff| = {max(diffs):.2e}")
    assert max(diffs) <= TOLERANCE


def test_training_mode_matches_without_stochastic_depth() -> None:
    hf = hf_model("tiny-2stage")
    hf.config.drop_path_rate = 0.0
    ours = our_encoder("tiny-2stage")
    ours.load_state_dict(convert_hf_swinv2_state_dict(hf.state_dict()))
    hf2 = transformers.Swinv2Model(
        transformers.Swinv2Config(**CONFIGS["tiny-2stage"], drop_path_rate=0.0)
    )
    hf2.load_state_dict(hf.state_dict())
    hf2.train()
    ours.train()
    x = torch.randn(1, 1, 32, 32)
    torch.testing.assert_close(
        ours(x)[-1].flatten(2).transpose(1, 2), hf2(x).last_hidden_state, atol=TOLERANCE, rtol=0
    )


def test_window_clamped_by_img_size() -> None:
    enc = SwinV2Encoder(
        embed_dim=8, depths=[2, 2, 2], num_heads=[1, 2, 2], window_size=8, img_size=64
    )  # stage grids 16, 8, 4
    assert enc.window_sizes == [8, 8, 4]
    shifts = [[b.shift_size for b in stage.blocks] for stage in enc.layers]
    assert shifts == [[0, 4], [0, 0], [0, 0]]
    free = SwinV2Encoder(
        embed_dim=8, depths=[2, 2, 2], num_heads=[1, 2, 2], window_size=8, img_size=None
    )
    assert free.window_sizes == [8, 8, 8]
    assert [[b.shift_size for b in s.blocks] for s in free.layers] == [[0, 4]] * 3
    # both accept any input size (padding to the window inside every block)
    for e in (enc, free):
        assert [f.shape[-2:] for f in e(torch.zeros(1, 1, 40, 24))] == [
            torch.Size([10, 6]),
            torch.Size([5, 3]),
            torch.Size([3, 2]),
        ]


def test_published_tiny_configuration_on_meta() -> None:
    with torch.device("meta"):
        enc = create_model("swinv2")
    assert enc.window_sizes == [16, 16, 16, 16]  # 512 px: stage grids 128, 64, 32, 16
    assert [b.shift_size for b in enc.layers[3].blocks] == [0, 0]  # grid 16 = window: no shift
    assert sum(p.numel() for p in enc.parameters()) == 27_575_082


# ----------------------------------------------------------------------- pretrained loading


def _hf_classifier(name: str = "4stage-rgb"):
    torch.manual_seed(1)
    model = transformers.Swinv2ForImageClassification(
        transformers.Swinv2Config(**CONFIGS[name], num_labels=5)
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _kwargs(name: str) -> dict:
    c = CONFIGS[name]
    return dict(
        window_size=c["window_size"],
        img_size=c["image_size"],
        pretrained_window_sizes=c.get("pretrained_window_sizes"),
    )


def _assert_same_as_hf(enc: SwinV2Encoder, hf_swinv2, x: torch.Tensor, x_hf: torch.Tensor) -> None:
    enc.eval()
    with torch.no_grad():
        ours = enc(x)
        theirs = hf_swinv2(x_hf).last_hidden_state
    torch.testing.assert_close(ours[-1].flatten(2).transpose(1, 2), theirs, atol=TOLERANCE, rtol=0)


def test_load_transformers_torch_save(tmp_path) -> None:
    hf = _hf_classifier()
    path = tmp_path / "pytorch_model.bin"
    torch.save(hf.state_dict(), path)  # keys "swinv2.…" plus "classifier.…"
    enc = load_pretrained_swinv2(path, in_chans=3, **_kwargs("4stage-rgb"))
    assert enc.config["depths"] == [2, 2, 2, 2] and enc.config["num_heads"] == [2, 2, 4, 4]
    x = torch.randn(1, 3, 64, 64)
    _assert_same_as_hf(enc, hf.swinv2, x, x)


def test_load_transformers_safetensors(tmp_path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    hf = hf_model("tiny-2stage")
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, str(path))
    enc = load_pretrained_swinv2(path, in_chans=1, **_kwargs("tiny-2stage"))
    x = torch.randn(2, 1, 32, 32)
    _assert_same_as_hf(enc, hf, x, x)


def _timm_layout(sd: dict, new: bool) -> dict:
    """Our (Microsoft / timm < 0.9) layout → a timm-style file, with buffers and head."""
    out = {}
    for k, v in sd.items():
        if new:
            k = re.sub(
                r"^layers\.(\d+)\.downsample\.", lambda m: f"layers.{int(m[1]) + 1}.downsample.", k
            )
        out[k] = v
        if k.endswith("attn.logit_scale"):
            prefix = k[: -len("logit_scale")]
            out[prefix + "relative_position_index"] = torch.zeros(16, 16, dtype=torch.long)
            out[prefix + "relative_coords_table"] = torch.zeros(1, 7, 7, 2)
    out["head.fc.weight" if new else "head.weight"] = torch.zeros(5, 128)
    return out


@pytest.mark.parametrize("layout", ["microsoft", "timm>=0.9"])
def test_load_timm_layouts(tmp_path, layout: str) -> None:
    hf = hf_model("4stage-rgb")
    sd = convert_hf_swinv2_state_dict(hf.state_dict())
    new = layout != "microsoft"
    payload = _timm_layout(sd, new)
    if not new:
        payload = {"model": payload}  # the Microsoft release wraps the state dict
    assert ("layers.0.downsample.reduction.weight" in str(payload)) != new
    path = tmp_path / "swinv2.pth"
    torch.save(payload, path)
    enc = load_pretrained_swinv2(path, in_chans=3, **_kwargs("4stage-rgb"))
    x = torch.randn(1, 3, 50, 46)
    _assert_same_as_hf(enc, hf, x, x)


@pytest.mark.parametrize("stem", ["sum", "mean"])
def test_rgb_stem_to_one_channel(tmp_path, stem: str) -> None:
    hf = hf_model("4stage-rgb")
    path = tmp_path / "rgb.pth"
    torch.save(convert_hf_swinv2_state_dict(hf.state_dict()), path)
    enc = load_pretrained_swinv2(path, in_chans=1, stem=stem, **_kwargs("4stage-rgb"))
    assert enc.patch_embed.proj.weight.shape[1] == 1
    x = torch.randn(2, 1, 64, 64)
    # "sum" = the RGB model on the grey image repeated in 3 channels; "mean" = on a third of it
    x_rgb = x.repeat(1, 3, 1, 1) / (1 if stem == "sum" else 3)
    _assert_same_as_hf(enc, hf, x, x_rgb)


def test_adapt_stem_many_channels() -> None:
    w = torch.randn(8, 3, 4, 4)
    w4 = adapt_stem(w, 4, "sum")
    assert w4.shape == (8, 4, 4, 4)
    torch.testing.assert_close(w4.sum(1), w.sum(1))  # an image repeated 4× = repeated 3×
    assert adapt_stem(w, 3, "mean") is w
    with pytest.raises(Exception, match="stem"):
        adapt_stem(w, 1, "max")


def test_load_into_existing_encoder(tmp_path) -> None:
    hf = hf_model("tiny-2stage")
    path = tmp_path / "w.pth"
    torch.save(hf.state_dict(), path)
    hybrid = create_model(
        "ssl4sar_hybrid",
        preset=None,
        embed_dim=24,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=4,
        img_size=32,
        decoder_channels=[16, 8],
        final_channels=8,
    )
    load_pretrained_swinv2(path, in_chans=1, model=hybrid.encoder)
    x = torch.randn(1, 1, 32, 32)
    _assert_same_as_hf(hybrid.encoder, hf, x, x)


def test_missing_and_mismatching_keys_are_listed(tmp_path) -> None:
    hf = hf_model("tiny-2stage")
    sd = dict(hf.state_dict())
    del sd["encoder.layers.1.blocks.1.layernorm_after.bias"]
    path = tmp_path / "broken.bin"
    torch.save(sd, path)
    pattern = r"missing keys \['layers\.1\.blocks\.1\.norm2\.bias'\]"
    with pytest.raises(CheckpointError, match=pattern) as err:
        load_pretrained_swinv2(path, **_kwargs("tiny-2stage"))
    assert str(path) in str(err.value)
    torch.save(hf.state_dict(), path)
    other = SwinV2Encoder(embed_dim=12, depths=[2, 2], num_heads=[2, 4], window_size=4, img_size=32)
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_pretrained_swinv2(path, model=other)


def test_foreign_and_broken_files(tmp_path) -> None:
    foreign = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, foreign)
    with pytest.raises(CheckpointError, match="not a Swin V2 checkpoint"):
        load_pretrained_swinv2(foreign)
    hf = hf_model("tiny-2stage")
    truncated = tmp_path / "truncated.bin"
    torch.save(hf.state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_pretrained_swinv2(truncated)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pretrained_swinv2(tmp_path / "nope.pth")


def test_convert_refuses_unknown_keys() -> None:
    sd = dict(hf_model("tiny-2stage").state_dict())
    sd["encoder.layers.0.blocks.0.attention.self.gate.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="gate"):
        convert_hf_swinv2_state_dict(sd)
