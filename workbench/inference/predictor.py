"""What a model needs from a scene, and an ensemble × test-time-augmentation predictor.

:class:`InputSpec` reads everything about a model's input from its checkpoint metadata, so
callers never pass it: single image or time series, which variables (and how σ0 is
represented), the normalisation, the model's pixel size, the number of acquisitions it was
trained on, its classes, its calibration. The rules, in order:

* **time series** — models ``icemapper3d`` and ``convlstm_unet`` (``B × T × C × H × W``);
  every other model takes one date (``B × C × H × W``).
* **sources** — a multi-source model (``glavitu``: a dict ``{source: B × C × H × W}``) gets
  each source built from the stack variables of ``train_config["data"]["sources"]``
  (``{source: [variables]}``, as in training), else from :data:`SOURCE_VARIABLES` (optical →
  ``optical``; dem → ``dem``, ``slope``; sar → ``sigma0_db``; coherence → ``coherence``).
  ``slope`` is derived from ``dem`` when the stack lacks it (degrees, as
  :func:`workbench.training.datamodules.add_slope`). A source the model declares optional
  may be absent from the stack (all its variables): the model then uses its learned
  "missing" vector; any other missing variable is an error naming it and its source. Each
  source is normalised with its own entry of the checkpoint's per-source ``normalization``.
* **bands** — ``train_config["data"]["bands"]``: the bands selected from variables with a
  ``band`` dim (e.g. the 6 optical bands), in that order.
* **representation** — ``"caffe8"``: σ0 in dB mapped to 8 bits exactly like the CaFFe export
  of the demo world (:func:`workbench.data.demo.db_to_uint8`) and divided by 255, the input
  of the CaFFe zone models; used when ``train_config["task"] == "zones"`` with data from a
  CaFFe folder or the demo world, or — without a training configuration — for the 4-class
  zone models ``caffe_unet`` and ``ssl4sar_hybrid``. Otherwise ``"raw"``: the stack's
  variables as they are (σ0 in dB, coherence, …).
* **variables** — ``train_config["data"]["variables"]`` for raw inputs, else σ0 (and
  coherence when the model takes 2 features per date).
* **normalisation** — the checkpoint's ``normalization`` (mean/std per channel), applied
  after the representation; NaN (nodata) becomes 0 after normalisation (the channel mean),
  as in training.
* **pixel size** — ``train_config["pixel_size"]``, else ``train_config["inference"]["pixel_size"]``,
  else ``train_config["data"]["pixel_size"]`` when the data were the demo world (whose pixel
  size is known); else unknown (the scene is used at its own resolution).
* **time steps** — ``train_config["data"]["time_steps"]`` (time-series models).
* **window** — ``train_config["validation"]["window"]``, the sliding window used in training.
* **calibration** — ``metrics["calibration"]`` or ``train_config["calibration"]``: a saved
  :class:`~workbench.evaluation.CalibrationMap` (raw → calibrated confidence) and/or
  :class:`~workbench.evaluation.TemperatureScaling` (logits / T before the softmax), one dict
  or a list of both.

:class:`Predictor` holds one or several models (an ensemble) and optional test-time
augmentation; called on a batch of raw windows it returns mean class probabilities and, with
more than one member (models × transforms), their per-pixel standard deviation
(:func:`workbench.evaluation.ensemble_mean_std`: the std of the predicted class).

Examples
--------
>>> import torch
>>> from workbench.models import create_model
>>> predictor = Predictor(create_model("caffe_unet", preset="small"), tta=True, device="cpu")
>>> predictor.spec.representation, predictor.spec.variables, predictor.n_members
('caffe8', ('sigma0_db',), 4)
>>> mean, std = predictor(torch.rand(2, 1, 32, 32))
>>> tuple(mean.shape), tuple(std.shape)
((2, 4, 32, 32), (2, 32, 32))
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from workbench.data.patches import Normalization
from workbench.device import autocast_context, resolve_device
from workbench.errors import CheckpointError, ConfigError, DataError
from workbench.evaluation import (
    CalibrationMap,
    TemperatureScaling,
    ensemble_mean_std,
    tta_predict,
)

__all__ = [
    "TIME_SERIES_MODELS",
    "SOURCE_VARIABLES",
    "SourceSpec",
    "TTA_ROTATIONS",
    "InputSpec",
    "Predictor",
    "as_predictor",
    "checkpoint_fingerprint",
]

TIME_SERIES_MODELS: frozenset[str] = frozenset({"icemapper3d", "convlstm_unet"})
"""Registered models that take a time series ``B × T × C × H × W``."""

TTA_ROTATIONS: tuple[str, ...] = ("rot0", "rot90", "rot180", "rot270")
"""The test-time augmentation of ``tta=True``: SSL4SAR's 4 rotations (docs/science.md §1.8)."""

