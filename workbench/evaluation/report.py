"""Evaluation reports: metrics JSON, Markdown, CSV and figures, all written atomically.

Figures use Matplotlib's object API (:class:`matplotlib.figure.Figure`), never pyplot, so
they work in any backend, thread or server.

Examples
--------
>>> import tempfile, numpy as np
>>> from workbench.evaluation.fronts import mean_distance_error
>>> p = np.zeros((8, 8), bool); p[2] = True; r = np.zeros((8, 8), bool); r[4] = True
>>> res = mean_distance_error([p], [r], [{"glacier": "SI", "resolution_m": 7.0}])
>>> paths = write_report(res, tempfile.mkdtemp(), figures=False)
>>> sorted(paths)
['csv', 'json', 'markdown', 'per_image_csv']
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._io import atomic_path, ensure_dir
from workbench.errors import ConfigError, DataError
from workbench.metrics.calibration import CalibrationMap, ReliabilityCurve
from workbench.metrics.fronts import _to_numpy
from workbench.metrics.mde import MDEResult
from workbench.metrics.segmentation import OutlineCounts, ZoneSummary

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_error_histogram",
    "plot_mde_breakdown",
    "plot_reliability_diagram",
    "plot_worst_cases",
    "markdown_table",
    "write_report",
]

_PRED_COLOR = (1.0, 0.15, 0.1)
_REF_COLOR = (0.1, 0.9, 1.0)


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def plot_error_histogram(
    result: MDEResult | np.ndarray,
    *,
    unit: str | None = None,
    bins: int = 50,
    ax: Axes | None = None,
) -> Figure:
    """Histogram of the pooled front distances with the MDE marked.

    Parameters
    ----------
    result
        An :class:`~workbench.evaluation.fronts.MDEResult` (metres when known, else pixels)
        or a 1-D array of distances.
    unit
        Axis unit label for an array (``"m"`` or ``"px"``).
    bins
        Number of histogram bins.
    ax
        Axes to draw into (a new Figure otherwise).

    Examples
    --------
    >>> fig = plot_error_histogram(np.array([0.0, 1.0, 1.0, 4.0]), unit="px")
    >>> fig.axes[0].get_xlabel()
    'distance to the other front (px)'
    """
    if isinstance(result, MDEResult):
        d = result.distances_m if result.resolution_known else result.distances_px
        unit = "m" if result.resolution_known else "px"
        title = (
            (
                f"MDE {np.mean(d):.1f} {unit} over {result.n_evaluated} images "
                f"({result.n_no_front} without predicted front)"
            )
            if d.size
            else "no distances"
        )
    else:
        d = np.asarray(result, dtype=float).ravel()
        unit = unit or "px"
        title = f"mean {d.mean():.2f} {unit} (n = {d.size})" if d.size else "no distances"
    fig, ax = _new_axes(ax, (6, 4))
    d = d[np.isfinite(d)]
    if d.size:
        ax.hist(d, bins=bins, color="0.45")
        ax.axvline(float(d.mean()), color="tab:red", label=f"mean {d.mean():.1f} {unit}")
        ax.axvline(
            float(np.median(d)),
            color="tab:blue",
            ls="--",
            label=f"median {np.median(d):.1f} {unit}",
        )
        ax.legend()
    ax.set_xlabel(f"distance to the other front ({unit})")
    ax.set_ylabel("front pixels")
    ax.set_title(title)
    return fig


def plot_mde_breakdown(
    result: MDEResult,
    by: Sequence[str] = ("glacier", "season"),
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Bar charts of the pooled MDE per group (one panel per key in ``by``).

    Each bar is labelled with its number of evaluated images and, when non-zero, the images
    without a predicted front.

    Examples
    --------
    >>> from workbench.evaluation.fronts import mean_distance_error
    >>> p = np.zeros((6, 6), bool); p[1] = True; r = np.zeros((6, 6), bool); r[3] = True
    >>> res = mean_distance_error([p, p], [r, r], [{"glacier": "A", "season": "winter"},
    ...                                            {"glacier": "B", "season": "summer"}])
    >>> len(plot_mde_breakdown(res).axes)
    2
    """
    by = [by] if isinstance(by, str) else list(by)
    for key in by:
        if key not in result.groups:
            raise ConfigError(
                f"no breakdown {key!r}", variable="by", expected=f"some of {sorted(result.groups)}"
            )
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.5 * len(by), 4), layout="constrained")
        axes = list(np.atleast_1d(fig.subplots(1, len(by))))
    else:
        axes = list(axes)
        fig = axes[0].figure
    unit = "m" if result.resolution_known else "px"
    for ax, key in zip(axes, by, strict=False):
        groups = result.groups[key]
        vals = [(g.mde_m if unit == "m" else g.mde_px) for g in groups]
        vals = [v if math.isfinite(v) else 0.0 for v in vals]
        xs = np.arange(len(groups))
        bars = ax.bar(xs, vals, color="tab:blue")
        for bar, g in zip(bars, groups, strict=True):
            label = f"n={g.n_evaluated}" + (f"\n{g.n_no_front} no front" if g.n_no_front else "")
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize="small",
            )
        ax.set_xticks(xs, [g.value for g in groups], rotation=30 if len(groups) > 4 else 0)
        ax.set_ylabel(f"MDE ({unit})")
        ax.set_title(f"MDE by {key}")
        ax.margins(y=0.2)
    return fig


