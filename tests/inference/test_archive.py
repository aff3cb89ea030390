"""Archive runs: finding scenes, a 2-worker LocalCluster (threads, and separate processes),
products, failures, resuming after a kill, and the ``workbench predict`` command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from _inference_helpers import make_stack

from workbench.cli import build_parser, main
from workbench.data.stack import write_stack
from workbench.errors import ConfigError, DataError
from workbench.inference import SUCCESS, find_scenes, predict_archive
from workbench.inference import archive as archive_module
from workbench.models import create_model, save_checkpoint

HELPER = Path(__file__).with_name("_archive_helper.py")
REPO = Path(__file__).resolve().parents[2]


def _scenes(root: Path, n: int, size: int = 32, dates=("2020-03-01", "2020-03-13")) -> Path:
    folder = root / "scenes"
    for i in range(n):
        write_stack(make_stack(size, size, dates=dates, seed=i), folder / f"scene{i}.zarr")
    return folder


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp" in p.name or ".old-" in p.name]


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    return save_checkpoint(
        create_model("caffe_unet", preset="small"),
        tmp_path / "model.pt",
        normalization={"mean": [0.5], "std": [0.25]},
    )


def test_find_scenes(tmp_path):
    folder = _scenes(tmp_path, 2, size=8)
    (folder / "notes.txt").write_text("not a stack")
    assert [s.id for s in find_scenes(folder)] == ["scene0", "scene1"]
    assert [s.id for s in find_scenes([folder / "scene1.zarr"])] == ["scene1"]
    assert [s.id for s in find_scenes(str(folder / "*1.zarr"))] == ["scene1"]
    tiffs = write_stack(make_stack(8, 8), tmp_path / "tiffs" / "jak", format="folder")
    assert [s.id for s in find_scenes(tiffs)] == ["jak"]  # a folder of per-date GeoTIFFs
    assert [s.id for s in find_scenes(tmp_path / "tiffs")] == ["jak"]  # a folder of such folders
    with pytest.raises(DataError, match="matches nothing"):
        find_scenes(str(tmp_path / "*.nothing"))
    with pytest.raises(DataError, match="does not exist"):
        find_scenes(tmp_path / "missing.zarr")
    (tmp_path / "other").mkdir()
    write_stack(make_stack(8, 8), tmp_path / "other" / "scene0.zarr")
    with pytest.raises(ConfigError, match="scene0"):
        find_scenes([folder, tmp_path / "other"])


def test_archive_on_a_two_worker_local_cluster(tmp_path, checkpoint):
    folder = _scenes(tmp_path, 3)
    (folder / "broken.zarr").mkdir()
    (folder / "broken.zarr" / "junk").write_text("not zarr")
    out = tmp_path / "out"
    loads = archive_module._LOADS["count"]
    summary = predict_archive(
        folder, checkpoint, out, n_workers=2, processes=False, window=16, progress=False
    )
    assert summary.done == ["scene0", "scene1", "scene2"] and summary.skipped == []
    assert list(summary.failed) == ["broken"] and "FileFormatError" in summary.failed["broken"]
    assert archive_module._LOADS["count"] - loads == 1  # one model copy for this process
    stack = make_stack(32, 32)
    for i in range(3):
        scene = out / f"scene{i}"
        manifest = json.loads((scene / SUCCESS).read_text())
        assert manifest["products"] == [
            "zones.tif",
            "confidence.tif",
            "fronts.gpkg",
            "outlines.gpkg",
        ]
        assert (
            manifest["dates"] == ["2020-03-01", "2020-03-13"] and manifest["model"] == "caffe_unet"
        )
        with rasterio.open(scene / "zones.tif") as src:
            assert src.count == 2 and src.transform == stack.rio.transform()
            assert src.crs.to_epsg() == 32633 and src.descriptions == ("2020-03-01", "2020-03-13")
            assert set(np.unique(src.read())) <= {0, 64, 127, 254}
        with rasterio.open(scene / "confidence.tif") as src:
            assert set(src.dtypes) == {"float32"}
        assert len(gpd.read_file(scene / "fronts.gpkg")) == 2
        assert len(gpd.read_file(scene / "outlines.gpkg")) == 2
    assert not (out / "broken").exists() and not _leftovers(out)
    recorded = json.loads((out / "_summary.json").read_text())
    assert recorded["done"] == summary.done and "broken" in recorded["failed"]
    # complete scenes are skipped; other options redo them
    again = predict_archive(
        folder, checkpoint, out, n_workers=2, processes=False, window=16, progress=False
    )
    assert again.skipped == ["scene0", "scene1", "scene2"] and again.done == []
    assert "done, 3 skipped, 1 failed" in again.report()
    redo = predict_archive(
        [folder / "scene0.zarr"],
        checkpoint,
        out,
        n_workers=1,
        processes=False,
        window=16,
        tta=True,
        progress=False,
        products=["labels", "uncertainty"],
    )
    assert redo.done == ["scene0"]
    assert sorted(p.name for p in (out / "scene0").iterdir()) == [
        SUCCESS,
        "uncertainty.tif",
        "zones.tif",
    ]


def _products(folder: Path) -> dict:
    out = {}
    for name in ("zones.tif", "confidence.tif"):
        with rasterio.open(folder / name) as src:
            out[name] = (
                src.read().tobytes(),
                src.descriptions,
                src.transform,
                src.crs.to_wkt(),
                src.tags(),
            )
    for name in ("fronts.gpkg", "outlines.gpkg"):
        frame = gpd.read_file(folder / name)
        out[name] = (
            frame.drop(columns="geometry").to_json(date_format="iso"),
            [None if g is None else g.wkb for g in frame.geometry],
        )
    return out


def test_archive_on_two_separate_worker_processes(tmp_path, checkpoint):
    """A LocalCluster of 2 worker processes: one model copy per worker, however many scenes
    it runs, and the same products as a run inside this process."""
    folder = _scenes(tmp_path, 3, size=16, dates=("2020-03-01",))
    summary = predict_archive(
        folder,
        checkpoint,
        tmp_path / "procs",
        n_workers=2,
        processes=True,
        window=16,
        progress=False,
    )
    assert summary.done == ["scene0", "scene1", "scene2"] and summary.ok
    loads: dict[int, list[int]] = {}
    for i in range(3):
        worker = json.loads((tmp_path / "procs" / f"scene{i}" / SUCCESS).read_text())["worker"]
        loads.setdefault(worker["pid"], []).append(worker["models_loaded"])
    assert os.getpid() not in loads and 1 <= len(loads) <= 2  # separate processes
    assert all(n == [1] * len(n) for n in loads.values()), loads  # one copy each
    assert max(len(n) for n in loads.values()) >= 2  # (3 scenes on 2 workers: one ran two)
    in_process = predict_archive(
        folder,
        checkpoint,
        tmp_path / "threads",
        n_workers=1,
        processes=False,
        window=16,
        progress=False,
    )
    assert in_process.done == summary.done
    for i in range(3):
        assert _products(tmp_path / "procs" / f"scene{i}") == _products(
            tmp_path / "threads" / f"scene{i}"
        )


def test_archive_on_an_existing_scheduler(tmp_path, checkpoint):
    from distributed import Client, LocalCluster

    folder = _scenes(tmp_path, 2, size=16, dates=("2020-03-01",))
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        summary = predict_archive(
            folder,
            checkpoint,
            tmp_path / "out",
            scheduler=cluster.scheduler_address,
            window=16,
            progress=False,
            products=["labels"],
        )
        assert summary.done == ["scene0", "scene1"]
        with Client(cluster) as client:  # the cluster is the caller's: still running
            assert len(client.scheduler_info()["workers"]) == 1
            again = predict_archive(
                folder,
                checkpoint,
                tmp_path / "out",
                scheduler=client,
                window=16,
                progress=False,
                products=["labels"],
            )
            assert again.skipped == ["scene0", "scene1"]
    with pytest.raises(ConfigError, match="scheduler"):
        predict_archive(folder, checkpoint, tmp_path / "o2", scheduler=3, progress=False)


def test_a_killed_run_resumes_without_partial_products(tmp_path, checkpoint):
    folder = _scenes(tmp_path, 3)
    out = tmp_path / "out"
    argv = [
        sys.executable,
        str(HELPER),
        "1.0",
        "predict",
        str(folder),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(out),
        "--in-process",
        "--workers",
        "1",
        "--window",
        "16",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    partial_seen = False
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            done = list(out.glob(f"*/{SUCCESS}")) if out.exists() else []
            partial = [p for p in out.iterdir() if p.name.startswith(".")] if out.exists() else []
            if done and partial:
                partial_seen = True
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert partial_seen  # a scene was half-written when the run died
    finished = sorted(p.parent.name for p in out.glob(f"*/{SUCCESS}"))
    assert 1 <= len(finished) < 3
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == finished
    summary = predict_archive(
        folder, checkpoint, out, n_workers=1, processes=False, window=16, progress=False
    )
    assert summary.skipped == finished
    assert summary.done == sorted(set(f"scene{i}" for i in range(3)) - set(finished))
    assert summary.ok and not _leftovers(out)
    for i in range(3):
        manifest = json.loads((out / f"scene{i}" / SUCCESS).read_text())
        assert all((out / f"scene{i}" / p).exists() for p in manifest["products"])


def test_predict_command(tmp_path, checkpoint, capsys):
    folder = _scenes(tmp_path, 2, size=24)
    out = tmp_path / "cli"
    args = [
        "predict",
        str(folder / "*.zarr"),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(out),
        "--in-process",
        "--workers",
        "1",
        "--window",
        "16",
        "--no-progress",
        "--products",
        "labels,confidence",
    ]
    assert main(args) == 0
    assert "2 scenes done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "scene1").iterdir()) == [
        SUCCESS,
        "confidence.tif",
        "zones.tif",
    ]
    (folder / "bad.nc").write_text("not netcdf")
    assert main(args[:1] + [str(folder)] + args[2:]) == 1
    text = capsys.readouterr().out
    assert "2 skipped, 1 failed" in text and "failed bad:" in text
    assert main(args[:-2] + ["--products", "labels,colour"]) == 2
    assert "products" in capsys.readouterr().err


def test_predict_help_has_an_example_for_every_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    predict = sub.choices["predict"]
    for action in predict._actions:
        if action.option_strings and action.dest != "help":
            assert "e.g." in (action.help or ""), action.option_strings
    assert "examples:" in predict.epilog and "--scheduler" in predict.epilog


def test_resume_notices_a_changed_input_and_damaged_products(tmp_path, checkpoint):
    """A scene is skipped only while its input and every product are exactly as recorded; a
    changed input (more dates), a truncated or altered product, or another execution mode is
    predicted again, and the summary says why."""
    folder = _scenes(tmp_path, 3, size=24)
    out = tmp_path / "out"
    kw = dict(n_workers=1, processes=False, window=16, progress=False)
    first = predict_archive(folder, checkpoint, out, **kw)
    assert first.done == ["scene0", "scene1", "scene2"] and not first.redone
    manifest = json.loads((out / "scene0" / SUCCESS).read_text())
    assert manifest["input_identity"]["size"] > 0
    assert set(manifest["product_checksums"]) == set(manifest["products"])
    assert predict_archive(folder, checkpoint, out, **kw).skipped == ["scene0", "scene1", "scene2"]
    # scene0: the stack now has more dates; scene1: a product truncated after _SUCCESS;
    # scene2: a product altered in place with the same size
    shutil.rmtree(folder / "scene0.zarr")
    write_stack(
        make_stack(24, 24, dates=("2020-03-01", "2020-03-13", "2020-03-25"), seed=0),
        folder / "scene0.zarr",
    )
    zones = out / "scene1" / "zones.tif"
    zones.write_bytes(zones.read_bytes()[:-100])
    conf = out / "scene2" / "confidence.tif"
    data = bytearray(conf.read_bytes())
    data[-1] ^= 0xFF
    conf.write_bytes(bytes(data))
    again = predict_archive(folder, checkpoint, out, **kw)
    assert again.done == ["scene0", "scene1", "scene2"] and not again.skipped
    assert "the input changed" in again.redone["scene0"]
    assert "zones.tif is damaged" in again.redone["scene1"]
    assert "confidence.tif is damaged" in again.redone["scene2"]
    assert "predicted again scene1: product zones.tif is damaged" in again.report()
    with rasterio.open(out / "scene0" / "zones.tif") as src:
        assert src.count == 3  # the new dates are predicted
    assert predict_archive(folder, checkpoint, out, **kw).skipped == ["scene0", "scene1", "scene2"]
    # another torch thread count (float sums in another order) is never mixed in
    threads = (os.cpu_count() or 1) + 1  # the default is cores / workers
    other = predict_archive(folder, checkpoint, out, **kw, torch_threads=threads)
    assert other.done == ["scene0", "scene1", "scene2"]
    assert set(other.redone.values()) == {"other checkpoints or options"}


def test_in_process_and_worker_processes_give_the_same_bytes(tmp_path, checkpoint):
    """#12 §3: with the same torch thread count (cores / workers in both modes) a run inside
    this process and a run on worker processes write byte-identical products, so the mode is
    not part of the resume fingerprint: a run in the other mode skips every scene."""
    # windows large enough that the convolutions use several threads
    folder = _scenes(tmp_path, 2, size=112, dates=("2020-03-01",))
    kw = dict(n_workers=2, window=96, progress=False, products=["labels", "confidence"])
    threads = predict_archive(folder, checkpoint, tmp_path / "threads", processes=False, **kw)
    procs = predict_archive(folder, checkpoint, tmp_path / "procs", processes=True, **kw)
    assert threads.done == procs.done == ["scene0", "scene1"]
    for sid in threads.done:
        for name in ("zones.tif", "confidence.tif"):
            with rasterio.open(tmp_path / "threads" / sid / name) as a:
                with rasterio.open(tmp_path / "procs" / sid / name) as b:
                    assert a.read().tobytes() == b.read().tobytes(), (sid, name)
    again = predict_archive(folder, checkpoint, tmp_path / "threads", processes=True, **kw)
    assert again.skipped == ["scene0", "scene1"]


def test_the_help_example_works_on_a_demo_world(tmp_path, capsys):
    """`workbench predict demo_data/stacks --checkpoint … --out preds` as the help writes it:
    a demo world keeps every stack as X.zarr and as its GeoTIFF export X.tif; each is one
    scene, and a packaged model is accepted by name."""
    from workbench.data.demo import make_demo_world

    world = tmp_path / "demo_data"
    make_demo_world(world, n_glaciers=2, years=0.05, size=48, pixel_size=200.0)
    scenes = find_scenes(world / "stacks")
    assert [s.path.suffix for s in scenes] == [".zarr", ".zarr"]
    assert (
        main(
            [
                "predict",
                str(world / "stacks"),
                "--checkpoint",
                "demo_zones",
                "--out",
                str(tmp_path / "preds"),
                "--in-process",
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "2 scenes done" in capsys.readouterr().out
    assert (
        main(
            [
                "predict",
                str(world / "stacks"),
                "--checkpoint",
                "no_such_model",
                "--out",
                str(tmp_path / "p2"),
            ]
        )
        == 2
    )
    assert "packaged model name" in capsys.readouterr().err
