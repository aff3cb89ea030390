"""``notebooks/your_glacier.ipynb``: stored clean with a papermill ``parameters`` cell, and
executed with papermill against a local static catalogue (``source="local"``: the synthetic
glacier written as STAC items with COGs): search → stack → predict → fronts and outlines →
retreat curve → the explorer inline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "your_glacier.ipynb"
KERNEL = "workbench"
TINY = {"n_dates": 4, "size": 128, "pixel_size": 80.0, "device": "cpu"}


def _kernel() -> str:
    """The ``workbench`` kernel (what ``make test`` registers), registered the same way into
    this interpreter's environment when it is missing — never skipped."""
    from jupyter_client.kernelspec import KernelSpecManager

    if KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ipykernel",
                "install",
                "--sys-prefix",
                "--name",
                KERNEL,
                "--display-name",
                "Glacier Workbench",
            ],
            check=True,
            capture_output=True,
        )
    return KERNEL


def test_notebook_is_stored_clean_and_parameterized():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and code[0] is params[0]
    for name in ("source", "aoi", "datetime", "checkpoint", "box", "output_dir"):
        assert f"\n{name} = " in "\n" + params[0].source, name


@pytest.mark.slow
def test_notebook_runs_on_a_local_catalogue(tmp_path):
    import papermill as pm

    out, out_dir = tmp_path / "your_glacier.ipynb", tmp_path / "outputs"
    pm.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={**TINY, "output_dir": str(out_dir)},
        kernel_name=_kernel(),
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=300,
    )
    nb = nbformat.read(out, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 4, images  # footprints, the dates, fronts and outlines, the retreat curve
    explorer = next(c for c in code if "explorer_app(" in c.source)
    assert any(
        "application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in explorer.outputs
    )

    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["n_items"] == 2 * TINY["n_dates"]  # two strips per date, mosaicked
    assert metrics["n_dates"] == TINY["n_dates"] and metrics["skipped"] == []
    assert metrics["crs"] == "EPSG:32633" and metrics["resolution_m"] == TINY["pixel_size"]
    assert metrics["polarisation"] == "VV"
    assert 1 <= metrics["n_fronts"] <= TINY["n_dates"]
    assert 1 <= metrics["retreat_n_positions"] <= TINY["n_dates"]
    assert metrics["dashboard_shown"] is True
    assert (out_dir / "stacks" / "aoi.zarr").is_dir() and (out_dir / "retreat_box.csv").is_file()
