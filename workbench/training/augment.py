"""Batch augmentations run on the device after the batch is transferred (torch ops only).

The data modules call an :class:`Augmenter` from ``on_after_batch_transfer`` during
training, so the CPU workers only crop patches and the GPU does the rest (torchgeo's
pattern). Batches are dicts with the workbench keys:

``image``  float ``B × C × H × W`` (CaFFe), ``B × T × C × H × W`` (time series) or a dict
           ``{source: B × C × H × W}`` (GlaViTU), already normalised;
``mask``   int64 ``B × H × W`` class ids (zones or glacier outline);
``front``  bool ``B × H × W`` calving-front mask (optional);
``valid``  bool ``B × H × W``: pixels that hold data (padding and nodata are ``False``).

Geometric ops move every one of those arrays with the same per-sample parameters; images are
resampled bilinearly, ``mask``/``front``/``valid`` with nearest neighbours, and pixels that
come from outside the patch become ``valid = False`` (and 0 in the image, the channel mean
after normalisation), so the loss ignores them. Intensity ops change the image only. After
all ops, invalid pixels are set to 0 again.

Operations (name: default parameters; every op also takes ``p``, its probability per sample
— per batch for ``source_dropout`` — and is off with ``p = 0``, the default):

=================  ==============================================================================
``time_jitter``    ``max_shift=1``: each time index t takes the date t + δ, δ uniform in
                   ``[-max_shift, max_shift]``, clamped to the window (5-D images only).
``ocean_mixup``    ``alpha=(0, 1), ocean_class=3``: SSL4SAR's ocean / ice-mélange mix-up, see
                   below.
``hflip``          left-right flip.
``vflip``          up-down flip.
``rot90``          rotation by k·90°, k uniform in {1, 2, 3} (only k = 2 for non-square patches).
``crop_rescale``   ``scale=(0.8, 1.0)``: a random crop of that fraction of the side, rescaled to
                   the patch size.
``zoom``           ``range=(0.33, 2.83)``: zoom by a factor drawn log-uniformly (> 1 magnifies,
                   < 1 shrinks and pads with invalid pixels), about the patch centre.
``speckle``        ``kind="poisson", scale=255.0, looks=4, domain="linear"``: multiplicative
                   speckle in physical units (normalisation undone and redone): Poisson
                   ``Pois(x·scale)/scale`` or Gamma ``x·G``, ``G ~ Γ(looks, 1/looks)``
                   (``domain="db"``: ``x + 10·log10 G``).
``gamma``          ``range=(0.8, 1.2)``: per sample and channel (feature) gamma on the min–max
                   rescaled valid values.
``contrast``       ``range=(0.6, 1.6)``: one factor per sample, uniform in ``range``, that
                   multiplies the normalised image (with ``data.normalization: per_window``:
                   a contrast change about the window's mean).
``brightness``     ``range=0.5``: one additive shift per sample, uniform in ``±range`` (in units
                   of the channel standard deviation, i.e. of the normalised image).
``gaussian_shift`` ``std=0.1``: an additive offset per sample and channel, ``N(0, std²)``.
``gaussian_noise`` ``std=0.1``: additive per-pixel noise ``N(0, std²)``.
``occlusion``      ``size=(0.1, 0.4)``: one rectangle per sample, sides a uniform fraction of the
                   patch sides, set to 0 in every channel (and date); labels unchanged.
``source_dropout`` ``sources=()``: drop each named (optional) source of a dict image for the
                   whole batch with probability ``p`` (at least one source is kept).
=================  ==============================================================================

Order: ``time_jitter``, ``ocean_mixup``, ``source_dropout``, then the geometric ops
(``hflip``, ``vflip``, ``rot90``, ``crop_rescale`` + ``zoom`` resampled in one step), then
``speckle``, ``gamma``, ``contrast``, ``brightness``, ``gaussian_shift``, ``gaussian_noise``,
``occlusion``.

**Ocean / ice-mélange mix-up (our reading of SSL4SAR).** The most confusing part of a SAR
scene for front detection is the ocean: open water, ice mélange and icebergs of very different
brightness and texture all belong to the ocean class. With probability ``p`` a sample ``i``
gets a partner ``j`` (a random permutation of the batch) and, on the pixels that are ocean in
both ``i`` and ``j`` (and valid in both), its image becomes ``λ·x_i + (1 − λ)·x_j`` with ``λ``
uniform in ``alpha`` (``λ = 0`` replaces the ocean texture). Labels do not change: ocean stays
ocean, whatever fills it. The paper's exact recipe (e.g. pasting whole ocean regions across
samples) is not confirmed.

Everything is drawn from a seeded :class:`torch.Generator` on the batch's device: the same seed
and the same batches give the same augmentations (on the same device type).

Examples
--------
>>> import torch
>>> aug = Augmenter({"hflip": 1.0}, seed=0)
>>> mask = torch.arange(16).view(1, 4, 4) % 4
>>> batch = {"image": mask[:, None].float(), "mask": mask, "valid": torch.ones(1, 4, 4, dtype=torch.bool)}
>>> out = aug(batch)
>>> bool((out["image"][:, 0] == out["mask"].float()).all()), out["mask"][0, 0].tolist()
(True, [3, 2, 1, 0])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F

from workbench.errors import ConfigError

__all__ = ["OPS", "ORDER", "Augmenter", "validate_augment_config"]

Batch = dict[str, Any]

OPS: dict[str, dict[str, Any]] = {
    "time_jitter": {"max_shift": 1},
    "ocean_mixup": {"alpha": (0.0, 1.0), "ocean_class": 3},
    "source_dropout": {"sources": ()},
    "hflip": {},
    "vflip": {},
    "rot90": {},
    "crop_rescale": {"scale": (0.8, 1.0)},
    "zoom": {"range": (0.33, 2.83)},
    "speckle": {"kind": "poisson", "scale": 255.0, "looks": 4, "domain": "linear"},
    "gamma": {"range": (0.8, 1.2)},
    "contrast": {"range": (0.6, 1.6)},
    "brightness": {"range": 0.5},
    "gaussian_shift": {"std": 0.1},
    "gaussian_noise": {"std": 0.1},
    "occlusion": {"size": (0.1, 0.4)},
}
"""Every operation with its default parameters (besides ``p``)."""

ORDER: tuple[str, ...] = tuple(OPS)
"""The order in which enabled operations run."""

_LABEL_KEYS = ("mask", "front", "valid")


# --------------------------------------------------------------------------- config


def _pair(value: Any, name: str, lo: float | None = None) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"is {value!r}", variable=name, expected="a [low, high] pair") from None
    if not (math.isfinite(a) and math.isfinite(b)) or a > b or (lo is not None and a < lo):
        bound = f", low ≥ {lo}" if lo is not None else ""
        raise ConfigError(f"is {value!r}", variable=name, expected=f"finite low ≤ high{bound}")
    return a, b


def validate_augment_config(config: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Check an ``augment`` config section and fill in defaults.

    Each entry is ``op: probability`` or ``op: {p: probability, param: value, …}``. Returns
    ``{op: {"p": …, **params}}`` for every op with ``p > 0``.

    Raises
    ------
    ConfigError
        Unknown op or parameter (the message lists the known ones), a probability outside
        ``[0, 1]``, or a bad range.

    Examples
    --------
    >>> validate_augment_config({"hflip": 0.5, "zoom": {"p": 0.5}})["zoom"]
    {'p': 0.5, 'range': (0.33, 2.83)}
    >>> validate_augment_config({"blur": 0.5})
    Traceback (most recent call last):
    ...
    workbench.errors.ConfigError: variable 'augment.blur' is not an augmentation (expected one of ['time_jitter', 'ocean_mixup', 'source_dropout', 'hflip', 'vflip', 'rot90', 'crop_rescale', 'zoom', 'speckle', 'gamma', 'contrast', 'brightness', 'gaussian_shift', 'gaussian_noise', 'occlusion'])
    """
    out: dict[str, dict[str, Any]] = {}
    if config is None:
        return out
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"is a {type(config).__name__}",
            variable="augment",
            expected="a mapping of operation → probability or {p: …, …}",
        )
    for name, spec in config.items():
        key = f"augment.{name}"
        if name not in OPS:
            raise ConfigError(
                "is not an augmentation", variable=key, expected=f"one of {list(OPS)}"
            )
        if spec is None or spec is False:
            continue
        if isinstance(spec, bool) or isinstance(spec, (int, float)):
            spec = {"p": float(spec)}
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"is {spec!r}",
                variable=key,
                expected="a probability or a mapping with 'p' and parameters",
            )
        unknown = sorted(set(spec) - set(OPS[name]) - {"p"})
        if unknown:
            raise ConfigError(
                f"has unknown parameter(s) {unknown}",
                variable=key,
                expected=f"parameters among {['p', *OPS[name]]}",
            )
        p = spec.get("p", 0.0)
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ConfigError(f"has p={p!r}", variable=key, expected="a probability 0 <= p <= 1")
        params = {**OPS[name], **{k: v for k, v in spec.items() if k != "p"}}
        if name == "ocean_mixup":
            params["alpha"] = _pair(params["alpha"], f"{key}.alpha", 0.0)
            if params["alpha"][1] > 1.0:
                raise ConfigError(
                    f"is {params['alpha']}",
                    variable=f"{key}.alpha",
                    expected="a range within [0, 1]",
                )
            params["ocean_class"] = int(params["ocean_class"])
        elif name == "crop_rescale":
            params["scale"] = _pair(params["scale"], f"{key}.scale", 1e-3)
            if params["scale"][1] > 1.0:
                raise ConfigError(
                    f"is {params['scale']}",
                    variable=f"{key}.scale",
                    expected="fractions within (0, 1]",
                )
        elif name in ("zoom", "gamma", "contrast"):
            params["range"] = _pair(params["range"], f"{key}.range", 1e-3)
        elif name == "occlusion":
            params["size"] = _pair(params["size"], f"{key}.size", 0.0)
            if params["size"][1] > 1.0:
                raise ConfigError(
                    f"is {params['size']}",
                    variable=f"{key}.size",
                    expected="fractions of the patch side within [0, 1]",
                )
        elif name == "speckle":
            if params["kind"] not in ("poisson", "gamma"):
                raise ConfigError(
                    f"is {params['kind']!r}",
                    variable=f"{key}.kind",
                    expected="'poisson' or 'gamma'",
                )
            if params["domain"] not in ("linear", "db"):
                raise ConfigError(
                    f"is {params['domain']!r}",
                    variable=f"{key}.domain",
                    expected="'linear' or 'db'",
                )
            if float(params["scale"]) <= 0 or int(params["looks"]) < 1:
                raise ConfigError(
                    f"scale {params['scale']}, looks {params['looks']}",
                    variable=key,
                    expected="scale > 0 and looks ≥ 1",
                )
        elif name == "time_jitter":
            if int(params["max_shift"]) < 0:
                raise ConfigError(
                    f"is {params['max_shift']}", variable=f"{key}.max_shift", expected="≥ 0"
                )
            params["max_shift"] = int(params["max_shift"])
        elif name in ("brightness", "gaussian_shift", "gaussian_noise"):
            field = "range" if name == "brightness" else "std"
            if not isinstance(params[field], (int, float)) or params[field] < 0:
                raise ConfigError(
                    f"is {params[field]!r}", variable=f"{key}.{field}", expected="a number ≥ 0"
                )
        elif name == "source_dropout":
            params["sources"] = tuple(str(s) for s in params["sources"])
        if p > 0:
            out[name] = {"p": float(p), **params}
    return out


