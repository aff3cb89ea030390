"""The preview mosaic of synthetic glaciers (``docs/preview.png``): :func:`preview_figure`."""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.data.synthetic.world import SyntheticGlacier, simulate_world

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["preview_figure"]


_ZONE_COLOURS = ("#1a1a1a", "#9c7a54", "#bfe6f5", "#1f4e8c")


def preview_figure(glaciers: Sequence[SyntheticGlacier] | SyntheticGlacier) -> Figure:
    """A mosaic, one row per glacier: SAR in winter and summer, zones with the front,
    the optical image (RGB), and the front-position time series.

    Uses matplotlib's object API (no pyplot state), so it works with any backend.

    Examples
    --------
    >>> from workbench.data.synthetic import simulate_glacier
    >>> g = simulate_glacier(seed=2, years=0.2, size=(64, 64), pixel_size=160.0)
    >>> fig = preview_figure([g])
    >>> len(fig.axes)
    5
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    if isinstance(glaciers, SyntheticGlacier):
        glaciers = [glaciers]
    glaciers = list(glaciers)
    nrow = len(glaciers)
    fig = Figure(figsize=(17.5, 3.6 * nrow), layout="constrained")
    axes = fig.subplots(nrow, 5, squeeze=False, width_ratios=[1, 1, 1, 1, 1.5])
    zcmap = ListedColormap(_ZONE_COLOURS)
    for row, g in zip(axes, glaciers, strict=False):
        ds = g.stack
        times = pd.DatetimeIndex(ds.time.values)
        x, y = ds.x.values / 1000.0, ds.y.values / 1000.0
        ext = (
            x[0] - (x[1] - x[0]) / 2,
            x[-1] + (x[1] - x[0]) / 2,
            y[-1] - (y[0] - y[1]) / 2,
            y[0] + (y[0] - y[1]) / 2,
        )
        winter = int(np.argmin(np.abs((times.month - 3) + 0.0)))
        winter = (
            int(np.nonzero(times.month.isin([2, 3, 4]))[0][0])
            if times.month.isin([2, 3, 4]).any()
            else 0
        )
        summer_idx = np.nonzero(times.month.isin([7, 8]))[0]
        summer = int(summer_idx[0]) if summer_idx.size else len(times) - 1
        for ax, k, label in ((row[0], winter, "winter"), (row[1], summer, "summer")):
            ax.imshow(
                ds.sigma0_db.values[k],
                cmap="gray",
                vmin=-25,
                vmax=0,
                extent=ext,
                interpolation="nearest",
            )
            ax.set_title(f"{g.name} σ0 {str(times[k].date())} ({label})", fontsize=9)
        k = winter
        ax = row[2]
        ax.imshow(
            ds.zones.values[k], cmap=zcmap, vmin=-0.5, vmax=3.5, extent=ext, interpolation="nearest"
        )
        line = np.asarray(g.fronts.geometry.iloc[k].coords) / 1000.0
        ax.plot(line[:, 0], line[:, 1], color="#ff3b30", lw=1.2)
        bx = np.asarray(g.box.exterior.coords) / 1000.0
        ax.plot(bx[:, 0], bx[:, 1], color="#ffd60a", lw=0.8, ls="--")
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_title("zones (NA, rock, glacier, ocean), front, box", fontsize=9)
        ax = row[3]
        names = list(ds.band.values)
        if all(b in names for b in ("B4", "B3", "B2")):
            rgb = np.stack([ds.optical.sel(band=b).values for b in ("B4", "B3", "B2")], axis=-1)
            ax.imshow(np.clip(rgb / 1.0, 0, 1) ** 0.8, extent=ext, interpolation="nearest")
        else:
            ax.imshow(ds.optical.values[0], cmap="gray", extent=ext)
        ax.set_title(f"optical RGB {ds.attrs['optical_date']}", fontsize=9)
        for a in row[:4]:
            a.set_xlabel("x (km)", fontsize=8)
            a.tick_params(labelsize=7)
        row[0].set_ylabel("y (km, UTM 33N)", fontsize=8)
        ax = row[4]
        pos = g.front_position_m
        ax.plot(pos.index, pos.values, "o-", ms=3, lw=1, color="#1f4e8c", label="front position")
        ev = g.calving_events
        if len(ev):
            yy = np.interp(
                ev["date"].values.astype("int64"), pos.index.values.astype("int64"), pos.values
            )
            ax.plot(ev["date"], yy, "v", color="#ff3b30", ms=5, label="calving events")
        ax.set_ylabel("m down flow from box edge", fontsize=8)
        ax.set_title(f"{g.name}: terminus position", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    return fig


def _main() -> None:  # pragma: no cover - used to regenerate docs/preview.png
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "docs/preview.png"
    t = _time.perf_counter()
    world = simulate_world(3, seed=0, years=1.0)
    fig = preview_figure(world)
    fig.savefig(out, dpi=80)
    print(f"wrote {out} in {_time.perf_counter() - t:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    _main()
