"""The papermill notebooks: stored clean, and executed on tiny parameters with the real kernel.

The kernel ``workbench`` is what ``make test`` registers (``python -m ipykernel install
--sys-prefix --name workbench``); when it is missing it is registered here the same way (into
this interpreter's environment) before anything runs — never skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import torch

from workbench.models import create_model, save_checkpoint

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "workbench"
TINY_WORLD = {"kind": "demo", "n_glaciers": 3, "years": 0.12, "size": 48, "pixel_size": 200.0,
              "world_seed": 3, "val_glaciers": 1, "test_glaciers": 1, "patch_size": 32}
TINY_OVERRIDES = ["data.n_glaciers=3", "data.years=0.12", "data.size=48", "data.pixel_size=200",
                  "data.patch_size=32", "data.batch_size=4", "data.samples_per_image=1",
                  "data.world_seed=3", "data.val_glaciers=1", "data.test_glaciers=1",
                  "validation.window=32", "model.kwargs={}", "trainer.check_val_every_n_epoch=1",
                  "trainer.num_sanity_val_steps=0", "trainer.log_every_n_steps=1", "test=false"]



def _run(name: str, tmp_path: Path, kernel: str, **parameters) -> nbformat.NotebookNode:
    import papermill as pm

    out = tmp_path / f"{name}.out.ipynb"
    pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out), parameters=parameters,
                        kernel_name=kernel, cwd=str(tmp_path), progress_bar=False,
                        execution_timeout=300)
    return nbformat.read(out, as_version=4)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for o in c.get("outputs", []))


@pytest.mark.parametrize("name", ["train", "evaluate"])
def test_notebooks_are_stored_clean_and_parameterized(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "stored with outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    for key in ("device", "output_dir", "data"):
        assert f"\n{key} = " in "\n" + tagged[0].source
    # teaching material: a few words of markdown before every step
    for prev, cell in zip(nb.cells, nb.cells[1:]):
        if cell.cell_type == "code":
            assert prev.cell_type == "markdown", f"no explanation before: {cell.source[:60]!r}"


@pytest.mark.slow
def test_train_notebook_runs_on_a_tiny_world(tmp_path, workbench_kernel):
    out_dir = tmp_path / "runs"
    nb = _run("train", tmp_path, workbench_kernel, config="demo_zones", data="demo",
              overrides=TINY_OVERRIDES, epochs=1, device="cpu", output_dir=str(out_dir),
              run_name="tiny", n_examples=2)
    metrics = json.loads((out_dir / "tiny" / "evaluation" / "metrics.json").read_text())
    s = metrics["extra"]["summary"]
    assert s["task"] == "zones" and s["split"] == "test" and s["n_images"] >= 1
    assert 0.0 <= s["zone_iou"] <= 1.0 and {"mde", "zones", "calibration"} <= set(metrics)
    assert (out_dir / "tiny" / "best.pt").is_file()
    assert _images(nb) >= 3  # a batch, the training curve, the sample predictions


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Random-weight small models whose training configs name the tiny demo world."""
    root = tmp_path_factory.mktemp("nb_ckpt")
    torch.manual_seed(0)
    zones = save_checkpoint(
        create_model("caffe_unet", preset="small"), root / "zones.pt",
        normalization={"mean": [0.45], "std": [0.2]},
        train_config={"task": "zones", "data": TINY_WORLD,
                      "validation": {"window": 32, "resolution_m": "meta"}})
    outlines = save_checkpoint(
        create_model("icemapper3d", preset="small"), root / "outlines.pt",
        normalization={"mean": [-10.0, 0.5], "std": [5.0, 0.2]},
        train_config={"task": "outlines", "data": {**TINY_WORLD, "time_steps": 2},
                      "validation": {"window": 32, "weighting": "gaussian"}})
    return {"zones": zones, "outlines": outlines}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["zones", "outlines"])
def test_evaluate_notebook_runs(task, tmp_path, workbench_kernel, tiny_checkpoints):
    out_dir = tmp_path / "report"
    nb = _run("evaluate", tmp_path, workbench_kernel, checkpoint=str(tiny_checkpoints[task]),
              data="demo", device="cpu", output_dir=str(out_dir), max_images=3,
              ablation=[1, "all"] if task == "outlines" else None)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    s = metrics["extra"]["summary"]
    assert s["task"] == task and s["checkpoint"] == str(tiny_checkpoints[task])
    if task == "zones":
        assert s["n_images"] == 3 and "mde" in metrics and "zones" in metrics
    else:
        assert [r["steps"] for r in s["ablation"]] == [1, 2, "all"] and "outlines" in metrics
    assert metrics["calibration"]["ece"] is not None
    assert _images(nb) >= 2  # the report's figures, inline
