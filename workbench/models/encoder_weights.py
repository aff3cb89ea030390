"""Initialise a Swin V2 encoder from a file: SSL4SAR pretraining, a workbench checkpoint, or
published weights (``init.encoder`` of a training config; ``workbench pretrain`` writes the
``encoder.pt`` it reads).

Examples
--------
>>> import tempfile, torch
>>> from workbench.models import create_model, save_checkpoint
>>> source = create_model("ssl4sar_hybrid", preset="small", num_classes=14)
>>> path = save_checkpoint(source.encoder, tempfile.mkdtemp() + "/encoder.pt")
>>> target = create_model("ssl4sar_hybrid", preset="small")
>>> encoder = load_encoder_weights(target, path)
>>> torch.equal(encoder.patch_embed.proj.weight, source.encoder.patch_embed.proj.weight)
True
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from workbench.errors import CheckpointError, ConfigError
from workbench.models.checkpoint import load_model, read_checkpoint_info
from workbench.models.swinv2 import SwinV2Encoder, load_pretrained_swinv2

__all__ = ["load_encoder_weights"]


def load_encoder_weights(
    model: nn.Module, path: str | os.PathLike[str], *, stem: str = "mean"
) -> SwinV2Encoder:
    """Initialise the Swin V2 encoder of ``model`` (``ssl4sar_hybrid`` or ``swinv2``) from a file.

    ``path`` is a workbench checkpoint of a ``swinv2`` encoder (``encoder.pt`` of
    :func:`workbench.training.pretrain`) or of an ``ssl4sar_hybrid`` (its encoder is taken), or published Swin
    V2 weights in the timm/Microsoft or transformers layout (through
    :func:`~workbench.models.load_pretrained_swinv2`; a 3-channel stem is reduced with
    ``stem``). Only the encoder changes; the decoder keeps its initialisation.

    Raises
    ------
    CheckpointError
        Missing or unreadable file, or an encoder whose architecture does not fit (the
        message names the file and the mismatching tensors).
    ConfigError
        ``model`` has no Swin V2 encoder.

    Examples
    --------
    >>> import tempfile, torch
    >>> from workbench.models import create_model, save_checkpoint
    >>> source = create_model("ssl4sar_hybrid", preset="small", num_classes=14)
    >>> path = save_checkpoint(source.encoder, tempfile.mkdtemp() + "/encoder.pt")
    >>> target = create_model("ssl4sar_hybrid", preset="small")
    >>> _ = load_encoder_weights(target, path)
    >>> all(torch.equal(a, b) for a, b in zip(source.encoder.state_dict().values(),
    ...                                       target.encoder.state_dict().values()))
    True
    """
    path = Path(path)
    encoder = model if isinstance(model, SwinV2Encoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, SwinV2Encoder):
        raise ConfigError(
            f"is a {type(model).__name__} without a Swin V2 encoder",
            variable="init.encoder",
            expected="model.name: ssl4sar_hybrid",
        )
    if not path.is_file():
        raise CheckpointError(
            "does not exist",
            path=path,
            variable="init.encoder",
            expected="an encoder.pt written by `workbench pretrain`, a "
            "workbench ssl4sar_hybrid checkpoint or Swin V2 weights",
        )
    try:
        info = read_checkpoint_info(path)
    except CheckpointError as exc:
        if "lacks key" not in exc.message and "plain state dict" not in exc.message:
            raise
        info = None
    if info is None:  # published Swin V2 weights (timm / Microsoft / transformers layout)
        in_chans = int(encoder.config["in_chans"])
        return load_pretrained_swinv2(path, in_chans=in_chans, stem=stem, model=encoder)
    if info.model_name not in ("swinv2", "ssl4sar_hybrid"):
        raise CheckpointError(
            f"holds a {info.model_name!r} model",
            path=path,
            variable="init.encoder",
            expected="a swinv2 encoder or an ssl4sar_hybrid checkpoint",
        )
    source = load_model(path, device="cpu")
    source_encoder = source if info.model_name == "swinv2" else source.encoder
    state = source_encoder.state_dict()
    expected = encoder.state_dict()
    mismatched = sorted(
        k
        for k in set(state) | set(expected)
        if k not in state or k not in expected or state[k].shape != expected[k].shape
    )
    if mismatched:
        keys = [
            f"{k}: file {tuple(state[k].shape) if k in state else '—'} vs model "
            f"{tuple(expected[k].shape) if k in expected else '—'}"
            for k in mismatched[:8]
        ]
        arch = {
            k: source_encoder.config.get(k)
            for k in ("in_chans", "patch_size", "embed_dim", "depths", "num_heads", "mlp_ratio")
        }
        raise CheckpointError(
            f"holds an encoder that does not fit the model ({len(mismatched)} "
            f"tensors differ: {keys})",
            path=path,
            variable="init.encoder",
            expected=f"the encoder architecture of the model; the file's is {arch}",
        )
    encoder.load_state_dict(state, strict=True)
    return encoder
