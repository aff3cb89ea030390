"""Seasonal analysis of a retreat table: :func:`seasonal_summary`, the annual cycle
(:func:`fit_annual_cycle`, :class:`AnnualCycle`) and :func:`summarize_retreat`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["seasonal_summary", "AnnualCycle", "fit_annual_cycle", "summarize_retreat"]


def _valid(df: pd.DataFrame) -> pd.DataFrame:
    if not {"date", "position_m"} <= set(df.columns):
        raise DataError(
            f"has columns {list(df.columns)}",
            variable="retreat table",
            expected="'date' and 'position_m' (from retreat_box/retreat_centreline)",
        )
    d = df[np.isfinite(df["position_m"].to_numpy(dtype=float))].copy()
    d["date"] = pd.to_datetime(d["date"])
    return d.sort_values("date", kind="stable")


def _smooth(dates: pd.Series, values: np.ndarray, days: float) -> np.ndarray:
    """Centred rolling median over a ``days``-long time window."""
    s = pd.Series(np.asarray(values, dtype=float), index=pd.DatetimeIndex(dates))
    if not s.index.is_unique:
        s = s.groupby(level=0).median()
        out = s.rolling(f"{int(days)}D", center=True, min_periods=1).median()
        return out.reindex(pd.DatetimeIndex(dates)).to_numpy()
    return s.rolling(f"{int(days)}D", center=True, min_periods=1).median().to_numpy()


def seasonal_summary(df: pd.DataFrame, *, smooth_days: int = 31) -> pd.DataFrame:
    """Per calendar year: seasonal maximum, the minimum after it, and their difference.

    Positions are first smoothed with a centred rolling median over ``smooth_days`` days (so
    that a single outlying front does not set the amplitude). For each year, ``max_m`` is
    the largest smoothed position (the most advanced front, usually in spring), ``min_m``
    the smallest smoothed position after it in the same year (the late-summer/autumn
    minimum), ``amplitude_m = max_m - min_m`` (seasonal retreat, peak to trough), and
    ``winter_change_m`` = this year's maximum minus the previous year's minimum (the
    re-advance over winter; NaN for the first year). Only rows with a finite position are
    used.

    Examples
    --------
    >>> dates = pd.date_range("2020-01-01", "2020-12-31", freq="7D")
    >>> pos = 1000 + 300 * np.cos(2 * np.pi * (dates.day_of_year - 120) / 365.25)
    >>> s = seasonal_summary(pd.DataFrame({"date": dates, "position_m": pos}))
    >>> int(s.loc[2020, "amplitude_m"]), s.loc[2020, "max_date"].month, s.loc[2020, "min_date"].month
    (595, 4, 10)
    """
    d = _valid(df)
    cols = [
        "n",
        "first",
        "last",
        "max_m",
        "max_date",
        "min_m",
        "min_date",
        "amplitude_m",
        "winter_change_m",
    ]
    if d.empty:
        return pd.DataFrame(columns=cols).rename_axis("year")
    d["smooth"] = _smooth(d["date"], d["position_m"].to_numpy(), smooth_days)
    rows = {}
    for year, g in d.groupby(d["date"].dt.year):
        i_max = int(np.argmax(g["smooth"].to_numpy()))
        after = g.iloc[i_max:]
        i_min = int(np.argmin(after["smooth"].to_numpy()))
        mx, mn = float(g["smooth"].iloc[i_max]), float(after["smooth"].iloc[i_min])
        rows[int(year)] = {
            "n": len(g),
            "first": g["date"].iloc[0],
            "last": g["date"].iloc[-1],
            "max_m": mx,
            "max_date": g["date"].iloc[i_max],
            "min_m": mn,
            "min_date": after["date"].iloc[i_min],
            "amplitude_m": mx - mn,
            "winter_change_m": (mx - rows[int(year) - 1]["min_m"])
            if int(year) - 1 in rows
            else float("nan"),
        }
    return pd.DataFrame.from_dict(rows, orient="index")[cols].rename_axis("year")


@dataclasses.dataclass(frozen=True)
class AnnualCycle:
    """Least-squares fit ``p(t) = offset + trend·t + a·cos(2πt) + b·sin(2πt)``, ``t`` in years.

    Attributes
    ----------
    amplitude_m, amplitude_se_m
        Semi-amplitude ``sqrt(a² + b²)`` (half the peak-to-trough range) and its standard
        error (delta method).
    peak_doy, trough_doy
        Day of year of the fitted maximum and minimum position.
    trend_m_per_yr, trend_se_m_per_yr
        Linear trend (negative: retreat) and its standard error.
    offset_m
        Fitted position at ``t0``.
    residual_std_m
        Standard deviation of the residuals.
    n
        Number of positions used.
    t0
        Time origin.
    """

    amplitude_m: float
    amplitude_se_m: float
    peak_doy: float
    trough_doy: float
    trend_m_per_yr: float
    trend_se_m_per_yr: float
    offset_m: float
    residual_std_m: float
    n: int
    t0: pd.Timestamp

    def predict(self, dates: Any, *, with_trend: bool = True) -> np.ndarray:
        """Fitted position (m) at ``dates`` (only the annual cycle if ``with_trend`` is False)."""
        t = (pd.DatetimeIndex(pd.to_datetime(dates)) - self.t0).days.to_numpy() / 365.25
        phase = 2 * np.pi * self.peak_doy / 365.25
        doy_t = (pd.DatetimeIndex(pd.to_datetime(dates)).day_of_year.to_numpy() - 1) / 365.25
        cycle = self.amplitude_m * np.cos(2 * np.pi * doy_t - phase)
        return (self.offset_m + self.trend_m_per_yr * t + cycle) if with_trend else cycle


def fit_annual_cycle(df: pd.DataFrame) -> AnnualCycle:
    """Fit a linear trend plus an annual sinusoid to the finite positions.

    The sinusoid is in calendar time (day of year), so ``peak_doy`` is comparable between
    glaciers. ``amplitude_m / amplitude_se_m`` is a signal-to-noise ratio for the seasonal
    cycle (> 3: clearly significant).

    Examples
    --------
    >>> dates = pd.date_range("2019-03-01", "2021-09-30", freq="6D")
    >>> doy = dates.day_of_year.to_numpy() - 1
    >>> pos = 5000 - 0.3 * (dates - dates[0]).days + 250 * np.cos(2 * np.pi * (doy - 120) / 365.25)
    >>> fit = fit_annual_cycle(pd.DataFrame({"date": dates, "position_m": pos}))
    >>> round(fit.amplitude_m), round(fit.peak_doy), round(fit.trend_m_per_yr)
    (250, 120, -110)
    """
    d = _valid(df)
    if len(d) < 5:
        raise DataError(
            f"has {len(d)} finite positions",
            variable="retreat table",
            expected="at least 5 to fit a trend and an annual cycle",
        )
    dates = pd.DatetimeIndex(d["date"])
    t0 = dates[0]
    t = (dates - t0).days.to_numpy() / 365.25
    w = 2 * np.pi * (dates.day_of_year.to_numpy() - 1) / 365.25
    x = np.column_stack([np.ones_like(t), t, np.cos(w), np.sin(w)])
    y = d["position_m"].to_numpy(dtype=float)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    dof = max(len(y) - 4, 1)
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.pinv(x.T @ x)
    a, b = coef[2], coef[3]
    amp = float(math.hypot(a, b))
    var_amp = (
        (a * a * cov[2, 2] + b * b * cov[3, 3] + 2 * a * b * cov[2, 3]) / amp**2
        if amp > 0
        else float(cov[2, 2])
    )
    peak = (math.atan2(b, a) % (2 * math.pi)) * 365.25 / (2 * math.pi)
    return AnnualCycle(
        amplitude_m=amp,
        amplitude_se_m=float(math.sqrt(max(var_amp, 0.0))),
        peak_doy=float(peak),
        trough_doy=float((peak + 365.25 / 2) % 365.25),
        trend_m_per_yr=float(coef[1]),
        trend_se_m_per_yr=float(math.sqrt(max(cov[1, 1], 0.0))),
        offset_m=float(coef[0]),
        residual_std_m=float(math.sqrt(s2)),
        n=len(y),
        t0=t0,
    )


def _flag_counts(df: pd.DataFrame) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in df["flags"].fillna(""):
        for item in filter(None, str(f).split(";")):
            key = item.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
    return counts


def summarize_retreat(df: pd.DataFrame) -> str:
    """A short text summary: dates, net change, flagged dates (by flag).

    Examples
    --------
    >>> df = pd.DataFrame({"date": pd.to_datetime(["2020-03-01", "2020-09-01"]),
    ...                    "position_m": [3000.0, 2500.0], "change_m": [0.0, -500.0],
    ...                    "method": "box", "flags": ["", "multipart:3"], "n_parts": [2, 3]})
    >>> print(summarize_retreat(df))
    box method: 2 dates 2020-03-01..2020-09-01, 2 with a position
    position 3000 m -> 2500 m: net change -500 m (retreat)
    flagged: 1 of 2 dates (multipart: 1)
    """
    d = df.copy()
    d["date"] = pd.to_datetime(d["date"])
    v = _valid(d)
    method = str(d["method"].iloc[0]) if "method" in d and len(d) else "?"
    lines = [
        f"{method} method: {len(d)} dates "
        f"{d['date'].min():%Y-%m-%d}..{d['date'].max():%Y-%m-%d}, {len(v)} with a position"
    ]
    if len(v):
        first, last = float(v["position_m"].iloc[0]), float(v["position_m"].iloc[-1])
        net = last - first
        word = "retreat" if net < 0 else "advance" if net > 0 else "no change"
        lines.append(f"position {first:.0f} m -> {last:.0f} m: net change {net:+.0f} m ({word})")
    if df.attrs.get("metres") == "ground":
        lines.append(
            f"distances in ground metres (on the ellipsoid; the box and lines stay in "
            f"{df.attrs.get('crs', 'their CRS')})"
        )
    counts = _flag_counts(d)
    n_flagged = int((d["flags"].fillna("") != "").sum())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    lines.append(f"flagged: {n_flagged} of {len(d)} dates" + (f" ({detail})" if detail else ""))
    k = df.attrs.get("scale_factor")
    if df.attrs.get("metres", "map") == "map" and k is not None and abs(float(k) - 1.0) > 0.005:
        k = float(k)
        lines.append(
            f"note: distances are map metres of {df.attrs.get('crs', '?')}, which has a "
            f"scale factor of {k:.4f} here: its metres are {abs(1 - k) * 100:.1f} % "
            f"{'shorter' if k < 1 else 'longer'} than on the ground (metres='ground', "
            "the default, or --metres ground, measures on the ellipsoid)"
        )
    return "\n".join(lines)
