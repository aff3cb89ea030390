"""``workbench loo``: leave-one-glacier-out folds, validation on an unseen glacier, the results
table with the model-free baselines, and resuming without retraining."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from workbench.cli import main
from workbench.data.caffe import write_caffe_sample
from workbench.errors import ConfigError, DataError
from workbench.evaluation import zones_to_front
from workbench.evaluation.crossval import fold_overrides, leave_one_glacier_out

pytestmark = pytest.mark.slow

RECIPE = {
    "task": "zones",
    "seed": 0,
    "model": {"name": "caffe_unet", "preset": "small"},
    "data": {"kind": "caffe", "patch_size": 32, "batch_size": 2, "samples_per_image": 1},
    "validation": {"window": 48, "resolution_m": "meta", "min_cluster_px": 0},
    "trainer": {
        "max_epochs": 1,
        "enable_progress_bar": False,
        "num_sanity_val_steps": 0,
        "num_threads": 1,
    },
}


@pytest.fixture(scope="module")
def three_glaciers(tmp_path_factory):
    """A flat CaFFe folder: 3 glaciers × 3 dates, 48 px, fronts moving 2 px per date."""
    root = tmp_path_factory.mktemp("caffe3")
    for g, (glacier, col0) in enumerate((("AAA", 18), ("BBB", 24), ("CCC", 30))):
        for k in range(3):
            z = np.full((48, 48), 2, np.int64)
            z[:, col0 + 2 * k :] = 3
            z[:6, :] = 1
            stem = f"{glacier}_2015-0{k + 1}-01_S1_20_1_00{g}"
            img = (z * 60 + np.random.default_rng(g * 10 + k).normal(0, 8, z.shape)).clip(0, 255)
            write_caffe_sample(
                root, stem, img.astype(np.uint8), z, zones_to_front(z, 20.0, min_cluster_px=0)
            )
    return root


def test_fold_overrides_rotate_train_validation_and_test():
    folds = {t: fold_overrides(["C", "A", "B"], t, "glacier")[1] for t in "ABC"}
    assert folds == {"A": "B", "B": "C", "C": "A"}  # each glacier validates exactly once
    with pytest.raises(DataError, match="≥ 3 glaciers"):
        fold_overrides(["A", "B"], "A", "glacier")
    with pytest.raises(ConfigError, match="select"):
        fold_overrides(["A", "B", "C"], "A", "random")
    with pytest.raises(ConfigError, match="glaciers"):
        fold_overrides(["A", "B", "C"], "Z", "glacier")


def test_three_folds_with_baselines_and_resume(three_glaciers, tmp_path):
    out = tmp_path / "loo"
    res = leave_one_glacier_out(RECIPE, three_glaciers, out, figures=False, progress=False)
    assert [r["fold"] for r in res["folds"]] == ["AAA", "BBB", "CCC"]
    for row in res["folds"]:
        run = out / f"fold_{row['fold']}"
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        assert cfg["data"]["test_glaciers"] == [row["fold"]]
        assert cfg["data"]["val_glaciers"] == [row["validation"]]
        assert row["train"] not in (row["fold"], row["validation"])
        assert row["n_images"] == 3 and row["unit"] == "m"
        # the fixed front comes from the one training glacier: its front columns are known
        assert row["fixed_front_mde"] is not None and row["fixed_front_mde"] > 0
        assert row["persistence_mde"] == pytest.approx(2 * 20.0)  # 2 px per date, 20 m
        summary = json.loads((run / "eval" / "metrics.json").read_text())["extra"]["summary"]
        assert summary["fixed_front_source"].startswith("checkpoint")
    assert res["mean"]["fixed_front_mde"] == pytest.approx(
        np.mean([r["fixed_front_mde"] for r in res["folds"]])
    )
    md = (out / "results.md").read_text()
    assert "fixed-front baseline" in md and "complete MDE" in md and "| mean |" in md
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("fold_*/best.pt")}
    again = leave_one_glacier_out(
        RECIPE, three_glaciers, out, glaciers=["BBB"], figures=False, progress=False
    )
    assert {p: p.stat().st_mtime_ns for p in out.glob("fold_*/best.pt")} == stamps  # not retrained
    assert again["folds"][0]["mde"] == res["folds"][1]["mde"]


def test_cli_runs_one_fold(three_glaciers, tmp_path, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(RECIPE))
    assert (
        main(
            [
                "loo",
                str(recipe),
                "trainer.max_epochs=1",
                "--data",
                str(three_glaciers),
                "--out",
                str(tmp_path / "o"),
                "--glaciers",
                "CCC",
                "--select",
                "image",
                "--no-figures",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| CCC |" in out and "mean complete MDE" in out


def test_no_selection_trains_on_every_other_glacier_and_keeps_the_last_epoch(
    three_glaciers, tmp_path
):
    over, val = fold_overrides(["AAA", "BBB", "CCC"], "AAA", "none")
    assert val is None and "checkpoint.monitor=last" in over
    res = leave_one_glacier_out(
        RECIPE,
        three_glaciers,
        tmp_path / "loo",
        glaciers=["AAA"],
        select="none",
        overrides=["trainer.max_epochs=2"],
        figures=False,
        progress=False,
    )
    row = res["folds"][0]
    assert row["train"] == "BBB+CCC" and row["validation"] == "none (last epoch)"
    assert row["epochs"] == 2 and row["best_epoch"] == 1  # the last epoch, whatever it scored
    cfg = yaml.safe_load((tmp_path / "loo" / "fold_AAA" / "config.yaml").read_text())
    assert cfg["checkpoint"]["monitor"] == "last" and cfg["data"]["test_glaciers"] == ["AAA"]
