"""Test-time augmentation and ensembles (SSL4SAR, docs/science.md §1.8: 5 models × 4 rotations).

:func:`tta_predict` runs a model on transformed copies of the input and maps each output
back into the input frame; :func:`ensemble_mean_std` averages probability maps and gives a
per-pixel standard deviation as the uncertainty map; :func:`ensemble_predict` does both for
several models.

Arrays are NumPy arrays or torch tensors with the two spatial axes LAST (``(..., H, W)``,
e.g. ``(N, C, H, W)`` images and ``(N, K, H, W)`` probabilities); results have the type of
the model output.

Examples
--------
>>> import numpy as np
>>> model = lambda x: np.concatenate([x, 1 - x], axis=1)   # 2 "probabilities" per pixel
>>> x = np.random.default_rng(0).uniform(size=(1, 1, 4, 5))
>>> outs = tta_predict(model, x)
>>> len(outs), all(np.allclose(o, model(x)) for o in outs)  # equivariant model: all agree
(4, True)
>>> mean, std = ensemble_mean_std(outs)
>>> float(std.max())
0.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from workbench.errors import ConfigError, DataError

__all__ = [
    "TTA_TRANSFORMS",
    "apply_transform",
    "invert_transform",
    "tta_predict",
    "ensemble_mean_std",
    "ensemble_predict",
]

#: Supported transforms: name → (number of 90° rotations, flip axis or None), applied as
#: "flip first, then rotate" on the last two axes. ``rot90`` is counter-clockwise
#: (``numpy.rot90``/``torch.rot90`` with ``k=1`` on ``(H, W)``).
TTA_TRANSFORMS: dict[str, tuple[int, int | None]] = {
    "rot0": (0, None),
    "rot90": (1, None),
    "rot180": (2, None),
    "rot270": (3, None),
    "hflip": (0, -1),  # mirror left ↔ right
    "vflip": (0, -2),  # mirror top ↔ bottom
    "transpose": (1, -1),  # hflip then rot90 = swap H and W
    "antitranspose": (1, -2),
}


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _spec(name: str) -> tuple[int, int | None]:
    try:
        return TTA_TRANSFORMS[name]
    except KeyError:
        raise ConfigError(
            f"unknown test-time transform {name!r}",
            variable="transforms",
            expected=f"names from {sorted(TTA_TRANSFORMS)}",
        ) from None


def _rot(x: Any, k: int) -> Any:
    k %= 4
    if k == 0:
        return x
    if _is_torch(x):
        return x.rot90(k, dims=(-2, -1))
    return np.rot90(x, k, axes=(-2, -1))


def _flip(x: Any, axis: int | None) -> Any:
    if axis is None:
        return x
    return x.flip(axis) if _is_torch(x) else np.flip(x, axis=axis)


def apply_transform(x: Any, name: str) -> Any:
    """Apply a named transform to the last two axes of ``x`` (flip first, then rotate).

    Examples
    --------
    >>> a = np.arange(6).reshape(2, 3)
    >>> apply_transform(a, "rot90").tolist()
    [[2, 5], [1, 4], [0, 3]]
    >>> apply_transform(a, "transpose").tolist()
    [[0, 3], [1, 4], [2, 5]]
    """
    k, axis = _spec(name)
    return _rot(_flip(x, axis), k)


def invert_transform(y: Any, name: str) -> Any:
    """Undo :func:`apply_transform` on a model output (rotate back, then flip back).

    Examples
    --------
    >>> a = np.arange(12).reshape(3, 4)
    >>> all(np.array_equal(invert_transform(apply_transform(a, t), t), a)
    ...     for t in TTA_TRANSFORMS)
    True
    """
    k, axis = _spec(name)
    return _flip(_rot(y, -k), axis)


def _copy(x: Any) -> Any:
    return x.contiguous() if _is_torch(x) else np.ascontiguousarray(x)


def tta_predict(
    model_fn: Callable[[Any], Any],
    images: Any,
    transforms: Sequence[str] = ("rot0", "rot90", "rot180", "rot270"),
) -> list[Any]:
    """Run ``model_fn`` on each transformed copy of ``images``; return aligned outputs.

    For each transform ``t``: ``invert_transform(model_fn(apply_transform(images, t)), t)``.
    Every returned map is therefore in the frame of the input, ready for
    :func:`ensemble_mean_std`. With torch inputs the model runs under
    ``torch.inference_mode()`` (and the caller sets ``model.eval()``).

    Parameters
    ----------
    model_fn
        Maps images ``(..., H', W')`` to per-pixel outputs ``(..., H', W')`` (e.g.
        probabilities ``(N, K, H', W')``) in the same spatial frame.
    images
        Input batch, spatial axes last; NumPy array or torch tensor. Rotations by 90° of a
        non-square image swap ``H`` and ``W``; the model must accept that shape.
    transforms
        Names from :data:`TTA_TRANSFORMS`; the default is SSL4SAR's 4 rotations. Add
        ``"hflip"``, ``"vflip"``, ``"transpose"``, ``"antitranspose"`` for all 8 dihedral
        transforms.

    Returns
    -------
    list
        One output per transform, in input frame and order of ``transforms``.

    Examples
    --------
    >>> pattern = np.arange(4.0).reshape(1, 1, 2, 2)
    >>> model = lambda x: x * 0 + pattern          # NOT rotation-equivariant
    >>> outs = tta_predict(model, np.zeros((1, 1, 2, 2)), ["rot0", "rot90"])
    >>> outs[1][0, 0].tolist()                      # its fixed pattern, rotated back (cw)
    [[2.0, 0.0], [3.0, 1.0]]
    """
    if isinstance(transforms, str):
        transforms = (transforms,)
    if not transforms:
        raise ConfigError(
            "no test-time transforms given",
            variable="transforms",
            expected="at least one name, e.g. 'rot0'",
        )
    specs = [(_spec(t), t) for t in transforms]
    outs = []
    ctx: Any = None
    if _is_torch(images):
        import torch

        ctx = torch.inference_mode()
    for _, name in specs:
        x = _copy(apply_transform(images, name))
        if ctx is not None:
            with ctx:
                y = model_fn(x)
        else:
            y = model_fn(x)
        if tuple(y.shape[-2:]) != tuple(x.shape[-2:]):
            raise DataError(
                f"model output has spatial shape {tuple(y.shape[-2:])} for an "
                f"input of {tuple(x.shape[-2:])}",
                variable="model_fn",
                expected="outputs on the input's pixel grid (spatial axes last)",
            )
        outs.append(_copy(invert_transform(y, name)))
    return outs


def ensemble_mean_std(
    prob_list: Sequence[Any],
    *,
    class_axis: int = 1,
    uncertainty: Literal["predicted", "mean", "none"] = "predicted",
) -> tuple[Any, Any]:
    """Mean probabilities and per-pixel standard deviation of several probability maps.

    Parameters
    ----------
    prob_list
        Probability maps of equal shape (members of an ensemble and/or TTA outputs), classes
        along ``class_axis``; NumPy arrays or torch tensors.
    class_axis
        The class axis (1 for ``(N, K, H, W)``, 0 for ``(K, H, W)``).
    uncertainty
        How the per-class standard deviations (population std over members, ``ddof=0``)
        become one map: ``"predicted"`` (default, SSL4SAR's uncertainty map) — the std of
        the probability of the class predicted by the MEAN (its argmax); ``"mean"`` — the
        std averaged over classes; ``"none"`` — return the per-class std unreduced.

    Returns
    -------
    mean
        Mean probabilities, same shape as each member.
    std
        Uncertainty map with ``class_axis`` removed (or per-class std for ``"none"``).

    Examples
    --------
    >>> a = np.array([[0.8, 0.2]]).T; b = np.array([[0.6, 0.4]]).T   # (K=2, 1) each
    >>> mean, std = ensemble_mean_std([a, b], class_axis=0)
    >>> mean.ravel().round(3).tolist(), std.round(3).tolist()
    ([0.7, 0.3], [0.1])
    """
    members = list(prob_list)
    if not members:
        raise ConfigError(
            "no probability maps given", variable="prob_list", expected="at least one map"
        )
    shapes = {tuple(m.shape) for m in members}
    if len(shapes) != 1:
        raise DataError(
            f"probability maps have different shapes {sorted(shapes)}",
            variable="prob_list",
            expected="maps of one shape",
        )
    if uncertainty not in ("predicted", "mean", "none"):
        raise ConfigError(
            f"unknown uncertainty {uncertainty!r}",
            variable="uncertainty",
            expected="'predicted', 'mean' or 'none'",
        )
    if _is_torch(members[0]):
        import torch

        stack = torch.stack([m.float() for m in members])
        mean = stack.mean(0)
        std = stack.std(0, correction=0)
        ax = class_axis % mean.ndim
        if uncertainty == "predicted":
            idx = mean.argmax(dim=ax, keepdim=True)
            return mean, std.gather(ax, idx).squeeze(ax)
        if uncertainty == "mean":
            return mean, std.mean(dim=ax)
        return mean, std
    stack = np.stack([np.asarray(m, dtype=np.float64) for m in members])
    mean = stack.mean(0)
    std = stack.std(0)
    ax = class_axis % mean.ndim
    if uncertainty == "predicted":
        idx = np.expand_dims(mean.argmax(axis=ax), ax)
        return mean, np.take_along_axis(std, idx, axis=ax).squeeze(ax)
    if uncertainty == "mean":
        return mean, std.mean(axis=ax)
    return mean, std


def ensemble_predict(
    model_fns: Sequence[Callable[[Any], Any]],
    images: Any,
    transforms: Sequence[str] = ("rot0", "rot90", "rot180", "rot270"),
    *,
    class_axis: int = 1,
    uncertainty: Literal["predicted", "mean", "none"] = "predicted",
) -> tuple[Any, Any]:
    """Every model × every transform, averaged: ``(mean probabilities, uncertainty map)``.

    SSL4SAR's ensemble is 5 models × 4 rotations; the argmax of ``mean`` over
    ``class_axis`` is the prediction.

    Examples
    --------
    >>> m1 = lambda x: np.concatenate([x, 1 - x], axis=1)
    >>> m2 = lambda x: np.concatenate([1 - x, x], axis=1)
    >>> mean, std = ensemble_predict([m1, m2], np.full((1, 1, 2, 2), 0.75))
    >>> float(mean[0, 0, 0, 0]), float(std[0, 0, 0])
    (0.5, 0.25)
    """
    outs: list[Any] = []
    for fn in model_fns:
        outs.extend(tta_predict(fn, images, transforms))
    return ensemble_mean_std(outs, class_axis=class_axis, uncertainty=uncertainty)