SOURCE_VARIABLES: dict[str, tuple[str, ...]] = {
    "optical": ("optical",),
    "dem": ("dem", "slope"),
    "sar": ("sigma0_db",),
    "coherence": ("coherence",),
}
"""Stack variables of each GlaViTU source when the checkpoint records no
``data.sources`` (the packaged ``glavitu.yaml`` configuration)."""

MULTI_SOURCE_MODELS: frozenset[str] = frozenset({"glavitu"})

_ZONE_MODELS = frozenset({"caffe_unet", "ssl4sar_hybrid"})
_CAFFE_KINDS = frozenset({"caffe", "demo"})


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping):
            return None
        mapping = mapping.get(key)
    return mapping


def _calibration_of(obj: Any) -> tuple[CalibrationMap | None, TemperatureScaling | None]:
    """Parse a saved calibration (a dict, a list of dicts, or the objects themselves)."""
    cmap, temp = None, None
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    for item in items:
        if item is None:
            continue
        if isinstance(item, CalibrationMap):
            cmap = item
        elif isinstance(item, TemperatureScaling):
            temp = item
        elif isinstance(item, Mapping) and item.get("kind") == "CalibrationMap":
            cmap = CalibrationMap.from_dict(item)
        elif isinstance(item, Mapping) and item.get("kind") == "TemperatureScaling":
            temp = TemperatureScaling.from_dict(item)
        else:
            raise ConfigError(
                f"is a {type(item).__name__}",
                variable="calibration",
                expected="a CalibrationMap / TemperatureScaling or its to_dict()",
            )
    return cmap, temp


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """One input source of a multi-source model.

    Attributes
    ----------
    name
        The model's source name (e.g. ``"dem"``).
    variables
        Stack variables concatenated on the channel axis (``band`` dims add channels).
    channels
        Channels the model's branch takes.
    optional
        The model may run without it (all its variables absent from the stack).
    normalization
        Its per-channel normalisation, or None.
    """

    name: str
    variables: tuple[str, ...]
    channels: int
    optional: bool
    normalization: Normalization | None = None


