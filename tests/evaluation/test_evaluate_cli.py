"""``evaluate`` / ``workbench evaluate``, checkpoint calibration, and the packaged demo models.

Tiny data only: a 6-image CaFFe folder (48 px), a 3-glacier demo world of 48 px at 200 m with a
few dates, random-weight ``small`` models, and "oracle" modules that are exactly right (so the
metric plumbing can be checked against known answers: MDE 0, IoU 1).
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from workbench.cli import build_parser, main
from workbench.data.caffe import write_caffe_sample
from workbench.errors import ConfigError, DataError
from workbench.evaluation import zones_to_front
from workbench.evaluation.evaluate import (
    CALIBRATION_KEY,
    checkpoint_calibration,
    evaluate,
    fit_calibration,
    parse_resolution,
    parse_steps,
    save_calibration,
)
from workbench.models import SegmentationOutput, create_model, read_checkpoint_info, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
WORLD = {
    "kind": "demo",
    "n_glaciers": 3,
    "years": 0.12,
    "size": 48,
    "pixel_size": 200.0,
    "world_seed": 3,
    "val_glaciers": 1,
    "test_glaciers": 1,
    "patch_size": 32,
}
SUMMARY_KEYS = {
    "task",
    "model",
    "checkpoint",
    "data",
    "split",
    "n_images",
    "ece",
    "ece_calibrated",
    "calibrated",
    "notes",
    "seconds",
    "paths",
}


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _zones(h: int, w: int, col: int) -> np.ndarray:
    z = np.full((h, w), 2, np.int64)  # glacier
    z[:, col:] = 3  # ocean on the right
    z[:8, :] = 1  # rock on top
    z[:3, :4] = 0  # a little no-data corner
    return z


@pytest.fixture(scope="module")
def caffe_folder(tmp_path_factory) -> Path:
    """6 images, 48 × 48, glaciers SI and JAC; grey = 80 · class; fronts = CaFFe's extraction."""
    root = tmp_path_factory.mktemp("caffe")
    for i in range(6):
        glacier, orbit = ("SI", "125") if i % 2 == 0 else ("JAC", "005")
        z = _zones(48, 48, 20 + 3 * i)
        front = zones_to_front(z, 7.0, min_cluster_px=0)
        stem = f"{glacier}_2010-0{1 + i // 2}-1{i % 2}_TSX_7_1_{orbit}"
        write_caffe_sample(root, stem, (z * 80).astype(np.uint8), z, front)
    return root


@pytest.fixture(scope="module")
def zone_ckpt(tmp_path_factory) -> Path:
    """A random-weight small CaFFe U-Net whose training config names the tiny demo world."""
    torch.manual_seed(0)
    cfg = {
        "task": "zones",
        "seed": 0,
        "data": WORLD,
        "validation": {"window": 32, "overlap": 0.5, "resolution_m": "meta"},
    }
    path = tmp_path_factory.mktemp("ckpt") / "zones.pt"
    return save_checkpoint(
        create_model("caffe_unet", preset="small"),
        path,
        normalization={"mean": [0.45], "std": [0.2]},
        train_config=cfg,
    )


@pytest.fixture(scope="module")
def outline_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    cfg = {
        "task": "outlines",
        "seed": 0,
        "data": {**WORLD, "time_steps": 2, "variables": ["sigma0_db", "coherence"]},
        "validation": {"window": 32, "overlap": 0.5, "weighting": "gaussian"},
    }
    path = tmp_path_factory.mktemp("ckpt") / "outlines.pt"
    return save_checkpoint(
        create_model("icemapper3d", preset="small"),
        path,
        normalization={"mean": [-10.0, 0.5], "std": [5.0, 0.2]},
        train_config=cfg,
    )


class ZoneOracle(torch.nn.Module):
    """Exactly right for the caffe_folder images (grey 80 · class, read as value / 255)."""

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        cls = torch.round(x[:, :1] * 255 / 80).clamp(0, 3)
        return SegmentationOutput(-20.0 * (cls - torch.arange(4.0).view(1, 4, 1, 1)) ** 2)


class OutlineOracle(torch.nn.Module):
    """Exactly right for stacks whose last-date σ0 is 10 on glacier and 0 elsewhere."""

    model_name = "icemapper3d"
    config = {"in_features": 2, "num_classes": 2}

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> SegmentationOutput:
        g = (x[:, -1, :1] > 5).float()
        return SegmentationOutput(torch.cat([4 - 8 * g, 8 * g - 4], dim=1) * self.w)