# --------------------------------------------------------------------------- helpers


def _first_image(image: Any) -> torch.Tensor:
    if isinstance(image, Mapping):
        return next(v for v in image.values() if v is not None)
    return image


def _map_images(batch: Batch, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    img = batch["image"]
    if isinstance(img, Mapping):
        batch["image"] = {k: (fn(v) if v is not None else None) for k, v in img.items()}
    else:
        batch["image"] = fn(img)


def _map_labels(batch: Batch, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    for key in _LABEL_KEYS:
        if isinstance(batch.get(key), torch.Tensor):
            batch[key] = fn(batch[key])


def _map_all(batch: Batch, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    _map_images(batch, fn)
    _map_labels(batch, fn)


def _per_sample(x: torch.Tensor, ndim_image: int) -> torch.Tensor:
    """Broadcastable per-sample view helper: shape (B, 1, …, 1) for an image of ndim dims."""
    return x.view(-1, *([1] * (ndim_image - 1)))


def _channel_stats_dims(x: torch.Tensor) -> tuple[int, ...]:
    """Reduction dims for per-(sample, channel) statistics: spatial (and time for 5-D)."""
    return (1, 3, 4) if x.ndim == 5 else (2, 3)


def _valid_like(valid: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``valid`` (B, H, W) broadcast to an image of shape (B, …, H, W)."""
    return valid.view(valid.shape[0], *([1] * (x.ndim - 3)), *valid.shape[-2:])


# --------------------------------------------------------------------------- augmenter


class Augmenter:
    """Seeded batch augmentation with per-op probabilities (see the module docstring).

    Parameters
    ----------
    config
        The ``augment`` config section (validated with :func:`validate_augment_config`).
    seed
        Seed of the generator (one generator per device, created on first use).
    normalization
        How the images were normalised: a :class:`~workbench.data.patches.Normalization`,
        or a dict of them per source; needed by ``speckle`` (physical units).

    Examples
    --------
    >>> import torch
    >>> aug = Augmenter({"hflip": 0.0, "zoom": 0.0})
    >>> aug.enabled
    False
    >>> b = {"image": torch.rand(2, 1, 8, 8), "mask": torch.zeros(2, 8, 8, dtype=torch.long)}
    >>> torch.equal(aug(dict(b))["image"], b["image"])
    True
    """

    def __init__(
        self, config: Mapping[str, Any] | None = None, *, seed: int = 0, normalization: Any = None
    ) -> None:
        self.ops = validate_augment_config(config)
        self.seed = int(seed)
        self.normalization = normalization
        self._generators: dict[str, torch.Generator] = {}

    @property
    def enabled(self) -> bool:
        """Whether any operation has ``p > 0``."""
        return bool(self.ops)

    def __repr__(self) -> str:
        ops = ", ".join(f"{k}(p={v['p']:g})" for k, v in self.ops.items())
        return f"Augmenter([{ops}], seed={self.seed})"

    # -- generator state (saved with the data module, so a resumed run continues the stream)
    def generator(self, device: torch.device | str) -> torch.Generator:
        """The generator for ``device`` (created and seeded on first use)."""
        device = torch.device(device)
        key = str(device)
        if key not in self._generators:
            g = torch.Generator(device=device)
            g.manual_seed(self.seed)
            self._generators[key] = g
        return self._generators[key]

    def state_dict(self) -> dict[str, Any]:
        """Generator states by device (CPU tensors)."""
        return {k: g.get_state() for k, g in self._generators.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` (states of devices not present here are skipped)."""
        for key, value in state.items():
            try:
                self.generator(key).set_state(value)
            except (RuntimeError, ValueError):  # e.g. a CUDA state on a CPU-only machine
                continue

    # -- the pipeline
    def __call__(self, batch: Batch) -> Batch:
        """Augment ``batch`` (a new dict is returned; the input tensors are not modified)."""
        if not self.ops:
            return batch
        batch = dict(batch)
        ref = _first_image(batch["image"])
        b, device = ref.shape[0], ref.device
        if "valid" not in batch or batch["valid"] is None:
            batch["valid"] = torch.ones(b, *ref.shape[-2:], dtype=torch.bool, device=device)
        g = self.generator(device)
        for name in ORDER:
            spec = self.ops.get(name)
            if spec is None:
                continue
            if name == "source_dropout":
                self._source_dropout(batch, g, spec)
                continue
            if name == "zoom" and "crop_rescale" in self.ops:
                continue  # resampled together with crop_rescale
            chosen = torch.rand(b, generator=g, device=device) < spec["p"]
            if name == "crop_rescale":
                zoom = self.ops.get("zoom")
                zchosen = (
                    torch.rand(b, generator=g, device=device) < zoom["p"]
                    if zoom
                    else torch.zeros_like(chosen)
                )
                self._affine(batch, g, chosen, spec, zchosen, zoom)
                continue
            if name == "zoom":
                self._affine(batch, g, torch.zeros_like(chosen), None, chosen, spec)
                continue
            if not bool(chosen.any()):
                continue
            getattr(self, f"_{name}")(batch, g, chosen, spec)
        valid = batch["valid"]
        _map_images(batch, lambda x: torch.where(_valid_like(valid, x), x, torch.zeros_like(x)))
        return batch

    # -- operations ---------------------------------------------------------------------
    @staticmethod
    def _time_jitter(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        img = batch["image"]
        if isinstance(img, Mapping) or img.ndim != 5 or spec["max_shift"] == 0:
            return
        b, t = img.shape[:2]
        base = torch.arange(t, device=img.device).expand(b, t)
        shift = torch.randint(
            -spec["max_shift"], spec["max_shift"] + 1, (b, t), generator=g, device=img.device
        )
        idx = torch.where(chosen[:, None], (base + shift).clamp(0, t - 1), base)
        gather = idx.view(b, t, 1, 1, 1).expand_as(img)
        batch["image"] = torch.gather(img, 1, gather)

    @staticmethod
    def _ocean_mixup(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        mask = batch.get("mask")
        img = batch["image"]
        if mask is None or isinstance(img, Mapping) or img.shape[0] < 2:
            return
        b = img.shape[0]
        perm = torch.randperm(b, generator=g, device=img.device)
        same = perm == torch.arange(b, device=img.device)
        perm = torch.where(same, (perm + 1) % b, perm)  # never mix a sample with itself
        lo, hi = spec["alpha"]
        lam = lo + (hi - lo) * torch.rand(b, generator=g, device=img.device)
        ocean = (mask == spec["ocean_class"]) & batch["valid"]
        region = ocean & ocean[perm] & chosen.view(b, 1, 1)
        region = _valid_like(region, img)
        lam = _per_sample(lam, img.ndim).to(img.dtype)
        mixed = lam * img + (1 - lam) * img[perm]
        batch["image"] = torch.where(region, mixed, img)

    @staticmethod
    def _source_dropout(batch: Batch, g: torch.Generator, spec: Mapping[str, Any]) -> None:
        img = batch["image"]
        if not isinstance(img, Mapping):
            return
        device = _first_image(img).device
        img = dict(img)
        for name in spec["sources"]:
            present = [k for k, v in img.items() if v is not None]
            if name not in present or len(present) < 2:
                continue
            if float(torch.rand(1, generator=g, device=device)) < spec["p"]:
                img[name] = None
        batch["image"] = img

    @staticmethod
    def _hflip(batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Any) -> None:
        sel = chosen.view(-1, 1, 1)
        _map_all(batch, lambda x: torch.where(sel.view(-1, *([1] * (x.ndim - 1))), x.flip(-1), x))

    @staticmethod
    def _vflip(batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Any) -> None:
        _map_all(
            batch, lambda x: torch.where(chosen.view(-1, *([1] * (x.ndim - 1))), x.flip(-2), x)
        )

    @staticmethod
    def _rot90(batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Any) -> None:
        ref = _first_image(batch["image"])
        square = ref.shape[-1] == ref.shape[-2]
        b = ref.shape[0]
        if square:
            k = torch.randint(1, 4, (b,), generator=g, device=ref.device)
        else:
            k = torch.full((b,), 2, device=ref.device)
        k = torch.where(chosen, k, torch.zeros_like(k))

        def rotate(x: torch.Tensor) -> torch.Tensor:
            out = x
            for kk in (1, 2, 3):
                sel = k == kk
                if bool(sel.any()):
                    out = out.clone() if out is x else out
                    out[sel] = torch.rot90(x[sel], kk, dims=(-2, -1))
            return out

        _map_all(batch, rotate)

    @staticmethod
    def _affine(
        batch: Batch,
        g: torch.Generator,
        crop_chosen: torch.Tensor,
        crop: Mapping[str, Any] | None,
        zoom_chosen: torch.Tensor,
        zoom: Mapping[str, Any] | None,
    ) -> None:
        ref = _first_image(batch["image"])
        b, device = ref.shape[0], ref.device
        scale = torch.ones(b, device=device)
        tx = torch.zeros(b, device=device)
        ty = torch.zeros(b, device=device)
        if crop is not None:
            lo, hi = crop["scale"]
            f = lo + (hi - lo) * torch.rand(b, generator=g, device=device)
            f = torch.where(crop_chosen, f, torch.ones_like(f))
            # crop centre anywhere that keeps the crop inside the patch
            tx = (1 - f) * (2 * torch.rand(b, generator=g, device=device) - 1)
            ty = (1 - f) * (2 * torch.rand(b, generator=g, device=device) - 1)
            scale = f
        if zoom is not None:
            lo, hi = zoom["range"]
            z = torch.exp(
                math.log(lo)
                + (math.log(hi) - math.log(lo)) * torch.rand(b, generator=g, device=device)
            )
            scale = scale / torch.where(zoom_chosen, z, torch.ones_like(z))
        chosen = crop_chosen | zoom_chosen
        if not bool(chosen.any()):
            return
        idx = torch.nonzero(chosen).flatten()
        theta = torch.zeros(len(idx), 2, 3, device=device)
        theta[:, 0, 0] = scale[idx]
        theta[:, 1, 1] = scale[idx]
        theta[:, 0, 2] = tx[idx]
        theta[:, 1, 2] = ty[idx]
        h, w = ref.shape[-2:]
        grid = F.affine_grid(theta, [len(idx), 1, h, w], align_corners=False)

        def resample(x: torch.Tensor, label: bool) -> torch.Tensor:
            sub = x[idx]
            flat = sub.reshape(len(idx), -1, h, w)
            dtype = flat.dtype
            src = flat.float() if (label or not dtype.is_floating_point) else flat
            out = F.grid_sample(
                src,
                grid.to(src.dtype),
                mode="nearest" if label else "bilinear",
                padding_mode="zeros",
                align_corners=False,
            )
            if dtype == torch.bool:
                out = out > 0.5
            elif not dtype.is_floating_point:
                out = out.round().to(dtype)
            else:
                out = out.to(dtype)
            res = x.clone()
            res[idx] = out.reshape(sub.shape)
            return res

        _map_images(batch, lambda x: resample(x, False))
        _map_labels(batch, lambda x: resample(x, True))

    def _speckle(
        self, batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        norm = self.normalization

        def apply(x: torch.Tensor, n: Any) -> torch.Tensor:
            phys = n.inverse(x) if n is not None else x
            if spec["domain"] == "db":
                gamma = self._gamma_noise(phys, int(spec["looks"]), g)
                noisy = phys + 10.0 * torch.log10(gamma.clamp_min(1e-6))
            elif spec["kind"] == "poisson":
                scale = float(spec["scale"])
                noisy = torch.poisson(phys.clamp_min(0) * scale, generator=g) / scale
            else:
                noisy = phys * self._gamma_noise(phys, int(spec["looks"]), g)
            out = n(noisy) if n is not None else noisy
            return torch.where(_per_sample(chosen, x.ndim), out.to(x.dtype), x)

        img = batch["image"]
        if isinstance(img, Mapping):
            batch["image"] = {
                k: (
                    apply(v, norm.get(k) if isinstance(norm, Mapping) else None)
                    if v is not None
                    else None
                )
                for k, v in img.items()
            }
        else:
            batch["image"] = apply(img, None if isinstance(norm, Mapping) else norm)

    @staticmethod
    def _gamma_noise(x: torch.Tensor, looks: int, g: torch.Generator) -> torch.Tensor:
        """Γ(looks, 1/looks) noise (mean 1) as the mean of ``looks`` unit exponentials."""
        total = torch.zeros_like(x)
        for _ in range(looks):
            u = torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype)
            total = total - torch.log(u.clamp_min(1e-12))
        return total / looks

    @staticmethod
    def _gamma(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        valid = batch["valid"]
        lo, hi = spec["range"]

        def apply(x: torch.Tensor) -> torch.Tensor:
            dims = _channel_stats_dims(x)
            v = _valid_like(valid, x)
            big = torch.finfo(x.dtype).max
            xmin = torch.where(v, x, torch.full_like(x, big)).amin(dim=dims, keepdim=True)
            xmax = torch.where(v, x, torch.full_like(x, -big)).amax(dim=dims, keepdim=True)
            rng = (xmax - xmin).clamp_min(1e-6)
            stat_shape = xmin.shape
            gam = lo + (hi - lo) * torch.rand(
                stat_shape, generator=g, device=x.device, dtype=x.dtype
            )
            unit = ((x - xmin) / rng).clamp(0, 1)
            out = xmin + rng * unit.pow(gam)
            return torch.where(_per_sample(chosen, x.ndim) & v, out, x)

        _map_images(batch, apply)

    @staticmethod
    def _brightness(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        b = chosen.shape[0]
        ref = _first_image(batch["image"])
        shift = (2 * torch.rand(b, generator=g, device=ref.device) - 1) * float(spec["range"])
        shift = torch.where(chosen, shift, torch.zeros_like(shift))
        _map_images(batch, lambda x: x + _per_sample(shift, x.ndim).to(x.dtype))

    @staticmethod
    def _contrast(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        lo, hi = spec["range"]
        ref = _first_image(batch["image"])
        factor = lo + (hi - lo) * torch.rand(chosen.shape[0], generator=g, device=ref.device)
        factor = torch.where(chosen, factor, torch.ones_like(factor))
        _map_images(batch, lambda x: x * _per_sample(factor, x.ndim).to(x.dtype))

    @staticmethod
    def _gaussian_shift(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        def apply(x: torch.Tensor) -> torch.Tensor:
            shape = list(x.shape)
            for d in _channel_stats_dims(x):
                shape[d] = 1
            off = torch.randn(shape, generator=g, device=x.device, dtype=x.dtype) * float(
                spec["std"]
            )
            return x + off * _per_sample(chosen, x.ndim).to(x.dtype)

        _map_images(batch, apply)

    @staticmethod
    def _gaussian_noise(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        def apply(x: torch.Tensor) -> torch.Tensor:
            noise = torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)
            return x + noise * float(spec["std"]) * _per_sample(chosen, x.ndim).to(x.dtype)

        _map_images(batch, apply)

    @staticmethod
    def _occlusion(
        batch: Batch, g: torch.Generator, chosen: torch.Tensor, spec: Mapping[str, Any]
    ) -> None:
        ref = _first_image(batch["image"])
        b, (h, w), device = ref.shape[0], ref.shape[-2:], ref.device
        lo, hi = spec["size"]
        fh = lo + (hi - lo) * torch.rand(b, generator=g, device=device)
        fw = lo + (hi - lo) * torch.rand(b, generator=g, device=device)
        rh = (fh * h).round().long()
        rw = (fw * w).round().long()
        y0 = (torch.rand(b, generator=g, device=device) * (h - rh + 1)).floor().long()
        x0 = (torch.rand(b, generator=g, device=device) * (w - rw + 1)).floor().long()
        yy = torch.arange(h, device=device).view(1, h, 1)
        xx = torch.arange(w, device=device).view(1, 1, w)
        box = (
            (yy >= y0.view(b, 1, 1))
            & (yy < (y0 + rh).view(b, 1, 1))
            & (xx >= x0.view(b, 1, 1))
            & (xx < (x0 + rw).view(b, 1, 1))
        )
        box = box & chosen.view(b, 1, 1)
        _map_images(batch, lambda x: torch.where(_valid_like(box, x), torch.zeros_like(x), x))
