"""HoloViews views of the explorer state (image, overlays, retreat curve) for notebooks.

Each function takes an :class:`~workbench.viz.state.ExplorerState` (or plain data) and returns
a HoloViews element to compose, e.g. in a ``HoloMap`` over the dates. The served explorer
draws the same layers with Bokeh directly (:mod:`workbench.viz.mapview`), updating its glyphs
in place on a date step. Large images are rasterized with datashader (:func:`rasterize_image`).

Examples
--------
>>> import numpy as np, xarray as xr
>>> img = xr.DataArray(np.zeros((4, 5), np.float32), dims=("y", "x"),
...                    coords={"y": [3.0, 2, 1, 0], "x": np.arange(5.0)})
>>> type(sar_image(img)).__name__
'Image'
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "sar_image",
    "zones_image",
    "scalar_image",
    "lines_path",
    "outline_path",
    "retreat_plot",
    "ZONE_COLORS",
    "rasterize_image",
    "frame_image",
    "frame_overlay",
]

if not hv.Store.renderers:  # options need a backend; notebooks call hv.extension themselves
    import holoviews.plotting.bokeh  # noqa: F401

ZONE_COLORS = {0: "#00000000", 1: "#8c6d46", 2: "#d9f0ff", 3: "#1f4e9c"}
"""NA (transparent), rock, glacier, ocean."""

FRONT_COLOR = "#ff2d55"
REF_COLOR = "#ffd60a"
OUTLINE_COLOR = "#30d158"
REF_OUTLINE_COLOR = "#64d2ff"


def _cmap(name: str) -> Any:
    if name in ("gray", "grey"):
        try:
            import colorcet as cc

            return cc.gray
        except ImportError:  # pragma: no cover
            return "gray"
    if name in ("kbc", "fire"):
        import colorcet as cc

        return getattr(cc, name)
    return name


def sar_image(
    image: xr.DataArray,
    *,
    clim: tuple[float, float] | None = None,
    cmap: str = "gray",
    units: str = "σ0 [dB]",
) -> hv.Image:
    """The image in dB (or image values) with a perceptually uniform grey map, hover on."""
    img = hv.Image(
        image.transpose("y", "x"), kdims=["x", "y"], vdims=[hv.Dimension("value", label=units)]
    )
    opts = dict(
        cmap=_cmap(cmap), colorbar=True, tools=["hover"], clipping_colors={"NaN": "#1c1c1e"}
    )
    if clim is not None:
        opts["clim"] = tuple(clim)
    return img.opts(**opts)


def rasterize_image(element: hv.Element, width: int = 700, height: int = 700) -> hv.Element:
    """Rasterize a large image with datashader (mean aggregation) to at most width × height."""
    from holoviews.operation.datashader import rasterize

    return rasterize(element, width=width, height=height, aggregator="mean", dynamic=False)


def _blank(like: xr.DataArray | None, name: str) -> hv.Image:
    """An invisible all-NaN image over ``like``'s extent (an empty hv.Image would put (0, 0)
    into the plot's ranges)."""
    if like is None:
        return hv.Image([], vdims=[name]).opts(alpha=0)
    x, y = like["x"].values, like["y"].values
    dx = abs(float(x[1] - x[0])) if len(x) > 1 else 1.0
    dy = abs(float(y[1] - y[0])) if len(y) > 1 else 1.0
    bounds = (
        float(x.min()) - dx / 2,
        float(y.min()) - dy / 2,
        float(x.max()) + dx / 2,
        float(y.max()) + dy / 2,
    )
    return hv.Image(
        np.full((2, 2), np.nan, np.float32), bounds=bounds, kdims=["x", "y"], vdims=[name]
    ).opts(alpha=0)


def zones_image(
    zones: xr.DataArray | None, alpha: float = 0.35, like: xr.DataArray | None = None
) -> hv.Image:
    """Predicted zones (0 NA, 1 rock, 2 glacier, 3 ocean) as a categorical overlay."""
    if zones is None:
        return _blank(like, "zone")
    z = zones.transpose("y", "x").astype("float32")
    z = z.where(z > 0)
    img = hv.Image(z, kdims=["x", "y"], vdims=[hv.Dimension("zone")])
    return img.opts(
        cmap=[ZONE_COLORS[1], ZONE_COLORS[2], ZONE_COLORS[3]],
        clim=(0.5, 3.5),
        alpha=float(alpha),
        colorbar=False,
        tools=["hover"],
        clipping_colors={"NaN": "#00000000"},
    )


def scalar_image(
    values: xr.DataArray | None,
    name: str,
    cmap: str = "fire",
    alpha: float = 0.6,
    like: xr.DataArray | None = None,
) -> hv.Image:
    """Confidence or uncertainty (0..1) as a translucent overlay."""
    if values is None:
        return _blank(like, name)
    v = values.transpose("y", "x").astype("float32")
    img = hv.Image(v, kdims=["x", "y"], vdims=[hv.Dimension(name, range=(0, 1))])
    return img.opts(
        cmap=_cmap(cmap),
        alpha=alpha,
        clim=(0, 1),
        tools=["hover"],
        clipping_colors={"NaN": "#00000000"},
    )


