"""The retreat figure: position over time, seasonal cycle by year, annual cycle fit
(:func:`plot_retreat`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.geo.retreat.analysis import (
    _flag_counts,
    _smooth,
    _valid,
    fit_annual_cycle,
    seasonal_summary,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_retreat"]


_YEAR_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
_MONTH_STARTS = [1, 32, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335]
_MONTHS = "JFMAMJJASOND"


def _segments(dates: pd.Series, max_gap_days: float) -> list[np.ndarray]:
    """Index arrays of runs of ``dates`` without a gap longer than ``max_gap_days``."""
    idx = pd.DatetimeIndex(dates)
    if len(idx) == 0:
        return []
    t = np.asarray((idx - idx[0]) / pd.Timedelta(days=1), dtype=float)
    breaks = np.nonzero(np.diff(t) > max_gap_days)[0] + 1
    return np.split(np.arange(len(t)), breaks)


def plot_retreat(
    df: pd.DataFrame,
    *,
    title: str | None = None,
    smooth_days: int = 31,
    max_gap_days: float = 60.0,
    figsize: tuple[float, float] = (12.5, 8.5),
) -> Figure:
    """Retreat curve with its seasonal cycle, as a matplotlib Figure (object API only).

    Panels:

    * top: terminus position change through time (left axis) and position in the box /
      along the centre line (right axis); points coloured per year; a centred running
      median over ``smooth_days`` days (black), broken where fronts are missing for more
      than ``max_gap_days`` (shaded, e.g. the polar night for optical data); flagged dates
      as hollow red diamonds; per year a bracket from the smoothed seasonal maximum to the
      following minimum, labelled with the seasonal retreat (:func:`seasonal_summary`);
    * bottom left: the years overlaid by day of year, each relative to its first front,
      so seasonal cycles can be compared without the long-term trend (days of the year
      without fronts in any year shaded);
    * bottom right: positions minus the fitted linear trend by day of year, with the
      fitted annual sinusoid (:func:`fit_annual_cycle`) and its amplitude ± standard error.

    Examples
    --------
    >>> dates = pd.date_range("2019-03-01", "2020-10-30", freq="9D")
    >>> pos = 4000 - 200 * np.sin(2 * np.pi * (dates.day_of_year - 150) / 365.25)
    >>> df = pd.DataFrame({"date": dates, "position_m": pos, "change_m": pos - pos[0],
    ...                    "method": "box", "flags": "", "n_parts": 2})
    >>> fig = plot_retreat(df, title="demo")
    >>> len(fig.axes)                      # (the top panel's position axis is a child axis)
    3
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    d = df.copy()
    d["date"] = pd.to_datetime(d["date"])
    if "flags" not in d:
        d["flags"] = ""
    d["flags"] = d["flags"].fillna("").astype(str)
    v = _valid(d).reset_index(drop=True)
    if v.empty:
        raise DataError(
            "has no finite position to plot",
            variable="retreat table",
            expected="at least one date with a position",
        )
    if "change_m" not in v:
        v["change_m"] = v["position_m"] - v["position_m"].iloc[0]
    ref = float((v["position_m"] - v["change_m"]).median())
    v["smooth"] = _smooth(v["date"], v["change_m"].to_numpy(), smooth_days)
    years = sorted(v["date"].dt.year.unique())
    colour = {y: _YEAR_COLOURS[i % len(_YEAR_COLOURS)] for i, y in enumerate(years)}
    flagged = (v["flags"] != "").to_numpy()
    n_nan = len(d) - len(v)
    method = str(d["method"].iloc[0]) if "method" in d else ""
    runs = _segments(v["date"], max_gap_days)

    fig = Figure(figsize=figsize, layout="constrained")
    gs = fig.add_gridspec(2, 2, height_ratios=[1.2, 1])
    ax = fig.add_subplot(gs[0, :])
    ax_doy = fig.add_subplot(gs[1, 0])
    ax_an = fig.add_subplot(gs[1, 1])

    # --- time series ------------------------------------------------------------------
    gaps = []
    for r0, r1 in zip(runs[:-1], runs[1:], strict=False):
        x0, x1 = v["date"].iloc[r0[-1]], v["date"].iloc[r1[0]]
        ax.axvspan(x0, x1, color="0.92", zorder=0)
        gaps.append((x0, x1))
    for y in years:
        sel = ((v["date"].dt.year == y).to_numpy()) & ~flagged
        ax.scatter(
            v.loc[sel, "date"],
            v.loc[sel, "change_m"],
            s=24,
            color=colour[y],
            edgecolor="white",
            linewidth=0.4,
            zorder=3,
        )
    ax.scatter(
        v.loc[flagged, "date"],
        v.loc[flagged, "change_m"],
        s=52,
        marker="D",
        facecolor="none",
        edgecolor="#d62728",
        linewidth=1.4,
        zorder=4,
    )
    for run in runs:
        ax.plot(v["date"].iloc[run], v["smooth"].iloc[run], color="black", lw=1.8, zorder=2)
    ax.axhline(0.0, color="0.55", lw=0.8, ls=":")
    summary = seasonal_summary(v.assign(position_m=v["change_m"]), smooth_days=smooth_days)
    for year, row in summary.iterrows():
        if not (row["amplitude_m"] > 0 and row["min_date"] > row["max_date"]):
            continue
        c = colour.get(year, "0.3")
        ax.hlines(
            row["max_m"],
            row["max_date"],
            row["min_date"],
            colors=c,
            lw=1.0,
            ls="--",
            alpha=0.9,
            zorder=1,
        )
        ax.annotate(
            "",
            xy=(row["min_date"], row["min_m"]),
            xytext=(row["min_date"], row["max_m"]),
            arrowprops={"arrowstyle": "-|>", "color": c, "lw": 1.6, "shrinkA": 0, "shrinkB": 0},
            zorder=5,
        )
        ax.annotate(
            f"{year}: −{row['amplitude_m']:.0f} m",
            xy=(row["min_date"], 0.5 * (row["max_m"] + row["min_m"])),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=9.5,
            color=c,
            fontweight="bold",
            va="center",
        )
    ax.set_ylabel("position change since first front (m)\n+ advance, − retreat")
    sec = ax.secondary_yaxis("right", functions=(lambda y: y + ref, lambda p: p - ref))
    sec.set_ylabel(
        "m down flow from " + ("the box's upstream edge" if method == "box" else "the line's start")
    )
    net = float(v["change_m"].iloc[-1] - v["change_m"].iloc[0])
    ax.set_title(
        f"{len(v)} fronts {v['date'].iloc[0]:%Y-%m-%d} – {v['date'].iloc[-1]:%Y-%m-%d}, "
        f"net change {net:+.0f} m; brackets: seasonal retreat (smoothed maximum → "
        "following minimum)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    span = (v["date"].iloc[-1] - v["date"].iloc[0]) + pd.Timedelta(days=1)
    ax.set_xlim(v["date"].iloc[0] - 0.02 * span, v["date"].iloc[-1] + 0.13 * span)
    handles = [Line2D([], [], marker="o", ls="", color=colour[y], label=str(y)) for y in years]
    handles.append(Line2D([], [], color="black", lw=1.8, label=f"{smooth_days}-day running median"))
    if flagged.any():
        counts = _flag_counts(v)
        detail = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        handles.append(
            Line2D(
                [],
                [],
                marker="D",
                ls="",
                markerfacecolor="none",
                markeredgecolor="#d62728",
                label=f"flagged: {detail}",
            )
        )
    if gaps:
        handles.append(Patch(color="0.92", label=f"no fronts for > {max_gap_days:.0f} days"))
    if n_nan:
        handles.append(Line2D([], [], ls="", label=f"{n_nan} dates without a position"))
    ax.legend(handles=handles, loc="lower left", fontsize=8.5, ncol=2, framealpha=0.9)

    # --- years overlaid, each relative to its first front -------------------------------
    doy = v["date"].dt.day_of_year.to_numpy()
    for y in years:
        sel = (v["date"].dt.year == y).to_numpy()
        base = float(v.loc[sel, "smooth"].iloc[0])
        ax_doy.scatter(
            doy[sel],
            v.loc[sel, "change_m"] - base,
            s=12,
            color=colour[y],
            alpha=0.5,
            edgecolor="none",
        )
        ax_doy.plot(doy[sel], v.loc[sel, "smooth"] - base, color=colour[y], lw=2.2, label=str(y))
    ax_doy.axhline(0.0, color="0.55", lw=0.8, ls=":")
    ax_doy.set_title("seasonal cycle: each year relative to its first front", fontsize=10)
    ax_doy.set_ylabel("position change in the year (m)")

    # --- trend removed, with the fitted annual cycle -------------------------------------
    try:
        fit = fit_annual_cycle(v)
    except DataError:
        fit = None
    if fit is not None:
        t = (pd.DatetimeIndex(v["date"]) - fit.t0).days.to_numpy() / 365.25
        anomaly = v["position_m"].to_numpy() - (fit.offset_m + fit.trend_m_per_yr * t)
        for y in years:
            sel = (v["date"].dt.year == y).to_numpy()
            ax_an.scatter(
                doy[sel],
                anomaly[sel],
                s=14,
                color=colour[y],
                alpha=0.8,
                edgecolor="none",
                label=str(y),
            )
        grid = pd.date_range("2001-01-01", "2001-12-31", freq="D")
        ax_an.plot(
            grid.day_of_year,
            fit.predict(grid, with_trend=False),
            color="black",
            lw=2,
            label="annual sinusoid fit",
        )
        ax_an.axhline(0.0, color="0.55", lw=0.8, ls=":")
        ax_an.set_title(
            f"trend removed ({fit.trend_m_per_yr:+.0f} ± {fit.trend_se_m_per_yr:.0f} m/yr): "
            f"annual cycle ±{fit.amplitude_m:.0f} ± {fit.amplitude_se_m:.0f} m, "
            f"maximum on day {fit.peak_doy:.0f}",
            fontsize=10,
        )
        ax_an.set_ylabel("position − linear trend (m)")
        ax_an.legend(fontsize=8, loc="lower left")
    # day-of-year ranges without a front in any year (e.g. the polar night for optical data)
    seen = np.unique(doy)
    ext = np.concatenate([seen, [seen[0] + 366]])
    for a in (ax_doy, ax_an):
        for lo, hi in zip(ext[:-1], ext[1:], strict=False):
            if hi - lo > max_gap_days / 2:
                a.axvspan(lo, min(hi, 366), color="0.92", zorder=0)
                if hi > 366:
                    a.axvspan(1, hi - 366, color="0.92", zorder=0)
    for a in (ax_doy, ax_an):
        a.set_xlim(1, 366)
        a.set_xticks(_MONTH_STARTS)
        a.set_xticklabels(list(_MONTHS))
        a.set_xlabel("month")
        a.grid(alpha=0.3)
    ax_doy.legend(fontsize=8, loc="lower left")
    name = title
    if name is None:
        g = str(d["glacier"].iloc[0]) if "glacier" in d and len(d) else "terminus"
        name = g.replace("_", " ")
    fig.suptitle(
        f"{name}: terminus position" + (f" ({method} method)" if method else ""),
        fontsize=13,
        fontweight="bold",
    )
    return fig
