"""Reports: JSON (strict, atomic), Markdown, CSV and figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from workbench.errors import DataError
from workbench.evaluation import (
    CalibrationMap,
    OutlineCounts,
    aggregate_zone_metrics,
    mean_distance_error,
    plot_error_histogram,
    plot_mde_breakdown,
    plot_reliability_diagram,
    plot_worst_cases,
    reliability_curve,
    write_report,
    zone_metrics,
)

STEMS = [
    "JAC_2009-01-05_TSX_6_1_005",
    "SI_2010-06-01_ERS_20_1_125",
    "DBE_2010-01-01_ENVISAT_20_1_110",
]


def _case():
    rng = np.random.default_rng(0)
    shape = (24, 24)
    images, preds, refs = [], [], []
    for i in range(3):
        images.append(rng.uniform(size=shape))
        p = np.zeros(shape, bool)
        r = np.zeros(shape, bool)
        r[10, 2:20] = True
        if i < 2:
            p[10 - 2 * (i + 1), 2:20] = True
        preds.append(p)
        refs.append(r)
    return images, preds, refs, mean_distance_error(preds, refs, STEMS)


def _png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_full_report(tmp_path):
    images, preds, refs, res = _case()
    zones = aggregate_zone_metrics([zone_metrics(np.array([[2, 3]]), np.array([[2, 2]]))])
    outlines = OutlineCounts().update(np.array([1, 0, 1]), np.array([1, 1, 0]), group="A")
    rng = np.random.default_rng(1)
    conf = rng.uniform(size=5000)
    correct = rng.uniform(size=5000) < conf**2
    curve = reliability_curve(conf, correct)
    cmap = CalibrationMap.fit(conf, correct)
    paths = write_report(
        res,
        tmp_path / "out",
        title="Test run",
        zones=zones,
        outlines=outlines,
        reliability=curve,
        calibration_map=cmap,
        images=images,
        pred_fronts=preds,
        ref_fronts=refs,
        n_worst=2,
        extra={"model": "unet", "epoch": 3},
    )
    assert set(paths) == {
        "json",
        "markdown",
        "csv",
        "per_image_csv",
        "error_histogram",
        "mde_breakdown",
        "reliability",
        "worst_cases",
    }
    for key in ("error_histogram", "mde_breakdown", "reliability", "worst_cases"):
        assert _png(paths[key]) and paths[key].parent.name == "figures"
    text = paths["json"].read_text()
    data = json.loads(text)  # strict JSON: no NaN
    assert "NaN" not in text
    assert data["mde"]["n_no_front"] == 1 and data["mde"]["mde_m"] == pytest.approx(res.mde_m)
    assert data["mde"]["groups"]["glacier"]["DBE"]["mde_m"] is None
    assert data["zones"]["n_images"] == 1 and data["outlines"]["groups"]["A"]["tp"] == 1
    assert data["calibration"]["ece"] == pytest.approx(curve.ece)
    assert CalibrationMap.from_dict(data["calibration"]["map"])(0.5) == cmap(0.5)
    assert data["extra"] == {"model": "unet", "epoch": 3}
    md = paths["markdown"].read_text()
    assert md.startswith("# Test run") and "1 without a predicted front" in md
    assert "| glacier | JAC |" in md and "![worst_cases](figures/worst_cases.png)" in md
    csv = pd.read_csv(paths["csv"])
    assert len(csv) == len(res.to_frame()) and set(csv["by"]) >= {"all", "glacier"}
    assert len(pd.read_csv(paths["per_image_csv"])) == 3
    # atomic writes leave no temporary files behind
    assert not [p for p in (tmp_path / "out").rglob(".*")]


def test_report_without_fronts_and_pixels_only(tmp_path):
    outlines = OutlineCounts().update(np.array([1, 1]), np.array([1, 0]))
    paths = write_report(None, tmp_path, outlines=outlines, figures=False)
    assert set(paths) == {"json", "markdown"}
    assert json.loads(paths["json"].read_text())["outlines"]["precision"] == 0.5
    images, preds, refs, _ = _case()
    res = mean_distance_error(preds, refs, STEMS, resolution_m=None)
    paths = write_report(res, tmp_path / "px", figures=True)
    data = json.loads(paths["json"].read_text())
    assert data["mde"]["unit"] == "px" and data["mde"]["mde_m"] is None
    assert "pixels only" in paths["markdown"].read_text()


def test_failed_report_leaves_no_json(tmp_path):
    images, preds, refs, res = _case()
    with pytest.raises(DataError):
        write_report(res, tmp_path, images=images[:1], pred_fronts=preds, ref_fronts=refs)
    assert not (tmp_path / "metrics.json").exists()


def test_figure_functions_return_figures():
    images, preds, refs, res = _case()
    for fig in (
        plot_error_histogram(res),
        plot_mde_breakdown(res, ("glacier", "season", "sensor")),
        plot_reliability_diagram(reliability_curve(np.array([0.2, 0.9]), np.array([0, 1]))),
        plot_worst_cases(images, preds, refs),
    ):
        assert isinstance(fig, Figure)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_error_histogram(np.array([1.0, 2.0]), ax=ax) is fig
    assert len(plot_worst_cases(images[:3], preds[:3], refs[:3], ncols=2).axes) == 3
    with pytest.raises(DataError):
        plot_worst_cases(images, preds[:1], refs)