def _parts(geom: Any) -> list[np.ndarray]:
    if geom is None or geom.is_empty:
        return []
    if hasattr(geom, "geoms"):
        return [a for g in geom.geoms for a in _parts(g)]
    if geom.geom_type == "Polygon":
        return [np.asarray(geom.exterior.coords)[:, :2]] + [
            np.asarray(r.coords)[:, :2] for r in geom.interiors
        ]
    return [np.asarray(geom.coords)[:, :2]]


def lines_path(
    gdf: Any, color: str = FRONT_COLOR, label: str = "front", width: float = 3.0
) -> hv.Path:
    """Front lines (any (Multi)LineString GeoDataFrame rows) as an hv.Path."""
    paths = [] if gdf is None else [p for g in gdf.geometry for p in _parts(g)]
    return hv.Path(paths, label=label).opts(color=color, line_width=width)


def outline_path(gdf: Any, color: str = OUTLINE_COLOR, label: str = "outline") -> hv.Path:
    """Outline polygons' boundaries as an hv.Path."""
    return lines_path(gdf, color=color, label=label, width=2.0).opts(line_dash="solid")


def retreat_plot(df: pd.DataFrame, current: Any = None) -> hv.Overlay:
    """Terminus position over time (predicted and reference), a marker at ``current``."""
    layers = []
    colors = {"predicted": FRONT_COLOR, "reference": "#b08800"}
    for source in ("reference", "predicted"):
        sub = df[df["source"] == source] if len(df) else df
        if len(sub) == 0:
            continue
        sub = sub.sort_values("date")
        data = sub[["date", "position_m"]].rename(columns={"position_m": "position"})
        layers.append(
            hv.Curve(data, "date", ("position", "terminus position [m]"), label=source).opts(
                color=colors[source], line_width=2
            )
        )
        layers.append(
            hv.Scatter(data, "date", ("position", "terminus position [m]"), label=source).opts(
                color=colors[source], size=6, tools=["hover"]
            )
        )
    if not layers:
        layers.append(hv.Curve([], "date", "position").opts(line_alpha=0))
        layers.append(hv.Text(0, 0, "no retreat curve: no fronts in a box yet"))
    if current is not None:
        layers.append(hv.VLine(pd.Timestamp(current)).opts(color="#0a84ff", line_width=2))
    return hv.Overlay(layers)


def frame_image(
    series: Any,
    i: int,
    clim: tuple[float, float],
    cmap: str = "gray",
    rasterize: bool | None = None,
    size: int = 800,
) -> hv.Image:
    """The image of date ``i`` of a series, at most ``size`` pixels a side on screen.

    What the dashboard's DynamicMap returns for each frame. Larger images are decimated by an
    integer stride (``rasterize=None``, the default: pixel values stay real values for the
    hover, and the cost is independent of the scene size) or, with ``rasterize=True``,
    aggregated with datashader (mean).
    """
    img = series.image(i)
    h, w = img.sizes["y"], img.sizes["x"]
    if max(h, w) > size and not rasterize:
        stride = int(np.ceil(max(h, w) / size))
        img = img[::stride, ::stride]
    el = sar_image(img, clim=clim, cmap=cmap, units=series.units)
    if rasterize and max(h, w) > size:
        el = rasterize_image(el, width=size, height=size).opts(
            cmap=_cmap(cmap), clim=tuple(clim), colorbar=True, tools=["hover"]
        )
    return el


def frame_overlay(state: Any) -> hv.Overlay:
    """Image and active overlays of the state's current date, as one static overlay."""
    s = state.series
    img = state.image()
    layers: list[Any] = [sar_image(img, clim=state.clim, cmap=state.cmap, units=s.units)]
    on = set(state.overlays)
    if "zones" in on:
        layers.append(zones_image(state.prediction("zones"), state.zones_alpha, like=img))
    if "confidence" in on:
        layers.append(scalar_image(state.prediction("confidence"), "confidence", "kbc", like=img))
    if "uncertainty" in on:
        layers.append(
            scalar_image(state.prediction("uncertainty"), "uncertainty", "fire", like=img)
        )
    if "reference outline" in on:
        layers.append(
            outline_path(
                s.ref_at("outlines", state.date_index), REF_OUTLINE_COLOR, "reference outline"
            )
        )
    if "outline" in on:
        layers.append(outline_path(state.predicted_outline()))
    if "reference front" in on:
        layers.append(
            lines_path(s.ref_at("fronts", state.date_index), REF_COLOR, "reference front")
        )
    if "front" in on:
        layers.append(lines_path(state.predicted_front()))
    return hv.Overlay(layers)
