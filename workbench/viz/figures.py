"""Matplotlib figures of the explorer state (the PNG export; no browser needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["frame_figure"]


def _draw(ax: Any, gdf: Any, color: str, lw: float, label: str) -> None:
    from workbench.viz.views import _parts

    if gdf is None:
        return
    first = True
    for g in gdf.geometry:
        for p in _parts(g):
            ax.plot(p[:, 0], p[:, 1], color=color, lw=lw, label=label if first else None)
            first = False


def frame_figure(state: Any) -> Any:
    """The current image with the active overlays, the acquisition label as title."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from workbench.viz.views import (
        FRONT_COLOR,
        OUTLINE_COLOR,
        REF_COLOR,
        REF_OUTLINE_COLOR,
        ZONE_COLORS,
    )

    s = state.series
    img = state.image()
    x, y = img["x"].values, img["y"].values
    extent = (x[0], x[-1], y[-1], y[0]) if y[0] > y[-1] else (x[0], x[-1], y[0], y[-1])
    fig, ax = plt.subplots(figsize=(7, 6.5))
    im = ax.imshow(
        np.asarray(img.values),
        cmap="gray",
        vmin=state.clim[0],
        vmax=state.clim[1],
        extent=extent,
        origin="upper" if y[0] > y[-1] else "lower",
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label=s.units)
    on = set(state.overlays)
    if "zones" in on:
        z = state.prediction("zones")
        if z is not None:
            zz = np.where(z.values > 0, z.values, np.nan)
            ax.imshow(
                zz,
                cmap=ListedColormap([ZONE_COLORS[1], ZONE_COLORS[2], ZONE_COLORS[3]]),
                vmin=0.5,
                vmax=3.5,
                alpha=state.zones_alpha,
                extent=extent,
                origin="upper" if y[0] > y[-1] else "lower",
                interpolation="nearest",
            )
    if "reference outline" in on:
        _draw(
            ax, s.ref_at("outlines", state.date_index), REF_OUTLINE_COLOR, 1.2, "reference outline"
        )
    if "outline" in on:
        _draw(ax, state.predicted_outline(), OUTLINE_COLOR, 1.5, "predicted outline")
    if "reference front" in on:
        _draw(ax, s.ref_at("fronts", state.date_index), REF_COLOR, 2.0, "reference front")
    if "front" in on:
        _draw(ax, state.predicted_front(), FRONT_COLOR, 2.0, "predicted front")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(min(extent[2], extent[3]), max(extent[2], extent[3]))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"{state.glacier} — {state.label}", fontsize=10)
    ax.set_xlabel("x [m]" if s.crs is not None else "x [px]")
    ax.set_ylabel("y [m]" if s.crs is not None else "y [px]")
    return fig