def _outline_stack(name: str = "Oracle") -> xr.Dataset:
    """Two calendar years (2019: 6 dates, 2020: 4 dates), 24 × 20 px, outline growing."""
    times = np.array(
        [
            "2019-03-01",
            "2019-05-01",
            "2019-07-01",
            "2019-09-01",
            "2019-11-01",
            "2019-12-20",
            "2020-02-01",
            "2020-05-01",
            "2020-08-01",
            "2020-12-01",
        ],
        dtype="datetime64[ns]",
    )
    outline = np.zeros((len(times), 24, 20), np.uint8)
    for t in range(len(times)):
        outline[t, 4:16, 3 : 10 + t] = 1
    sigma = np.where(outline == 1, 10.0, 0.0).astype(np.float32)
    coh = np.full(sigma.shape, 0.5, np.float32)
    return xr.Dataset(
        {
            "sigma0_db": (("time", "y", "x"), sigma),
            "coherence": (("time", "y", "x"), coh),
            "outline": (("time", "y", "x"), outline),
        },
        coords={"time": times},
        attrs={"glacier": name, "pixel_size": 10.0},
    )


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# --------------------------------------------------------------------------- zones


def test_perfect_zone_model_on_a_caffe_folder_gives_mde_zero(caffe_folder, tmp_path):
    out = tmp_path / "rep"
    s = evaluate(
        ZoneOracle(),
        caffe_folder,
        out=out,
        split="all",
        resolution="meta",
        min_cluster_px=0,
        device="cpu",
        window=32,
    )
    assert s["task"] == "zones" and s["n_images"] == 6 and s["n_evaluated"] == 6
    assert s["mde_m"] == 0.0 and s["mde_px"] == 0.0 and s["n_no_front"] == 0 and s["unit"] == "m"
    assert s["zone_iou"] == pytest.approx(1.0)
    assert set(s["mde_by_glacier"]) == {"JAC", "SI"}
    m = _metrics(out)
    assert {"title", "mde", "zones", "calibration", "extra"} <= set(m)
    assert m["mde"]["n_images"] == 6 and m["mde"]["mde_m"] == 0.0
    assert set(m["mde"]["groups"]) == {"glacier", "season", "sensor", "resolution"}
    assert m["zones"]["iou"]["mean"] == pytest.approx(1.0)
    assert SUMMARY_KEYS <= set(m["extra"]["summary"])
    assert 0.0 <= m["calibration"]["ece"] < 0.05  # right and confident: calibrated
    for f in ("error_histogram", "mde_breakdown", "reliability", "worst_cases"):
        assert Path(s["paths"][f]).is_file(), f
    md = (out / "metrics.md").read_text()
    assert md.startswith("# Evaluation of") and "## Summary" in md and "MDE" in md
    assert len((out / "metrics_per_image.csv").read_text().strip().splitlines()) == 7


def test_random_zone_checkpoint_on_caffe_folder_and_unknown_resolution(
    zone_ckpt, caffe_folder, tmp_path
):
    with pytest.raises(ConfigError, match="min_cluster_px"):
        evaluate(zone_ckpt, caffe_folder, split="all", resolution=None)
    s = evaluate(
        zone_ckpt,
        caffe_folder,
        out=tmp_path,
        split="test",
        resolution="none",
        min_cluster_px=0,
        device="cpu",
        figures=False,
    )
    assert "no test split" in " ".join(s["notes"])  # a flat folder: every image
    assert s["n_images"] == 6 and s["n_evaluated"] + s["n_no_front"] == 6
    assert s["mde_m"] is None and s["unit"] == "px"  # pixel size unknown: pixels only
    assert s["mde_px"] is None or s["mde_px"] >= 0
    assert 0.0 <= s["zone_iou"] <= 1.0 and 0.0 <= s["ece"] <= 1.0
    assert not (tmp_path / "figures").exists()


def test_caffe_split_follows_the_training_run(caffe_folder, tmp_path):
    """A model trained with JAC held out is tested on JAC only, validated on part of SI."""
    cfg = {
        "task": "zones",
        "seed": 0,
        "validation": {"window": 32, "resolution_m": "meta"},
        "data": {
            "kind": "caffe",
            "root": str(caffe_folder),
            "split": "image",
            "val_fraction": 0.34,
            "test_glaciers": ["JAC"],
        },
    }
    ckpt = save_checkpoint(
        create_model("caffe_unet", preset="small"),
        tmp_path / "m.pt",
        normalization={"mean": [0.45], "std": [0.2]},
        train_config=cfg,
    )
    test = evaluate(ckpt, caffe_folder, split="test", figures=False, min_cluster_px=0)
    assert test["n_images"] == 3 and set(test["mde_by_glacier"]) == {"JAC"}
    val = evaluate(ckpt, caffe_folder, split="val", figures=False, min_cluster_px=0)
    assert set(val["mde_by_glacier"]) == {"SI"} and 1 <= val["n_images"] < 3