def _source_specs(
    name: str, config: Mapping[str, Any], train: Mapping[str, Any], norm: Any, path: str | None
) -> tuple[SourceSpec, ...]:
    """The sources of a multi-source model from its config and checkpoint metadata."""
    model_sources = dict(config.get("sources") or {})
    optional = set(config.get("optional_sources") or ())
    declared = _get(train, "data", "sources")
    out = []
    for src, channels in model_sources.items():
        if declared:
            if src not in declared:
                raise CheckpointError(
                    f"lists sources {sorted(declared)} but the model takes {src!r}",
                    path=path,
                    variable="train_config.data.sources",
                    expected=f"variables for every source of the model {sorted(model_sources)}",
                )
            variables = tuple(str(v) for v in declared[src])
        elif src in SOURCE_VARIABLES:
            variables = SOURCE_VARIABLES[src]
        else:
            raise CheckpointError(
                f"has no data.sources and the model's source {src!r} has no default variables",
                path=path,
                variable="train_config.data.sources",
                expected=f"{{source: [variables]}} for {sorted(model_sources)}",
            )
        snorm = None
        if isinstance(norm, Mapping) and isinstance(norm.get(src), Mapping):
            snorm = Normalization.from_dict(norm[src])
            if snorm.channels != int(channels):
                raise CheckpointError(
                    f"has {snorm.channels} channels for source {src!r}, the model takes {channels}",
                    path=path,
                    variable="normalization",
                )
        out.append(SourceSpec(src, variables, int(channels), src in optional, snorm))
    if isinstance(norm, Mapping) and "mean" in norm:  # one flat normalisation: split it
        flat = Normalization.from_dict(norm)
        total = sum(s.channels for s in out)
        if flat.channels != total:
            raise CheckpointError(
                f"normalisation has {flat.channels} channels, the model's sources {total}",
                path=path,
                variable="normalization",
            )
        c, split = 0, []
        for s in out:
            split.append(
                dataclasses.replace(
                    s,
                    normalization=Normalization(
                        flat.mean[c : c + s.channels], flat.std[c : c + s.channels]
                    ),
                )
            )
            c += s.channels
        out = split
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """What a model expects from a scene stack (see the module docstring for the rules).

    Attributes
    ----------
    model_name
        Registry name ('' for a plain module).
    temporal
        True for a time-series model (``B × T × C × H × W``).
    representation
        ``"caffe8"`` (σ0 → 8-bit grey / 255) or ``"raw"`` (variables as they are).
    variables
        Stack variables stacked on the channel axis, in order (a ``band`` dim adds channels).
    channels
        Channels the model takes.
    normalization
        Per-channel normalisation, or None.
    pixel_size
        The model's pixel size in metres, or None (use the scene's).
    time_steps
        Acquisitions per input in training (time-series models), or None.
    num_classes, class_names, class_values
        Output classes, their names and on-disk values (None when unknown).
    window
        The sliding window of the training configuration, or None.
    min_size
        Smallest input side the model accepts (its target crop), 1 otherwise.
    calibration_map, temperature
        Calibration found in the checkpoint (None when absent).
    sources
        Multi-source models: the sources in the model's order (``variables`` is then their
        variables, concatenated); None for single-input models.
    bands
        Bands selected from variables with a ``band`` dim, or None (all, as stored).
    """

    model_name: str
    temporal: bool
    representation: str
    variables: tuple[str, ...]
    channels: int
    normalization: Normalization | None
    pixel_size: float | None
    time_steps: int | None
    num_classes: int
    class_names: tuple[str, ...]
    class_values: tuple[int, ...] | None
    window: int | None
    min_size: int
    calibration_map: CalibrationMap | None = dataclasses.field(default=None, compare=False)
    temperature: TemperatureScaling | None = dataclasses.field(default=None, compare=False)
    sources: tuple[SourceSpec, ...] | None = None
    bands: tuple[str, ...] | None = None

    def normalization_for(self, sources: Sequence[str] | None = None) -> Normalization | None:
        """The normalisation of the channels fed to the model: of ``sources`` (present
        sources of a multi-source model, in the model's order; default: all), else
        :attr:`normalization`. Channels of a source without one are left as they are.

        Examples
        --------
        >>> from workbench.models import create_model
        >>> spec = InputSpec.from_model(create_model("glavitu", preset="small"))
        >>> [(s.name, s.variables, s.channels, s.optional) for s in spec.sources][:2]
        [('optical', ('optical',), 6, False), ('dem', ('dem', 'slope'), 2, False)]
        >>> spec.normalization_for(["optical", "dem"]) is None
        True
        """
        if self.sources is None:
            return self.normalization
        chosen = [s for s in self.sources if sources is None or s.name in sources]
        if all(s.normalization is None for s in chosen):
            return None
        mean: list[float] = []
        std: list[float] = []
        for s in chosen:
            n = s.normalization
            mean += list(n.mean) if n is not None else [0.0] * s.channels
            std += list(n.std) if n is not None else [1.0] * s.channels
        return Normalization(tuple(mean), tuple(std))

    @property
    def label_name(self) -> str:
        """``"zones"`` for 4-class zone models, ``"mask"`` for 2-class models, else ``"labels"``."""
        if self.num_classes == 4 and (
            self.class_names[:1] == ("na",) or self.class_values == (0, 64, 127, 254)
        ):
            return "zones"
        if self.num_classes == 2:
            return "mask"
        return "labels"

    @classmethod
    def from_model(cls, model: nn.Module) -> InputSpec:
        """Read the spec from ``model.checkpoint_info`` (set by ``load_model``) and the model.

        Examples
        --------
        >>> from workbench.models import create_model
        >>> spec = InputSpec.from_model(create_model("icemapper3d", preset="small"))
        >>> spec.temporal, spec.variables, spec.label_name
        (True, ('sigma0_db', 'coherence'), 'mask')
        """
        info = getattr(model, "checkpoint_info", None)
        config = dict(getattr(model, "config", None) or {})
        name = (info.model_name if info is not None else getattr(model, "model_name", "")) or ""
        train = dict(info.train_config or {}) if info is not None else {}
        temporal = name in TIME_SERIES_MODELS
        path = getattr(info, "path", None)
        norm = info.normalization if info is not None else None
        bands = _get(train, "data", "bands")
        bands = tuple(str(b) for b in bands) if bands else None
        if name in MULTI_SOURCE_MODELS:
            sources = _source_specs(name, config, train, norm, path)
            return cls._finish(
                model,
                info,
                config,
                train,
                model_name=name,
                temporal=False,
                representation="raw",
                variables=tuple(v for s in sources for v in s.variables),
                channels=sum(s.channels for s in sources),
                normalization=None,
                sources=sources,
                bands=bands,
            )
        channels = int(config.get("in_features" if temporal else "in_chans", 1) or 1)
        task, kind = train.get("task"), _get(train, "data", "kind")
        if train:
            caffe8 = not temporal and task == "zones" and kind in _CAFFE_KINDS
        else:
            caffe8 = (
                not temporal and name in _ZONE_MODELS and int(config.get("num_classes", 4)) == 4
            )
        if caffe8:
            variables: tuple[str, ...] = ("sigma0_db",)
            if channels != 1:
                raise CheckpointError(
                    f"takes {channels} channels but its CaFFe-like input has one",
                    path=getattr(info, "path", None),
                    variable="in_chans",
                )
        else:
            listed = _get(train, "data", "variables")
            if listed and not _get(train, "data", "sources"):
                variables = tuple(str(v) for v in listed)
            else:
                variables = ("sigma0_db", "coherence")[: max(1, min(channels, 2))]
        normalization = Normalization.from_dict(norm) if norm and "mean" in norm else None
        if normalization is not None and normalization.channels != channels:
            raise CheckpointError(
                f"normalisation has {normalization.channels} channels, the model takes {channels}",
                path=getattr(info, "path", None),
                variable="normalization",
            )
        return cls._finish(
            model,
            info,
            config,
            train,
            model_name=name,
            temporal=temporal,
            representation="caffe8" if caffe8 else "raw",
            variables=variables,
            channels=channels,
            normalization=normalization,
            sources=None,
            bands=bands,
        )

    @classmethod
    def _finish(
        cls,
        model: nn.Module,
        info: Any,
        config: Mapping[str, Any],
        train: Mapping[str, Any],
        **fields: Any,
    ) -> InputSpec:
        """The fields every model shares: pixel size, steps, classes, window, calibration."""
        kind = _get(train, "data", "kind")
        pixel = (
            train.get("pixel_size")
            or _get(train, "inference", "pixel_size")
            or (_get(train, "data", "pixel_size") if kind == "demo" else None)
        )
        steps = _get(train, "data", "time_steps") if fields["temporal"] else None
        num_classes = int(config.get("num_classes") or 0)
        classes = info.classes if info is not None else None
        if classes is None and hasattr(model, "default_classes"):
            classes = model.default_classes()
        if not num_classes:
            num_classes = len(classes["names"]) if classes else 0
        names = (
            tuple(classes["names"]) if classes else tuple(f"class{i}" for i in range(num_classes))
        )
        values = (
            tuple(int(v) for v in classes["values"]) if classes and classes.get("values") else None
        )
        window = _get(train, "validation", "window")
        calibration = None
        if info is not None:
            calibration = _get(info.metrics, "calibration") or train.get("calibration")
        cmap, temp = _calibration_of(calibration)
        return cls(
            **fields,
            pixel_size=float(pixel) if pixel else None,
            time_steps=int(steps) if steps else None,
            num_classes=num_classes,
            class_names=names,
            class_values=values,
            window=int(window) if window else None,
            min_size=int(config.get("target_size") or 1),
            calibration_map=cmap,
            temperature=temp,
        )

    def describe(self) -> dict[str, Any]:
        """Plain summary (for dataset attributes and manifests)."""
        out = {
            "model": self.model_name,
            "temporal": self.temporal,
            "representation": self.representation,
            "variables": list(self.variables),
            "pixel_size": self.pixel_size,
            "time_steps": self.time_steps,
            "classes": list(self.class_names),
        }
        if self.sources is not None:
            out["sources"] = {s.name: list(s.variables) for s in self.sources}
        return out


