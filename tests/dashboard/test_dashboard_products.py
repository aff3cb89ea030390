"""Products written by ``workbench predict`` open in the explorer as a dataset of their own."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import numpy as np
import pytest

from workbench.inference import predict_archive
from workbench.viz.sources import DataRoots, discover
from workbench.viz.state import ExplorerState, clear_predictions


@pytest.fixture(scope="module")
def products_root(world, tmp_path_factory):
    """A root holding a copy of the small world and the products the packaged demo zone model
    predicted for its first glacier."""
    from workbench.checkpoints import demo_checkpoint
    from workbench.data.demo import load_manifest

    root = tmp_path_factory.mktemp("products_root")
    shutil.copytree(world, root / "world")
    g = load_manifest(root / "world")["glaciers"][0]
    summary = predict_archive(
        [root / "world" / g["zarr"]],
        demo_checkpoint("zones"),
        root / "predicted",
        processes=False,
        n_workers=1,
        window=64,
        progress=False,
    )
    assert summary.ok and len(summary.done) == 1
    return root, g["name"], summary.done[0]


def test_products_are_a_dataset_kind(products_root):
    root, _, scene = products_root
    catalogue = discover(DataRoots([root]))
    entry = catalogue[f"{root.name}/predicted"]
    assert entry.kind == "products" and entry.glaciers == (scene,)


def test_products_show_fronts_zones_and_confidence_without_a_model_run(products_root):
    clear_predictions()
    root, _, scene = products_root
    state = ExplorerState.from_paths([root], dataset=f"{root.name}/predicted", glacier=scene)
    series = state.series
    manifest = json.loads((root / "predicted" / scene / "_SUCCESS").read_text())
    # the input stack lies inside the root: the SAR images are shown, and the model can run again
    assert series.units.startswith("σ0") and series.stack is not None
    assert len(series) == len(manifest["dates"])
    zones = state.prediction("zones")
    conf = state.prediction("confidence")
    assert zones is not None and set(np.unique(zones.values)) <= {0, 1, 2, 3}
    assert conf is not None and float(conf.min()) >= 0.0 and float(conf.max()) <= 1.0
    # the fronts are the product's lines, not re-traced: same rows as fronts.gpkg
    on_disk = gpd.read_file(root / "predicted" / scene / "fronts.gpkg")
    on_disk = on_disk[on_disk.geometry.notna() & ~on_disk.geometry.is_empty]
    fronts = state.all_predicted_fronts()
    assert len(on_disk) >= len(series) // 2, "the demo model should find most fronts"
    assert len(fronts) == len(on_disk)
    assert np.allclose(sorted(fronts["length_m"]), sorted(on_disk["length_m"]))
    # the retreat box is rebuilt from the synthetic flow direction, so the curve exists
    df = state.retreat()
    assert (df["source"] == "predicted").sum() == len(on_disk)


def test_products_whose_input_lies_outside_the_roots(products_root, tmp_path):
    """Only the products folder is a root: the SAR stack is never opened; confidence is the image."""
    clear_predictions()
    root, _, scene = products_root
    state = ExplorerState.from_paths([root / "predicted"])
    assert state.entry.kind == "products"
    assert state.series.units == "confidence" and state.series.stack is None
    assert any("not inside the data roots" in n for n in state.series.notes)
    assert state.prediction("zones") is not None


def test_broken_product_manifest_names_the_file(products_root, tmp_path):
    root, _, scene = products_root
    bad = tmp_path / "bad"
    shutil.copytree(root / "predicted", bad / "predicted")
    (bad / "predicted" / scene / "_SUCCESS").write_text("{not json")
    from workbench.errors import DataError
    from workbench.viz.sources import clear_cache, open_series

    clear_cache()
    roots = DataRoots([bad])
    entry = discover(roots)[f"{bad.name}/predicted"]
    with pytest.raises(DataError, match="_SUCCESS"):
        open_series(entry, scene, roots)