def test_zone_evaluation_accumulates_distances_and_keeps_compact_fronts(zone_ckpt, caffe_folder):
    """The MDE is accumulated image by image (no list of full-size masks); the fronts kept for
    the worst-case figure come back as masks and give exactly mean_distance_error's result."""
    from workbench.evaluation import mean_distance_error
    from workbench.evaluation.evaluate import _eval_zones, _Evaluator

    class Shifted(ZoneOracle):  # right, but 3 px to the side
        def forward(self, x: torch.Tensor) -> SegmentationOutput:
            return super().forward(torch.roll(x, shifts=3, dims=-1))

    for model in (ZoneOracle(), Shifted(), zone_ckpt):
        e = _Evaluator(model, device="cpu", window=32)
        r = _eval_zones(
            e,
            "caffe",
            caffe_folder,
            split="all",
            resolution="meta",
            min_cluster_px=0,
            thin=False,
            max_images=None,
            demo_options=None,
            n_bins=10,
            progress=False,
            notes=[],
        )
        preds, refs, res = r["preds"], r["refs"], r["mde"]
        assert not isinstance(preds, list) and len(preds) == len(refs) == res.n_images == 6
        p = [preds[i] for i in range(6)]
        q = [refs[i] for i in range(6)]
        assert all(m.dtype == bool and m.shape == (48, 48) for m in p + q)
        assert [int(m.sum()) for m in p] == [rec.n_pred for rec in res.per_image]
        again = mean_distance_error(p, q, [rec.name for rec in res.per_image])
        assert np.array_equal(again.distances_px, res.distances_px)
        assert again.mde_m == res.mde_m or (math.isnan(again.mde_m) and math.isnan(res.mde_m))
        assert [g.to_dict() for g in again.groups["glacier"]] == [
            g.to_dict() for g in res.groups["glacier"]
        ]
        assert again.n_no_front == res.n_no_front
        if model is not zone_ckpt:
            assert res.n_evaluated == 6 and (res.mde_px == 0.0) == (type(model) is ZoneOracle)


def test_random_zone_checkpoint_on_the_demo_world_test_glacier(zone_ckpt, tmp_path):
    s = evaluate(zone_ckpt, "demo", out=tmp_path, device="cpu", max_images=3, figures=False)
    assert s["data_kind"] == "demo" and s["split"] == "test" and s["n_images"] == 3
    assert len(s["mde_by_glacier"]) == 1  # the one held-out glacier
    assert s["resolution"] == "meta" and s["model_pixel_size_m"] == 200.0
    assert 0.0 <= s["zone_iou"] <= 1.0 and s["calibrated"] is False
    if s["n_evaluated"]:
        assert s["mde_m"] == pytest.approx(200.0 * s["mde_px"])
    assert _metrics(tmp_path)["extra"]["summary"]["n_images"] == 3


def test_calibration_is_fitted_stored_and_used(zone_ckpt, tmp_path):
    cmap = fit_calibration(zone_ckpt, "demo", split="val", n_bins=20, max_images=2, device="cpu")
    target = save_calibration(zone_ckpt, cmap, out=tmp_path / "cal.pt", metrics={"note": 1})
    info = read_checkpoint_info(target)
    assert info.metrics[CALIBRATION_KEY]["kind"] == "CalibrationMap" and info.metrics["note"] == 1
    assert checkpoint_calibration(info)[0](0.5) == pytest.approx(cmap(0.5))
    s = evaluate(
        target, "demo", out=tmp_path / "rep", split="val", max_images=2, n_bins=20, device="cpu"
    )
    assert s["calibrated"] is True and 0.0 <= s["ece_calibrated"] <= 1.0
    assert s["ece_calibrated"] <= s["ece"] + 1e-9  # fitted on these very pixels
    assert Path(s["paths"]["reliability_calibrated"]).is_file()
    assert _metrics(tmp_path / "rep")["calibration"]["map"]["kind"] == "CalibrationMap"
    # the inference engine reads the same key
    from workbench.inference.predictor import InputSpec
    from workbench.models import load_model

    assert InputSpec.from_model(load_model(target, device="cpu")).calibration_map is not None


