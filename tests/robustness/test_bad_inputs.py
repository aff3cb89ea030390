"""Bad inputs through the ``workbench`` command: each is refused with exit status 2 and a
message that names the file or option and what was expected, and leaves no output behind.

Each case is ``(id, argv builder, words the message must contain)``; the argv builder gets a
folder of prepared inputs (a tiny scene stack, good / non-finite checkpoints, configs).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from workbench.cli import main
from workbench.data import write_stack
from workbench.errors import CheckpointError
from workbench.models import create_model, load_model, save_checkpoint

TINY_WORLD = {
    "kind": "demo",
    "n_glaciers": 3,
    "years": 0.1,
    "size": 64,
    "pixel_size": 200.0,
    "patch_size": 32,
    "batch_size": 2,
    "samples_per_image": 1,
}
TINY_RUN = {
    "task": "zones",
    "model": {"name": "caffe_unet", "preset": "small"},
    "data": TINY_WORLD,
    "trainer": {"max_epochs": 1, "enable_progress_bar": False, "num_threads": 1},
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A tiny stack, a good checkpoint, NaN / Inf checkpoints and bad configs."""
    from workbench.data.synthetic import simulate_glacier

    root = tmp_path_factory.mktemp("bad-inputs")
    stack = simulate_glacier(seed=1, years=0.05, size=(64, 64), pixel_size=160.0).stack
    write_stack(stack, root / "scene.zarr")
    write_stack(stack.isel(y=slice(0, 1), x=slice(0, 1)), root / "one_pixel.zarr")
    write_stack(stack.isel(y=slice(0, 8), x=slice(0, 40)), root / "sliver.zarr")
    geo = stack.assign_coords(
        y=np.linspace(78.9, 78.8, stack.sizes["y"]), x=np.linspace(12.0, 12.3, stack.sizes["x"])
    )
    write_stack(geo.rio.write_crs("EPSG:4326"), root / "lonlat.zarr")
    torch.manual_seed(0)
    model = create_model("caffe_unet", preset="small")
    save_checkpoint(model, root / "good.pt", normalization={"mean": [0.5], "std": [0.25]})
    for name, value in (("nan", math.nan), ("inf", math.inf)):
        bad = create_model("caffe_unet", preset="small")
        with torch.no_grad():
            next(bad.parameters()).view(-1)[3] = value
        save_checkpoint(bad, root / f"{name}.pt", normalization={"mean": [0.5], "std": [0.25]})
    (root / "dup_section.yaml").write_text(
        "task: zones\ntrainer:\n  max_epochs: 2\nmodel:\n  name: caffe_unet\n"
        "trainer:\n  max_epochs: 5\n"
    )
    (root / "dup_key.yaml").write_text(
        "task: zones\noptimizer:\n  lr: 0.01\n  name: sgd\n  lr: 0.1\n"
    )
    big_patch = {
        **TINY_RUN,
        "output_dir": str(root / "runs"),
        "data": {**TINY_WORLD, "patch_size": 1000},
    }
    (root / "big_patch.yaml").write_text(yaml.safe_dump(big_patch))
    _vectors(root)
    import os
    import shutil

    shutil.copytree(root / "scene.zarr", root / "latin1" / os.fsdecode(b"Isbj\xf8rn.zarr"))
    (root / "a_file").write_text("not a folder")
    (root / "junk.pt").write_text("not a model")
    for name, text in (
        ("bad_model", "task: zones\nmodel:\n  name: no_such_model\n"),
        ("neg_epochs", "task: zones\ntrainer:\n  max_epochs: -3\n"),
        ("unknown_section", "task: zones\nfoo: 1\n"),
        ("broken_yaml", "task: [zones\n"),
        ("word_lr", "task: zones\noptimizer:\n  lr: fast\n"),
    ):
        (root / f"{name}.yaml").write_text(text)
    _huge_sparse_tiff(root / "huge" / "s1_2020-01-01.tif")
    for name, content in (
        ("truncated", None),
        ("garbage", b"\x00not a torch file" * 10),
        ("plain", "state"),
    ):
        run = root / "resume" / name
        (run / "checkpoints").mkdir(parents=True)
        cfg = {**TINY_RUN, "output_dir": str(root / "resume"), "name": name}
        (root / f"resume_{name}.yaml").write_text(yaml.safe_dump(cfg))
        last = run / "checkpoints" / "last.ckpt"
        if content is None:
            torch.save({"state_dict": model.state_dict(), "epoch": 0, "loops": {}}, last)
            last.write_bytes(last.read_bytes()[:200])
        elif content == "state":
            torch.save(model.state_dict(), last)
        else:
            last.write_bytes(content)
    return root


