"""The teaching notebook ``notebooks/explore.ipynb``: stored clean, and executed with papermill.

It runs against the ``workbench`` kernel on a tiny demo world (one glacier, 10 dates of
64 × 64 px at 160 m) with the packaged demo models, and must produce its figures inline, show
the explorer dashboard inline and write ``metrics.json`` with sane numbers. The kernel is what
``make test`` registers; when it is missing it is registered here the same way (into this
interpreter's environment), as in ``test_notebooks.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore.ipynb"
KERNEL = "workbench"
# 0.3 years from 2019-01-01 at a 12-day repeat: days 0, 12, …, 108 → 10 dates
TINY = {"data": "demo", "n_glaciers": 1, "years": 0.3, "size": 64, "pixel_size": 160.0,
        "n_show": 2, "n_frames": 2, "device": "cpu", "dashboard": True}
TINY_DATES = 10



def test_explore_notebook_is_stored_clean_and_parameterized():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell keeps a unique id"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "stored with outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    for key in ("data", "glacier", "device", "output_dir", "n_glaciers", "years", "size",
                "pixel_size", "n_show", "n_frames", "dashboard"):
        assert f"\n{key} = " in "\n" + tagged[0].source, key
    # teaching material: a few words of markdown before every step
    for prev, cell in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type == "code":
            assert prev.cell_type == "markdown", f"no explanation before: {cell.source[:60]!r}"
    # a thin shell over the package: the model runs through workbench.inference.predict, the
    # retreat through workbench.geo, the dashboard is workbench.viz.app.explorer_app (as served)
    source = "\n".join(c.source for c in code)
    for call in ("predict(", "demo_checkpoint(", "mean_distance_error(", "retreat_box(",
                 "plot_retreat(", "fronts_from_stack(", "outlines_from_stack(", "pn.extension(",
                 "explorer_app("):
        assert call in source, call


@pytest.mark.slow
def test_explore_notebook_runs_on_a_tiny_world(tmp_path, workbench_kernel):
    import papermill as pm

    out_dir = tmp_path / "explore"
    out = tmp_path / "explore.out.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(out), parameters={**TINY, "output_dir": str(out_dir)},
                        kernel_name=workbench_kernel, cwd=str(tmp_path), progress_bar=False,
                        execution_timeout=300)
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]

    # figures inline: the world preview, SAR, speckle, time series, seasons, zones, fronts,
    # MDE per date, the box and retreat curves, plot_retreat, outlines
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 10, images

    # the interactive views render: the HoloViews time series and the explorer dashboard
    def rendered(cell) -> bool:
        return any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) and
                   "text/html" in o.get("data", {}) for o in cell.outputs)

    assert rendered(next(c for c in code if "hv.HoloMap(" in c.source))
    assert rendered(next(c for c in code if "explorer_app(" in c.source))

    metrics = json.loads((out_dir / "metrics.json").read_text())
    manifest = json.loads((out_dir / "demo_world" / "manifest.json").read_text())
    assert metrics["glacier"] == manifest["glaciers"][-1]["name"]
    assert metrics["n_dates"] == manifest["glaciers"][-1]["n_dates"] == TINY_DATES
    assert metrics["pixel_size_m"] == TINY["pixel_size"]
    # the MDE: finite, positive, at most the scene's diagonal; images without a front counted
    diagonal = math.hypot(TINY["size"], TINY["size"]) * TINY["pixel_size"]
    assert metrics["mde_m"] is not None and 0 < metrics["mde_m"] < diagonal  # null: NaN
    assert metrics["mde_px"] == pytest.approx(metrics["mde_m"] / TINY["pixel_size"])
    assert metrics["n_evaluated"] + metrics["n_no_front"] == TINY_DATES
    assert metrics["n_evaluated"] >= 1
    assert 1 <= metrics["n_predicted_fronts"] <= TINY_DATES
    # retreat curves from the box method: every reference front has a position
    assert metrics["retreat_n_positions"]["reference"] == TINY_DATES
    assert 1 <= metrics["retreat_n_positions"]["predicted"] <= TINY_DATES
    for source in ("reference", "predicted"):
        change = metrics["retreat_net_change_m"][source]
        assert change is not None and math.isfinite(change) and abs(change) < diagonal
    # the outline model: one yearly mask for a world within one calendar year
    o = metrics["outline"]
    assert o["n_years"] == 1 and 0.0 <= o["iou"] <= 1.0 and 0.0 <= o["precision"] <= 1.0
    # backscatter in dB: the glacier, the fjord and rock have plausible means
    for zone, stats in metrics["backscatter_db"].items():
        assert -35.0 < stats["min"] <= stats["mean"] <= stats["max"] < 10.0, zone
    assert metrics["dashboard_shown"] is True