def checkpoint_fingerprint(path: str | os.PathLike[str]) -> str:
    """A short identity of a checkpoint file: its resolved path, size and modification time.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.pt"; _ = p.write_bytes(b"x")
    >>> len(checkpoint_fingerprint(p))
    16
    """
    p = Path(path).resolve()
    st = p.stat()
    return hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _is_model_like(obj: Any) -> bool:
    return isinstance(obj, (nn.Module, str, os.PathLike))


class Predictor:
    """One model or an ensemble, with optional test-time augmentation, on one device.

    Parameters
    ----------
    models
        A model, a checkpoint path, or a sequence of those (an ensemble: probabilities are
        averaged over every model × transform). Members must agree on the input (time series
        or not, variables, representation, pixel size) and the classes; each applies its own
        normalisation and temperature.
    tta
        ``False``, ``True`` (the 4 rotations of :data:`TTA_ROTATIONS`) or transform names of
        :data:`workbench.evaluation.TTA_TRANSFORMS`.
    device
        ``None``: checkpoints go to ``"auto"`` and modules stay where they are; else the
        device every member is moved to.
    calibration
        ``"checkpoint"`` (default): the first member's saved calibration; ``None``: none; or a
        :class:`~workbench.evaluation.CalibrationMap` / its dict (overrides the checkpoint's map).
    autocast
        bf16 autocast on a GPU (a no-op on the CPU).

    Attributes
    ----------
    spec : InputSpec
        The shared input spec (of the first member).
    transforms : tuple of str
        Test-time transforms (``("rot0",)`` without TTA).
    n_members : int
        Models × transforms.
    """

    def __init__(
        self,
        models: nn.Module | str | os.PathLike[str] | Sequence[Any],
        *,
        tta: bool | Sequence[str] = False,
        device: str | torch.device | None = None,
        calibration: Any = "checkpoint",
        autocast: bool = True,
    ) -> None:
        from workbench.models import load_model

        items = [models] if _is_model_like(models) else list(models)
        if not items:
            raise ConfigError("no model given", variable="model", expected="a model or checkpoint")
        loaded: list[nn.Module] = []
        self.checkpoints: list[str | None] = []
        for item in items:
            if isinstance(item, (str, os.PathLike)):
                model = load_model(item, device=device or "auto")
            elif isinstance(item, nn.Module):
                model = item if device is None else item.to(resolve_device(device))
                model.eval()
            else:
                raise ConfigError(
                    f"is a {type(item).__name__}",
                    variable="model",
                    expected="a torch module or a checkpoint path",
                )
            info = getattr(model, "checkpoint_info", None)
            self.checkpoints.append(info.path if info is not None else None)
            loaded.append(model)
        self.models = loaded
        self.specs = [InputSpec.from_model(m) for m in loaded]
        self.spec = self.specs[0]
        for k, other in enumerate(self.specs[1:], start=1):
            for field in (
                "temporal",
                "representation",
                "variables",
                "channels",
                "pixel_size",
                "num_classes",
                "bands",
            ):
                if getattr(other, field) != getattr(self.spec, field):
                    raise ConfigError(
                        f"ensemble member {k} has {field} {getattr(other, field)!r}, "
                        f"member 0 {getattr(self.spec, field)!r}",
                        variable="model",
                        expected="members that take the same input and classes",
                    )
        if tta is True:
            self.transforms: tuple[str, ...] = TTA_ROTATIONS
        elif tta is False or tta is None:
            self.transforms = ("rot0",)
        else:
            self.transforms = (tta,) if isinstance(tta, str) else tuple(tta)
        self.n_members = len(self.models) * len(self.transforms)
        try:
            self.device = next(loaded[0].parameters()).device
        except StopIteration:
            self.device = resolve_device(device or "cpu")
        self.autocast = bool(autocast)
        if self.spec.num_classes < 1:  # a plain module: count its classes on a tiny input
            c = self.spec.channels
            probe = torch.zeros((1, 1, c, 32, 32) if self.spec.temporal else (1, c, 32, 32))
            with torch.inference_mode():
                k = int(self._member_fn(0)(probe.to(self.device)).shape[1])
            names = tuple(f"class{i}" for i in range(k))
            self.specs = [
                dataclasses.replace(s, num_classes=k, class_names=names) for s in self.specs
            ]
            self.spec = self.specs[0]
        if isinstance(calibration, str) and calibration == "checkpoint":
            self.calibration_map = self.spec.calibration_map
        else:
            self.calibration_map = _calibration_of(calibration)[0]

    def _present(self, sources: Sequence[str] | None) -> tuple[SourceSpec, ...] | None:
        """The sources of a multi-source spec fed in ``x`` (all by default), model order."""
        if self.spec.sources is None:
            return None
        if sources is None:
            return self.spec.sources
        unknown = sorted(set(sources) - {s.name for s in self.spec.sources})
        if unknown:
            raise ConfigError(
                f"holds unknown source(s) {unknown}",
                variable="sources",
                expected=f"some of {[s.name for s in self.spec.sources]}",
            )
        return tuple(s for s in self.spec.sources if s.name in sources)

    def _member_fn(self, k: int, sources: tuple[SourceSpec, ...] | None = None) -> Any:
        model, spec = self.models[k], self.specs[k]
        temperature = spec.temperature.temperature if spec.temperature is not None else 1.0

        def probs(x: torch.Tensor) -> torch.Tensor:
            inputs: Any = x
            if sources is not None:  # the channels of each present source, in order
                inputs, c = {}, 0
                for src in sources:
                    inputs[src.name] = x[:, c : c + src.channels]
                    c += src.channels
            with autocast_context(x.device, enabled=self.autocast):
                out = model(inputs)
            logits = out.logits if hasattr(out, "logits") else out
            return torch.softmax(logits.float() / temperature, dim=1)

        return probs

    def _prepare(
        self, x: torch.Tensor, k: int, sources: tuple[SourceSpec, ...] | None = None
    ) -> torch.Tensor:
        spec = self.specs[k]
        norm = (
            spec.normalization_for([s.name for s in sources])
            if sources is not None
            else spec.normalization
        )
        if norm is not None:
            x = norm(x)
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    @torch.inference_mode()
    def __call__(
        self,
        x: torch.Tensor,
        size: tuple[int, int] | None = None,
        sources: Sequence[str] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Probabilities of a batch of windows (raw values, NaN = nodata).

        Parameters
        ----------
        x
            ``B × C × h × w`` (or ``B × T × C × h × w`` for a time-series model) in the
            representation of :attr:`spec` but not normalised; NaN marks nodata. For a
            multi-source model: the channels of the present ``sources`` concatenated in the
            model's source order.
        size
            ``(H, W)`` to resample the windows to before the model (the model's pixel size);
            outputs are resampled back to ``(h, w)``. None: no resampling.
        sources
            Multi-source models: the sources present in ``x`` (default: all of them); the
            model's optional sources may be left out.

        Returns
        -------
        mean, std
            ``B × K × h × w`` mean probabilities and ``B × h × w`` standard deviation of the
            predicted class over members (None with a single member).
        """
        present = self._present(sources)
        x = x.to(self.device, dtype=torch.float32)
        h, w = x.shape[-2:]
        outs: list[torch.Tensor] = []
        for k in range(len(self.models)):
            xi = self._prepare(x, k, present)
            if size is not None and tuple(size) != (h, w):
                xi = _resize(xi, tuple(size))
            outs.extend(tta_predict(self._member_fn(k, present), xi, self.transforms))
        if len(outs) == 1:
            mean, std = outs[0], None
        else:
            mean, std = ensemble_mean_std(outs, class_axis=1)
        if size is not None and tuple(size) != (h, w):
            mean = _resize(mean, (h, w))
            std = _resize(std[:, None], (h, w))[:, 0] if std is not None else None
        if not bool(torch.isfinite(mean).all()):  # never confident garbage
            raise DataError(
                "gave non-finite (NaN or infinite) class probabilities: the "
                "model overflows on these inputs",
                variable="probabilities",
                expected="finite probabilities (check the checkpoint's weights "
                "and the input's units and normalisation)",
            )
        return mean, std


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resampling of the last two axes (anti-aliased when shrinking)."""
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return out.reshape(*lead, *size)


def as_predictor(
    model: Any,
    *,
    tta: bool | Sequence[str] = False,
    device: str | torch.device | None = None,
    calibration: Any = "checkpoint",
) -> Predictor:
    """Return ``model`` if it is a :class:`Predictor`, else build one from it.

    Examples
    --------
    >>> from workbench.models import create_model
    >>> p = as_predictor(create_model("caffe_unet", preset="small"))
    >>> as_predictor(p) is p
    True
    """
    if isinstance(model, Predictor):
        return model
    return Predictor(model, tta=tta, device=device, calibration=calibration)
