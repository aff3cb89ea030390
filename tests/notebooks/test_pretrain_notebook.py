"""The pretraining notebook: stored clean, and executed with papermill on a tiny world.

The kernel ``workbench`` is what ``make test`` registers; when it is missing it is registered
here the same way (into this interpreter's environment), as in ``test_notebooks.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "pretrain.ipynb"
KERNEL = "workbench"
TINY = ["data.n_glaciers=2", "data.years=0.1", "data.size=48", "data.pixel_size=200",
        "data.world_seed=3", "data.val_glaciers=1", "data.crop_size=32", "data.batch_size=4",
        "data.val_batch_size=4", "data.samples_per_image=2", "data.val_samples=4",
        "trainer.num_sanity_val_steps=0", "trainer.log_every_n_steps=1"]



def test_pretrain_notebook_is_stored_clean_and_parameterized():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "stored with outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    for key in ("data", "method", "overrides", "epochs", "device", "output_dir"):
        assert f"\n{key} = " in "\n" + tagged[0].source
    for prev, cell in zip(nb.cells, nb.cells[1:]):  # a few words before every step
        if cell.cell_type == "code":
            assert prev.cell_type == "markdown", f"no explanation before: {cell.source[:60]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["optsimmim", "opttranslator"])
def test_pretrain_notebook_runs_on_a_tiny_world(method, tmp_path, workbench_kernel):
    import papermill as pm

    out_dir = tmp_path / "runs"
    executed = tmp_path / "pretrain.out.ipynb"
    pm.execute_notebook(str(NOTEBOOK), str(executed), kernel_name=workbench_kernel,
                        cwd=str(tmp_path), progress_bar=False, execution_timeout=300,
                        parameters={"method": method, "data": "demo", "overrides": TINY,
                                    "epochs": 2, "device": "cpu", "output_dir": str(out_dir),
                                    "run_name": "tiny", "n_examples": 2})
    metrics = json.loads((out_dir / "tiny" / "pretrain_metrics.json").read_text())
    assert metrics["method"] == method and metrics["epochs"] == 2
    assert metrics["encoder_transfer_equal"] is True
    assert metrics["train_loss_start"] > 0 and metrics["val_loss_best"] > 0
    assert metrics["masked_fraction"] == (pytest.approx(0.3, abs=0.01) if method == "optsimmim"
                                          else 0.0)
    assert Path(metrics["encoder_checkpoint"]).is_file()
    nb = nbformat.read(executed, as_version=4)
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []))
    assert images >= 4  # pairs, masks, the loss curve, predicted vs true optical