def _vectors(root: Path) -> None:
    """Front-line files for ``workbench retreat``: a box, and fronts that are wrong in ways
    users meet (no lines, far away, projected metres labelled as degrees)."""
    import json

    import geopandas as gpd
    from shapely.geometry import LineString, box

    gpd.GeoDataFrame({"name": ["box"]}, geometry=[box(0, 0, 6000, 2000)], crs=32633).to_file(
        root / "box.gpkg"
    )
    line = LineString([(3000, -50), (3000, 2050)])
    gpd.GeoDataFrame({"date": []}, geometry=[], crs=32633).to_file(root / "empty.gpkg")
    gpd.GeoDataFrame(
        {"date": ["2020-01-01"]}, geometry=[LineString([(30000, -50), (30000, 2050)])], crs=32633
    ).to_file(root / "far.gpkg")
    gpd.GeoDataFrame({"date": ["2020-01-01"]}, geometry=[line], crs=4326).to_file(
        root / "metres_as_degrees.gpkg"
    )
    (root / "no_crs.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"date": "2020-01-01"},
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[3000, -50], [3000, 2050]],
                        },
                    }
                ],
            }
        )
    )
    gpd.GeoDataFrame(
        {"date": ["2019-01-13", "2019-02-13"]}, geometry=[line, line], crs=32633
    ).to_file(root / "good_fronts.gpkg")
    gpd.GeoDataFrame(
        {"date": ["2019-01-13", "13/02/2019"]}, geometry=[line, line], crs=32633
    ).to_file(root / "mixed_dates.gpkg")


