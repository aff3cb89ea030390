"""Resampling on a new grid: :func:`resize_bilinear` (the one bilinear resize that
``predict``, ``evaluate`` and the training data share) and :func:`resample_stack`.

Examples
--------
>>> import torch
>>> resize_bilinear(torch.ones(2, 8, 8), (4, 4)).shape
torch.Size([2, 4, 4])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from workbench.errors import DataError

__all__ = ["CAFFE8_VARIABLE", "resample_stack", "resize_bilinear"]

CAFFE8_VARIABLE = "sigma0_caffe8"
"""Stack variable holding σ0 already in the zone models' input representation (8-bit grey
/ 255, :func:`workbench.data.demo.db_to_uint8`), written by :func:`resample_stack`."""


def resize_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resampling of the last two axes (anti-aliased when shrinking).

    >>> resize_bilinear(torch.zeros(1, 3, 6, 6), (12, 12)).shape
    torch.Size([1, 3, 12, 12])
    """
    import torch.nn.functional as F

    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    if not flat.is_floating_point():
        flat = flat.float()
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False, antialias=shrink)
    return out.reshape(*lead, *size)


def _majority(values: np.ndarray, shape: tuple[int, int], resize: Any) -> np.ndarray:
    """Class labels ``(…, y, x)`` on a grid of ``shape``: the class whose resampled indicator
    is largest (a soft majority vote over the footprint of each output pixel)."""
    classes = np.unique(values)
    flat = values.reshape(-1, *values.shape[-2:])
    out = np.empty((flat.shape[0], *shape), dtype=values.dtype)
    for i, v in enumerate(flat):  # one image at a time keeps the indicators small
        onehot = (v[None] == classes[:, None, None]).astype(np.float32)
        out[i] = classes[resize(onehot).argmax(0)]
    return out.reshape(*values.shape[:-2], *shape)


def resample_stack(
    stack: Any, size: int | tuple[int, int], pixel_size: float, *, caffe8: bool = False
) -> Any:
    """A simulated stack brought onto a coarser (or finer) grid of the same extent, the way
    :func:`workbench.inference.predict` brings a scene to a model's pixel size.

    Continuous variables (``sigma0_db`` in dB, ``coherence``, ``optical``, ``dem``) are
    resampled with the very function ``predict`` uses (bilinear, anti-aliased when
    shrinking; :func:`resize_bilinear`), so the averaging of speckle over
    the footprint of a model pixel is the one the model meets at inference. Labels follow
    the grid: ``zones`` (and other integer variables) by a soft majority vote (the class
    with the largest resampled indicator), ``outline`` = glacier zone, ``front`` by the CaFFe
    rule the simulator uses (ocean pixels that are 4-neighbours of glacier pixels).

    Parameters
    ----------
    stack
        A scene stack with dims ``(…, y, x)`` and ``attrs["pixel_size"]`` (a simulated one:
        no NaN, so the order of resampling and normalisation does not matter).
    size
        Output ``(height, width)`` in pixels (an int: square).
    pixel_size
        Output pixel size in metres (the extent is ``size × pixel_size`` from the stack's
        upper-left corner; it should equal the stack's).
    caffe8
        Also write :data:`CAFFE8_VARIABLE`: σ0 mapped to 8-bit grey / 255 on the FINE grid
        and then resampled, as ``predict`` prepares the input of a CaFFe zone model.

    Returns
    -------
    xarray.Dataset
        The same variables and per-date coordinates on the new grid; ``attrs`` gain
        ``pixel_size`` (the new one) and ``simulated_pixel_size`` (the stack's).

    Examples
    --------
    >>> from workbench.data.synthetic import simulate_glacier
    >>> fine = simulate_glacier(seed=1, years=0.05, size=(96, 96), pixel_size=100.0).stack
    >>> coarse = resample_stack(fine, 48, 200.0, caffe8=True)
    >>> coarse.sizes["y"], coarse.attrs["pixel_size"], coarse.attrs["simulated_pixel_size"]
    (48, 200.0, 100.0)
    >>> bool(coarse.sigma0_db.std() < fine.sigma0_db.std())   # speckle averaged
    True
    """
    import xarray as xr

    from workbench.data.demo import db_to_uint8
    from workbench.data.encoding import GLACIER, OCEAN

    if np.isscalar(size):
        shape = (int(size), int(size))  # type: ignore[arg-type]
    else:
        shape = (int(size[0]), int(size[1]))  # type: ignore[index]
    px_in = float(stack.attrs.get("pixel_size") or 0.0)
    if px_in <= 0:
        raise DataError(
            "has no pixel_size attribute",
            variable="stack",
            expected="a simulated stack (attrs['pixel_size'] in metres)",
        )

    def resize(a: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        return resize_bilinear(t, shape).numpy()

    data_vars: dict[str, Any] = {}
    zones = None
    if "zones" in stack.data_vars:
        zda = stack["zones"]
        zda = zda.transpose(*[d for d in zda.dims if d not in ("y", "x")], "y", "x")
        zones = _majority(np.asarray(zda.values), shape, resize)
        data_vars["zones"] = (zda.dims, zones, zda.attrs)
    for name, da in stack.data_vars.items():
        if name == "zones" or "y" not in da.dims or "x" not in da.dims:
            continue
        da = da.transpose(*[d for d in da.dims if d not in ("y", "x")], "y", "x")
        if name == "outline" and zones is not None:
            vals = (zones == GLACIER).astype(da.dtype)
        elif name == "front" and zones is not None:
            glacier = zones == GLACIER
            near = np.zeros_like(glacier)
            near[..., 1:, :] |= glacier[..., :-1, :]
            near[..., :-1, :] |= glacier[..., 1:, :]
            near[..., :, 1:] |= glacier[..., :, :-1]
            near[..., :, :-1] |= glacier[..., :, 1:]
            vals = ((zones == OCEAN) & near).astype(da.dtype)
        elif np.issubdtype(da.dtype, np.floating):
            vals = resize(np.asarray(da.values))
        else:
            vals = _majority(np.asarray(da.values), shape, resize)
        data_vars[name] = (da.dims, vals, da.attrs)
    if caffe8 and "sigma0_db" in stack.data_vars:
        sig = stack["sigma0_db"].transpose("time", "y", "x")
        grey = db_to_uint8(np.asarray(sig.values, np.float32)).astype(np.float32) / 255.0
        data_vars[CAFFE8_VARIABLE] = (
            ("time", "y", "x"),
            resize(grey),
            {"long_name": "sigma0 as 8-bit grey / 255, resampled"},
        )
    x0 = float(stack["x"].values[0]) - px_in / 2.0  # outer edges of the stack
    y0 = float(stack["y"].values[0]) + px_in / 2.0
    step = float(pixel_size)
    coords: dict[str, Any] = {
        k: v
        for k, v in stack.coords.items()
        if k not in ("x", "y", "spatial_ref") and "x" not in v.dims and "y" not in v.dims
    }
    coords["x"] = ("x", x0 + (np.arange(shape[1]) + 0.5) * step, stack["x"].attrs)
    coords["y"] = ("y", y0 - (np.arange(shape[0]) + 0.5) * step, stack["y"].attrs)
    attrs = {**stack.attrs, "pixel_size": step, "simulated_pixel_size": px_in}
    out = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    crs = stack.rio.crs if hasattr(stack, "rio") else None
    if crs is not None:
        from affine import Affine

        out = out.rio.write_crs(crs).rio.write_transform(Affine(step, 0.0, x0, 0.0, -step, y0))
    return out