def plot_reliability_diagram(
    curve: ReliabilityCurve,
    *,
    calibration_map: CalibrationMap | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Reliability diagram: accuracy vs. confidence per bin, the diagonal, the ECE.

    With ``calibration_map`` the fitted raw → calibrated map is drawn too. A second, thin
    panel shows the pixel count per bin (only when ``ax`` is not given).

    Examples
    --------
    >>> from workbench.evaluation.calibration import reliability_curve
    >>> rc = reliability_curve(np.array([0.2, 0.8, 0.9]), np.array([0, 1, 1]), n_bins=10)
    >>> fig = plot_reliability_diagram(rc)
    >>> fig.axes[0].get_ylabel()
    'accuracy'
    """
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 5.6), layout="constrained")
        ax, ax_n = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        fig, ax_n = ax.figure, None
    width = 1.0 / curve.n_bins
    ok = curve.count > 0
    ax.bar(
        curve.edges[:-1][ok],
        curve.accuracy[ok],
        width=width,
        align="edge",
        color="tab:blue",
        alpha=0.7,
        label="accuracy per bin",
    )
    ax.plot([0, 1], [0, 1], color="0.3", ls="--", lw=1, label="perfect calibration")
    if calibration_map is not None:
        xs = np.linspace(0, 1, 201)
        ax.plot(xs, calibration_map(xs), color="tab:red", label="fitted calibration map")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ece = curve.ece
    ax.set_title(f"reliability, ECE = {ece:.4f}" if math.isfinite(ece) else "reliability")
    ax.legend(loc="upper left", fontsize="small")
    if ax_n is not None:
        ax_n.bar(curve.edges[:-1], curve.count, width=width, align="edge", color="0.5")
        ax_n.set_yscale("log" if curve.count.max(initial=0) > 100 else "linear")
        ax_n.set_ylabel("pixels")
        ax_n.set_xlabel("confidence")
    else:
        ax.set_xlabel("confidence")
    return fig


def _overlay(mask: np.ndarray, color: tuple[float, float, float], width: int) -> np.ndarray:
    from scipy import ndimage

    m = np.asarray(mask, bool)
    if width > 1:
        m = ndimage.binary_dilation(m, iterations=width // 2)
    out = np.zeros((*m.shape, 4), np.float32)
    out[m] = (*color, 1.0)
    return out


def plot_worst_cases(
    images: Sequence[Any],
    pred_fronts: Sequence[Any],
    ref_fronts: Sequence[Any],
    *,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    line_width: int = 3,
) -> Figure:
    """SAR images with the predicted (red) and reference (cyan) fronts drawn over them.

    Pass the worst cases, e.g. the images of ``result.worst(k)``.

    Parameters
    ----------
    images
        2-D images (or ``(1, H, W)``), any value range (shown min–max, grey).
    pred_fronts, ref_fronts
        Front masks of the same sizes.
    titles
        One title per panel (e.g. name and MDE).
    ncols
        Panels per row.
    line_width
        Fronts are dilated to about this width (pixels) to be visible.

    Examples
    --------
    >>> img = np.random.default_rng(0).uniform(size=(16, 16))
    >>> p = np.zeros((16, 16), bool); p[5] = True; r = np.zeros((16, 16), bool); r[8] = True
    >>> fig = plot_worst_cases([img, img], [p, p], [r, r], titles=["a", "b"])
    >>> [a.get_title() for a in fig.axes]
    ['a', 'b']
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    n = len(images)
    if not (len(pred_fronts) == len(ref_fronts) == n):
        raise DataError(
            f"{n} images, {len(pred_fronts)} predictions, {len(ref_fronts)} references",
            variable="images",
            expected="one of each per case",
        )
    if n == 0:
        raise ConfigError("no cases to plot", variable="images", expected="at least one image")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.6 * ncols, 3.8 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for i, ax in enumerate(axes):
        if i >= n:
            fig.delaxes(ax)
            continue
        img = _to_numpy(images[i]).astype(np.float32)
        if img.ndim == 3:
            img = img[0]
        finite = img[np.isfinite(img)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        ax.imshow(
            img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest"
        )
        ax.imshow(
            _overlay(_to_numpy(ref_fronts[i]), _REF_COLOR, line_width), interpolation="nearest"
        )
        ax.imshow(
            _overlay(_to_numpy(pred_fronts[i]), _PRED_COLOR, line_width), interpolation="nearest"
        )
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    handles = [
        Line2D([], [], color=_PRED_COLOR, lw=3, label="prediction"),
        Line2D([], [], color=_REF_COLOR, lw=3, label="reference"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    return fig


# --------------------------------------------------------------------------- writing


def _json_ready(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_ready(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(float(obj)) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "to_dict"):
        return _json_ready(obj.to_dict())
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float | np.floating):
        if not math.isfinite(float(v)):
            return "–"
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.1f}" if abs(v) < 1e5 else f"{v:.3g}"
    return str(v)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table of dict rows (NaN/None shown as "–").

    Examples
    --------
    >>> print(markdown_table([{"a": 1, "b": 0.5}, {"a": 2, "b": float("nan")}]))
    | a | b |
    | --- | --- |
    | 1 | 0.5 |
    | 2 | – |
    """
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _save_figure(fig: Figure, path: Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def write_report(
    result: MDEResult | None,
    out_dir: str | os.PathLike[str],
    *,
    name: str = "metrics",
    title: str = "Evaluation report",
    zones: ZoneSummary | None = None,
    outlines: OutlineCounts | None = None,
    reliability: ReliabilityCurve | None = None,
    calibration_map: CalibrationMap | None = None,
    images: Sequence[Any] | None = None,
    pred_fronts: Sequence[Any] | None = None,
    ref_fronts: Sequence[Any] | None = None,
    n_worst: int = 4,
    extra: Mapping[str, Any] | None = None,
    figures: bool = True,
    dpi: int = 110,
) -> dict[str, Path]:
    """Write an evaluation report into ``out_dir``; every file atomically.

    Files (``<name>`` defaults to ``metrics``):

    * ``<name>.json`` — everything: MDE summary, breakdowns and per-image errors, zone
      summary, outline counts, calibration (ECE, reliability counts, fitted map), ``extra``;
      NaN written as ``null``;
    * ``<name>.md`` — Markdown tables of the same;
    * ``<name>.csv`` — the MDE breakdown table (:meth:`MDEResult.to_frame`) and
      ``<name>_per_image.csv`` — one row per image;
    * ``figures/`` (with ``figures=True``): ``error_histogram.png``, ``mde_breakdown.png``
      (glacier and season), ``reliability.png`` (with ``reliability``), ``worst_cases.png``
      (with ``images``, ``pred_fronts`` and ``ref_fronts`` for the images of ``result``:
      the ``n_worst`` images with the largest per-image MDE).

    Parameters
    ----------
    result
        Front evaluation, or ``None`` for a report without fronts.
    out_dir
        Output folder (created).
    name, title
        File stem and Markdown title.
    zones, outlines, reliability, calibration_map
        Optional further results to include.
    images, pred_fronts, ref_fronts
        Optional inputs of ``result`` (same order) for the worst-case figure; predictions
        should be the fronts as evaluated (after bounding-box masking).
    n_worst
        Number of worst cases to draw.
    extra
        Any JSON-able metadata (model name, checkpoint, data set…), stored under ``extra``.
    figures
        Draw the figures.
    dpi
        Resolution of the PNG figures.

    Returns
    -------
    dict
        ``{kind: path}`` of the files written (``json``, ``markdown``, ``csv``,
        ``per_image_csv``, ``error_histogram``, ``mde_breakdown``, ``reliability``,
        ``worst_cases``).
    """
    out = Path(out_dir)
    ensure_dir(out)
    paths: dict[str, Path] = {}
    payload: dict[str, Any] = {"title": title}
    md = [f"# {title}", ""]
    if result is not None:
        payload["mde"] = result.to_dict()
        unit = "m" if result.resolution_known else "px"
        head = (
            f"**MDE {_fmt(result.mde_m if unit == 'm' else result.mde_px)} {unit}**"
            + (f" ({_fmt(result.mde_px)} px)" if unit == "m" else "")
            + f" ± {_fmt(result.std_m if unit == 'm' else result.std_px)} (std of all "
            f"distances) over {result.n_evaluated} of {result.n_images} images; "
            f"**{result.n_no_front} without a predicted front** (excluded)"
        )
        if result.n_no_reference:
            head += f"; {result.n_no_reference} without a reference front (excluded)"
        md += ["## Calving fronts: mean distance error", "", head + ".", ""]
        if result.note:
            md += [f"Note: {result.note}.", ""]
        frame = result.to_frame()
        cols = [
            "by",
            "value",
            "mde_m",
            "mde_px",
            "std_m",
            "std_px",
            "n_images",
            "n_evaluated",
            "n_no_front",
            "n_no_reference",
            "n_distances",
        ]
        md += [markdown_table(frame.to_dict("records"), cols), ""]
        paths["csv"] = out / f"{name}.csv"
        _write_text(paths["csv"], frame.to_csv(index=False))
        paths["per_image_csv"] = out / f"{name}_per_image.csv"
        _write_text(paths["per_image_csv"], result.per_image_frame().to_csv(index=False))
    if zones is not None:
        payload["zones"] = zones.to_dict()
        zf = zones.to_frame().reset_index(names="metric")
        md += [
            f"## Zones (averaged over {zones.n_images} images)",
            "",
            markdown_table(zf.to_dict("records")),
            "",
        ]
    if outlines is not None:
        payload["outlines"] = outlines.to_dict()
        md += [
            "## Outlines (pooled counts)",
            "",
            markdown_table(outlines.to_frame().to_dict("records")),
            "",
        ]
        if outlines.groups:
            md += [f"Mean of group IoUs: {_fmt(outlines.mean_group_iou())}", ""]
    if reliability is not None or calibration_map is not None:
        cal: dict[str, Any] = {}
        if reliability is not None:
            cal["ece"] = reliability.ece
            cal["reliability"] = reliability.to_dict()
            md += [
                "## Calibration",
                "",
                f"ECE ({reliability.n_bins} bins, {reliability.n} pixels): {_fmt(reliability.ece)}",
                "",
            ]
        if calibration_map is not None:
            cal["map"] = calibration_map.to_dict()
        payload["calibration"] = cal
    if extra is not None:
        payload["extra"] = dict(extra)

    if figures:
        fig_dir = out / "figures"
        if result is not None:
            paths["error_histogram"] = fig_dir / "error_histogram.png"
            _save_figure(plot_error_histogram(result), paths["error_histogram"], dpi)
            by = [k for k in ("glacier", "season") if result.groups.get(k)]
            if by:
                paths["mde_breakdown"] = fig_dir / "mde_breakdown.png"
                _save_figure(plot_mde_breakdown(result, by), paths["mde_breakdown"], dpi)
            if images is not None and pred_fronts is not None and ref_fronts is not None:
                if not (len(images) == len(pred_fronts) == len(ref_fronts) == result.n_images):
                    raise DataError(
                        f"{len(images)} images, {len(pred_fronts)} predictions and "
                        f"{len(ref_fronts)} references for a result of {result.n_images}",
                        variable="images",
                        expected="the inputs of result, in its order",
                    )
                worst = result.worst(n_worst, unit="m" if result.resolution_known else "px")
                if worst:
                    unit = "m" if result.resolution_known else "px"
                    titles = [
                        f"{w.name or w.index}\nMDE {_fmt(w.mde_m if unit == 'm' else w.mde_px)}"
                        f" {unit}"
                        for w in worst
                    ]
                    paths["worst_cases"] = fig_dir / "worst_cases.png"
                    _save_figure(
                        plot_worst_cases(
                            [images[w.index] for w in worst],
                            [pred_fronts[w.index] for w in worst],
                            [ref_fronts[w.index] for w in worst],
                            titles=titles,
                        ),
                        paths["worst_cases"],
                        dpi,
                    )
        if reliability is not None:
            paths["reliability"] = fig_dir / "reliability.png"
            _save_figure(
                plot_reliability_diagram(reliability, calibration_map=calibration_map),
                paths["reliability"],
                dpi,
            )
        figs = [
            k
            for k in ("error_histogram", "mde_breakdown", "reliability", "worst_cases")
            if k in paths
        ]
        if figs:
            md += ["## Figures", ""] + [f"![{k}](figures/{paths[k].name})" for k in figs] + [""]

    paths["markdown"] = out / f"{name}.md"
    _write_text(paths["markdown"], "\n".join(md))
    paths["json"] = out / f"{name}.json"
    _write_text(paths["json"], json.dumps(_json_ready(payload), indent=2, allow_nan=False))
    return paths