# --------------------------------------------------------------------------- outlines


def test_perfect_outline_model_per_year_with_ablation(tmp_path):
    stack = _outline_stack()
    s = evaluate(
        OutlineOracle(),
        stack,
        out=tmp_path,
        split="test",
        steps=3,
        ablation=[1, 5, "all"],
        device="cpu",
        window=16,
    )
    assert s["task"] == "outlines" and s["steps"] == 3 and s["n_images"] == 2  # 2019, 2020
    assert s["precision"] == s["recall"] == s["f1"] == s["iou"] == 1.0
    rows = {r["steps"]: r for r in s["ablation"]}
    assert list(rows) == [1, 3, 5, "all"]
    assert rows[5]["n_windows"] == 1  # 2020 has only 4 dates
    assert rows["all"]["dates"] == "4,6" and rows["all"]["iou"] == 1.0
    assert any("steps=5: skipped 1 year" in n for n in s["notes"])
    m = _metrics(tmp_path)
    assert m["outlines"]["iou"] == 1.0 and m["outlines"]["fp"] == 0
    assert m["extra"]["summary"]["ablation"][0]["steps"] == 1
    assert "Acquisitions per yearly input" in (tmp_path / "metrics.md").read_text()
    assert Path(s["paths"]["examples"]).is_file()


def test_random_outline_checkpoint_on_the_demo_world(outline_ckpt, tmp_path):
    s = evaluate(outline_ckpt, "demo", out=tmp_path, ablation=["all"], device="cpu", figures=False)
    assert s["steps"] == 2 and s["trained_steps"] == 2 and s["n_images"] == 1
    for k in ("precision", "recall", "f1", "iou"):
        assert s[k] is None or 0.0 <= s[k] <= 1.0
    assert s["tp"] + s["fp"] + s["fn"] + s["tn"] == 48 * 48
    assert [r["steps"] for r in s["ablation"]] == [2, "all"]
    with pytest.raises(ConfigError, match="CaFFe"):
        evaluate(outline_ckpt, _caffe_like(tmp_path), split="all")


def _caffe_like(tmp_path: Path) -> Path:
    (tmp_path / "c" / "sar_images").mkdir(parents=True)
    return tmp_path / "c"


def test_parsers_and_data_errors(zone_ckpt, tmp_path):
    assert parse_resolution("7") == 7.0 and parse_resolution("unknown") is None
    assert parse_steps("all") == "all" and parse_steps(5) == 5
    with pytest.raises(ConfigError):
        parse_resolution("-1")
    with pytest.raises(ConfigError):
        parse_steps(0)
    with pytest.raises(DataError, match="does not exist"):
        evaluate(zone_ckpt, tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="split"):
        evaluate(zone_ckpt, "demo", split="holdout")


# --------------------------------------------------------------------------- CLI