def _huge_sparse_tiff(path: Path) -> None:
    """A GeoTIFF whose header declares 200,000 × 200,000 px (1.2 MB on disk: sparse tiles)."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    path.parent.mkdir(parents=True)
    profile = dict(
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype="float32",
        crs="EPSG:32633",
        transform=from_origin(500000, 8700000, 20, 20),
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        sparse_ok=True,
        nodata=float("nan"),
    )
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, 512, 512), -12, np.float32), window=Window(0, 0, 512, 512))


def _retreat(name: str):
    return lambda d: [
        "retreat",
        str(d / name),
        "--box",
        str(d / "box.gpkg"),
        "--upstream",
        "0,1000",
        "--out",
        str(d / "out"),
    ]


def _predict(*extra: str):
    return lambda d: [
        "predict",
        str(d / "scene.zarr"),
        "--checkpoint",
        str(d / "good.pt"),
        "--out",
        str(d / "out"),
        "--in-process",
        *extra,
    ]


def _predict_scene(name: str):
    return lambda d: [
        "predict",
        str(d / name),
        "--checkpoint",
        str(d / "good.pt"),
        "--out",
        str(d / "out"),
        "--in-process",
    ]


# An archive run goes on past a bad scene: it is reported as failed (exit status 1) with the
# file and the reason, and no product of it is written (only the run's _summary.json).
SCENE_CASES = [
    (
        "predict a 1 × 1 px scene",
        "one_pixel.zarr",
        ["one_pixel.zarr", "1 × 1 px", "smallest window", "at least"],
    ),
    ("predict an 8 px sliver", "sliver.zarr", ["sliver.zarr", "8 × 40 px", "at least"]),
    (
        "predict a lon/lat scene",
        "lonlat.zarr",
        ["lonlat.zarr", "EPSG:4326", "projected CRS in metres"],
    ),
    ("predict a 200,000² px scene", "huge", ["huge", "200,000 × 200,000 px", "tiles"]),
]


@pytest.mark.parametrize(
    "name, words", [c[1:] for c in SCENE_CASES], ids=[c[0] for c in SCENE_CASES]
)
def test_bad_scene_is_reported_and_writes_no_product(inputs, capsys, name, words):
    status = main(_predict_scene(name)(inputs))
    out = capsys.readouterr().out
    try:
        assert status == 1, out
        assert f"failed {name.split('.')[0]}:" in out
        for word in words:
            assert word in out, f"{word!r} not in {out!r}"
        assert sorted(p.name for p in (inputs / "out").iterdir()) == ["_summary.json"]
    finally:
        import shutil

        shutil.rmtree(inputs / "out", ignore_errors=True)


CASES = [
    ("predict --window 0", _predict("--window", "0"), ["'window'", "is 0", "≥ 16"]),
    ("predict --window 8", _predict("--window", "8"), ["'window'", "is 8", "≥ 16"]),
    ("predict --window -5", _predict("--window", "-5"), ["'window'", "-5"]),
    ("predict --batch-size 0", _predict("--batch-size", "0"), ["'batch_size'", "is 0", "≥ 1"]),
    ("predict --batch-size -1", _predict("--batch-size", "-1"), ["'batch_size'", "≥ 1"]),
    ("predict --overlap 1", _predict("--overlap", "1.0"), ["'overlap'", "0 ≤ overlap < 1"]),
    ("predict --overlap -0.1", _predict("--overlap", "-0.1"), ["'overlap'", "0 ≤ overlap < 1"]),
    ("predict --workers 0", _predict("--workers", "0"), ["'n_workers'", "≥ 1"]),
    (
        "predict NaN weights",
        lambda d: [
            "predict",
            str(d / "scene.zarr"),
            "--checkpoint",
            str(d / "nan.pt"),
            "--out",
            str(d / "out"),
            "--in-process",
        ],
        ["nan.pt", "non-finite", "finite weights"],
    ),
    (
        "predict Inf weights",
        lambda d: [
            "predict",
            str(d / "scene.zarr"),
            "--checkpoint",
            str(d / "inf.pt"),
            "--out",
            str(d / "out"),
            "--in-process",
        ],
        ["inf.pt", "non-finite"],
    ),
    (
        "predict --out is a file",
        lambda d: [
            "predict",
            str(d / "scene.zarr"),
            "--checkpoint",
            str(d / "good.pt"),
            "--out",
            str(d / "a_file"),
            "--in-process",
        ],
        ["a_file: is a file", "a folder"],
    ),
    (
        "retreat --out under a file",
        lambda d: _retreat("good_fronts.gpkg")(d)[:-1] + [str(d / "a_file" / "sub")],
        ["a_file: is a file"],
    ),
    (
        "evaluate --out is a file",
        lambda d: [
            "evaluate",
            str(d / "good.pt"),
            "demo",
            "--out",
            str(d / "a_file"),
            "--max-images",
            "1",
        ],
        ["a_file: is a file"],
    ),
    (
        "predict a scene whose name is not UTF-8",
        lambda d: [
            "predict",
            str(d / "latin1"),
            "--checkpoint",
            str(d / "good.pt"),
            "--out",
            str(d / "out"),
            "--in-process",
        ],
        ["Isbj\\udcf8rn.zarr", "not valid UTF-8", "renamed"],
    ),
    (
        "info on a 200,000² px scene",
        lambda d: ["info", str(d / "huge")],
        ["huge", "200,000 × 200,000 px", "split the scene into tiles"],
    ),
    # configs
    (
        "train unknown config name",
        lambda d: ["train", "no_such_config"],
        ["no_such_config", "neither a config file nor a packaged config"],
    ),
    (
        "train unknown model",
        lambda d: ["train", str(d / "bad_model.yaml")],
        ["'model.name'", "no_such_model", "caffe_unet"],
    ),
    (
        "train negative epochs",
        lambda d: ["train", str(d / "neg_epochs.yaml")],
        ["'trainer.max_epochs'", "-3", "≥ 1"],
    ),
    (
        "train unknown section",
        lambda d: ["train", str(d / "unknown_section.yaml")],
        ["'foo'", "not a known section"],
    ),
    (
        "train broken YAML",
        lambda d: ["train", str(d / "broken_yaml.yaml")],
        ["broken_yaml.yaml", "not valid YAML"],
    ),
    (
        "train word as learning rate",
        lambda d: ["train", str(d / "word_lr.yaml")],
        ["'optimizer.lr'", "'fast'", "number > 0"],
    ),
    (
        "train override of wrong type",
        lambda d: ["train", "demo_zones", "trainer.max_epochs=abc"],
        ["'trainer.max_epochs'", "'abc'"],
    ),
    (
        "train override of unknown section",
        lambda d: ["train", "demo_zones", "nosuch.x=1"],
        ["'nosuch'", "not a known section"],
    ),
    ("pretrain unknown config", lambda d: ["pretrain", "no_such"], ["no_such"]),
    (
        "pretrain unknown method",
        lambda d: ["pretrain", "demo_pretrain", "method=nope"],
        ["'method'", "'nope'", "optsimmim"],
    ),
    # evaluate
    (
        "evaluate a file that is not a checkpoint",
        lambda d: ["evaluate", str(d / "junk.pt"), "demo"],
        ["junk.pt", "not a torch file"],
    ),
    (
        "evaluate missing data",
        lambda d: ["evaluate", str(d / "good.pt"), str(d / "nowhere")],
        ["nowhere: does not exist"],
    ),
    (
        "evaluate --resolution word",
        lambda d: ["evaluate", str(d / "good.pt"), "demo", "--resolution", "abc"],
        ["'resolution'", "'abc'", "metres"],
    ),
    (
        "evaluate --steps 0",
        lambda d: ["evaluate", str(d / "good.pt"), "demo", "--steps", "0"],
        ["'steps'", "≥ 1"],
    ),
    (
        "evaluate --max-images 0",
        lambda d: ["evaluate", str(d / "good.pt"), "demo", "--max-images", "0"],
        ["'max_images'", "≥ 1"],
    ),
    (
        "evaluate missing checkpoint",
        lambda d: ["evaluate", str(d / "none.pt"), "demo"],
        ["none.pt: does not exist", "packaged model name"],
    ),
    # predict
    (
        "predict a file that is not a checkpoint",
        lambda d: [
            "predict",
            str(d / "scene.zarr"),
            "--checkpoint",
            str(d / "junk.pt"),
            "--out",
            str(d / "out"),
        ],
        ["junk.pt", "not a torch file"],
    ),
    ("predict no products", _predict("--products", ""), ["'products'", "some of"]),
    ("predict --steps 0", _predict("--steps", "0"), ["'steps'", "≥ 1"]),
    ("predict --max-memory-mb 0", _predict("--max-memory-mb", "0"), ["'max_memory_mb'", "> 0"]),
    (
        "predict a pattern that matches nothing",
        lambda d: [
            "predict",
            str(d / "nope" / "*.zarr"),
            "--checkpoint",
            str(d / "good.pt"),
            "--out",
            str(d / "out"),
        ],
        ["matches nothing"],
    ),
    # info, demo
    (
        "info on a checkpoint",
        lambda d: ["info", str(d / "junk.pt")],
        ["junk.pt", "unknown suffix '.pt'"],
    ),
    ("info on a missing path", lambda d: ["info", str(d / "nowhere")], ["nowhere: does not exist"]),
    (
        "demo into an existing folder",
        lambda d: ["demo", "--out", str(d / "latin1")],
        ["latin1: already exists", "--force"],
    ),
    (
        "demo with no glaciers",
        lambda d: ["demo", "--out", str(d / "w0"), "--glaciers", "0"],
        ["glaciers=0", "glaciers ≥ 1"],
    ),
    (
        "demo of 4 px",
        lambda d: ["demo", "--out", str(d / "w1"), "--size", "4"],
        ["size=4", "size ≥ 32"],
    ),
    (
        "demo of negative years",
        lambda d: ["demo", "--out", str(d / "w2"), "--years", "-1"],
        ["years=-1.0", "years > 0"],
    ),
    (
        "demo of 0 m pixels",
        lambda d: ["demo", "--out", str(d / "w3"), "--pixel-size", "0"],
        ["pixel_size=0.0", "pixel_size > 0"],
    ),
    # retreat
    ("retreat missing fronts", _retreat("nowhere.gpkg"), ["nowhere.gpkg: does not exist"]),
    (
        "retreat missing box",
        lambda d: [
            "retreat",
            str(d / "good_fronts.gpkg"),
            "--box",
            str(d / "nobox.gpkg"),
            "--upstream",
            "0,1000",
            "--out",
            str(d / "out"),
        ],
        ["nobox.gpkg", "'box' does not exist"],
    ),
    (
        "retreat upstream word",
        lambda d: _retreat("good_fronts.gpkg")(d)[:5] + ["north", "--out", str(d / "out")],
        ["'upstream'", "'north'", "'right'"],
    ),
    (
        "retreat upstream edge 7",
        lambda d: _retreat("good_fronts.gpkg")(d)[:5] + ["7", "--out", str(d / "out")],
        ["'upstream'", "edge index 0..3"],
    ),
    # loo
    (
        "loo on a missing folder",
        lambda d: ["loo", "demo_zones", "--data", str(d / "nowhere"), "--out", str(d / "out")],
        ["nowhere", "CaFFe folder"],
    ),
    (
        "retreat empty GeoPackage",
        _retreat("empty.gpkg"),
        ["empty.gpkg", "no front lines", "date column is 'date'"],
    ),
    (
        "retreat box misses every front",
        _retreat("far.gpkg"),
        ["far.gpkg", "box.gpkg", "none of them crosses", "no_intersection"],
    ),
    (
        "retreat metres labelled as degrees",
        _retreat("metres_as_degrees.gpkg"),
        ["metres_as_degrees.gpkg", "EPSG:4326", "true CRS"],
    ),
    (
        "retreat GeoJSON without a CRS",
        _retreat("no_crs.geojson"),
        ["no_crs.geojson", "GeoJSON without a CRS"],
    ),
    (
        "retreat unparseable date",
        _retreat("mixed_dates.gpkg"),
        ["mixed_dates.gpkg", "'13/02/2019'", "ISO dates"],
    ),
    (
        "train duplicate section",
        lambda d: ["train", str(d / "dup_section.yaml")],
        ["dup_section.yaml", "duplicate key 'trainer'", "lines 2 and 6"],
    ),
    (
        "train duplicate key",
        lambda d: ["train", str(d / "dup_key.yaml")],
        ["dup_key.yaml", "duplicate key 'lr'", "lines 3 and 5"],
    ),
    (
        "train patch larger than the world",
        lambda d: ["train", str(d / "big_patch.yaml")],
        ["'data.patch_size'", "1000", "64 px", "from 1 to 64"],
    ),
    (
        "train --resume truncated last.ckpt",
        lambda d: ["train", str(d / "resume_truncated.yaml"), "--resume"],
        ["truncated/checkpoints/last.ckpt", "truncated or not a torch file"],
    ),
    (
        "train --resume garbage last.ckpt",
        lambda d: ["train", str(d / "resume_garbage.yaml"), "--resume"],
        ["garbage/checkpoints/last.ckpt", "not a torch file"],
    ),
    (
        "train --resume plain state dict",
        lambda d: ["train", str(d / "resume_plain.yaml"), "--resume"],
        ["plain/checkpoints/last.ckpt", "not a Lightning checkpoint"],
    ),
]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("argv, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_clearly_and_nothing_written(inputs, capsys, argv, words):
    before = _tree(inputs)
    status = main(argv(inputs))
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    assert _tree(inputs) == before, "output or partial output was left behind"


def test_non_finite_weights_are_refused_at_load(inputs):
    with pytest.raises(CheckpointError, match="non-finite"):
        load_model(inputs / "nan.pt")
    assert load_model(inputs / "good.pt") is not None


def test_overflowing_model_is_refused_not_trusted(inputs, tmp_path):
    """Finite weights that overflow to infinite logits: predict and evaluate refuse the
    non-finite probabilities instead of writing NA zones at confidence 1."""
    from workbench.errors import DataError
    from workbench.evaluation.evaluate import evaluate
    from workbench.inference import predict

    model = create_model("caffe_unet", preset="small")
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e30)
    path = save_checkpoint(
        model, tmp_path / "overflow.pt", normalization={"mean": [0.5], "std": [0.25]}
    )
    with pytest.raises(DataError, match="non-finite .* probabilities"):
        predict(inputs / "scene.zarr", path, window=32)
    with pytest.raises(DataError, match="non-finite .* probabilities"):
        evaluate(path, "demo", max_images=1, figures=False, window=32)