def test_evaluate_help_has_examples_and_every_option_is_explained(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "workbench evaluate" in out
    parser = build_parser()
    for action in parser._subparsers._group_actions[0].choices["evaluate"]._actions:
        assert action.help, f"option {action.dest} of `workbench evaluate` has no help"


def test_cli_writes_the_report(zone_ckpt, caffe_folder, tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "evaluate",
                str(zone_ckpt),
                str(caffe_folder),
                "--out",
                str(out),
                "--split",
                "all",
                "--resolution",
                "7",
                "--no-figures",
                "--device",
                "cpu",
                "--max-images",
                "4",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "zone IoU" in text and "ECE" in text and str(out / "metrics.md") in text
    m = _metrics(out)
    assert m["extra"]["summary"]["n_images"] == 4 and m["mde"]["n_images"] == 4
    assert main(["evaluate", str(zone_ckpt), str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


# --------------------------------------------------------------------------- demo models


@pytest.mark.parametrize("kind", ["zones", "outlines"])
def test_packaged_demo_checkpoints(kind):
    from workbench.checkpoints import demo_checkpoint
    from workbench.models import load_model

    path = demo_checkpoint(kind)
    assert path == demo_checkpoint(f"demo_{kind}") and path.stat().st_size <= 10 * 2**20
    model = load_model(path, device="cpu")
    info = model.checkpoint_info
    assert info.model_name == ("caffe_unet" if kind == "zones" else "icemapper3d")
    assert info.train_config["task"] == kind and info.train_config["data"]["kind"] == "demo"
    cmap, _ = checkpoint_calibration(info)
    assert cmap is not None and cmap.n_pixels > 0
    ev = info.metrics["evaluation"]
    assert ev["split"] == "test" and ev["ece_calibrated"] < ev["ece"]
    if kind == "zones":
        assert ev["n_no_front"] <= 2 and 0 < ev["mde_m"] < 1500 and ev["zone_iou"] > 0.5
        # and on the held-out glacier simulated at 20 m (the `workbench demo` world), which
        # evaluate resamples to 80 m: the model was trained for it (data.resample_factors)
        fine = ev["fine"]
        assert fine["pixel_size"] == 20.0 and fine["size"] == 512
        assert fine["n_no_front"] <= 2 and 0 < fine["mde_m"] < 1000 and fine["zone_iou"] > 0.5
    else:
        assert ev["iou"] > 0.5 and [r["steps"] for r in ev["ablation"]] == [1, 3, 5, 8, "all"]
    # evaluate takes the packaged models by name ("demo" = the world they were trained on)
    quick = evaluate(f"demo_{kind}", "demo", split="val", max_images=1, device="cpu")
    assert quick["checkpoint"] == str(path) and quick["calibrated"] and quick["n_images"] == 1
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "checkpoints/*.pt" in pyproject["tool"]["setuptools"]["package-data"]["workbench"]


def test_unknown_demo_kind_is_a_clear_error():
    from workbench.checkpoints import demo_checkpoint

    with pytest.raises(ConfigError, match="zones"):
        demo_checkpoint("fronts")


@pytest.mark.slow
def test_build_demo_models_end_to_end_tiny(tmp_path):
    """The build on a tiny world (1 epoch each): checkpoints, calibration, reports, tables."""
    from workbench.checkpoints.build import build_demo_models

    tiny = [
        "data.n_glaciers=3",
        "data.years=0.12",
        "data.size=48",
        "data.pixel_size=200",
        "data.patch_size=32",
        "data.batch_size=4",
        "data.samples_per_image=1",
        "data.world_seed=3",
        "data.val_glaciers=1",
        "data.test_glaciers=1",
        "validation.window=32",
        "trainer.max_epochs=1",
        "trainer.num_sanity_val_steps=0",
        "trainer.log_every_n_steps=1",
        "test=false",
        "trainer.check_val_every_n_epoch=1",
        "model.preset=small",
        "model.kwargs={}",
        "data.time_steps=2",
        "data.val_windows=1",
    ]
    res = build_demo_models(
        tmp_path / "work",
        tmp_path / "dest",
        jobs=["outlines_t1", "zones", "outlines"],
        overrides=tiny,
        workers=1,
        figures=False,
        eval_years=None,
    )
    for kind in ("zones", "outlines"):
        info = read_checkpoint_info(tmp_path / "dest" / f"demo_{kind}.pt")
        assert info.metrics[CALIBRATION_KEY]["kind"] == "CalibrationMap"
        assert info.metrics["evaluation"]["split"] == "test"
        assert (tmp_path / "work" / kind / "report" / "metrics.json").is_file()
        assert res[kind]["bytes"] < 10 * 2**20
    assert res["outlines_t1"]["summary"]["steps"] == 1  # retrained with 1 date
    assert (
        read_checkpoint_info(res["outlines_t1"]["checkpoint"]).train_config["data"]["time_steps"]
        == 1
    )
    assert not (tmp_path / "dest" / "demo_outlines_t1.pt").exists()  # not packaged
    md = (tmp_path / "work" / "demo_models.md").read_text()
    assert "MDE (m)" in md and "| 1 | trained with 1 |" in md and "| all | packaged" in md
    assert not math.isnan(res["zones"]["train_s"])
    # --resume continues the finished run instead of retraining it: same weights, same numbers
    before = torch.load(
        tmp_path / "dest" / "demo_zones.pt", map_location="cpu", weights_only=False
    )["state_dict"]
    again = build_demo_models(
        tmp_path / "work",
        tmp_path / "dest",
        jobs=["zones"],
        overrides=tiny,
        workers=1,
        figures=False,
        eval_years=None,
        resume=True,
    )
    after = torch.load(tmp_path / "dest" / "demo_zones.pt", map_location="cpu", weights_only=False)[
        "state_dict"
    ]
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert again["zones"]["summary"]["mde_px"] == res["zones"]["summary"]["mde_px"]
