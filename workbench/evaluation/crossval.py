"""Leave-one-glacier-out cross-validation of a training recipe on a CaFFe-layout folder.

For every glacier ``G`` of the folder (a *fold*): train the config on the other glaciers, select
the checkpoint on a validation set (``select``), evaluate it on every image of ``G`` with the
model-free baselines of docs/science.md §4, and write one table: per fold and the mean, MDE,
complete MDE, images without a front, zone IoU, ECE, the fixed-front and persistence
baselines, and the training time.

``select`` chooses the validation set inside each fold:

* ``"glacier"`` (default) — a whole glacier that is neither trained on nor tested: the next
  glacier after ``G`` in alphabetical order (cyclically), so with three glaciers each one is
  trained on, validated on and tested on exactly once. Model selection then rewards what
  generalises to an unseen glacier, not what fits the training glaciers.
* ``"image"`` — a seeded 10 % of the training glaciers' images (CaFFe's rule); this selects
  models that fit the training glaciers.
* ``"none"`` — no selection: every other glacier is trained on, and the model of the LAST
  epoch is evaluated (``checkpoint.monitor=last``); a seeded 5 % of the training images are
  held back only to draw the validation curves. Nothing is tuned inside the fold, so the
  recipe (epochs, schedule) must be chosen by the mean over all folds.

Runs are resumable: a fold whose training finished is not trained again (``fit(resume=True)``),
and its evaluation is repeated only when missing.

Example (the three caffe256 folds, about 10 minutes per fold on 2 CPU cores)::

    workbench loo caffe256_caffe_unet --data ../shared/data/caffe256 --out outputs/loo_unet
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench._io import atomic_path
from workbench.data.caffe import CaffeDataset
from workbench.errors import ConfigError, DataError
from workbench.evaluation.evaluate import evaluate
from workbench.evaluation.report import markdown_table

__all__ = ["SELECTIONS", "fold_overrides", "leave_one_glacier_out"]

SELECTIONS = ("glacier", "image", "none")

COLUMNS = (
    "mde",
    "complete_mde",
    "n_no_front",
    "n_images",
    "zone_iou",
    "ece",
    "fixed_front_mde",
    "persistence_mde",
    "model_vs_fixed_front",
    "train_minutes",
)


def fold_overrides(glaciers: Sequence[str], test: str, select: str) -> tuple[list[str], str | None]:
    """The config overrides of the fold that tests ``test`` and its validation glacier.

    >>> fold_overrides(["DBE", "JAC", "SI"], "SI", "glacier")
    (['data.split=glacier', 'data.val_glaciers=[DBE]', 'data.test_glaciers=[SI]'], 'DBE')
    >>> fold_overrides(["DBE", "JAC", "SI"], "DBE", "image")[0]
    ['data.split=image', 'data.val_glaciers=[]', 'data.test_glaciers=[DBE]']
    >>> fold_overrides(["DBE", "JAC", "SI"], "DBE", "none")[0][-2:]
    ['data.val_fraction=0.05', 'checkpoint.monitor=last']
    """
    if select not in SELECTIONS:
        raise ConfigError(f"is {select!r}", variable="select", expected=f"one of {SELECTIONS}")
    names = sorted(glaciers)
    if test not in names:
        raise ConfigError(f"is {test!r}", variable="glaciers", expected=f"one of {names}")
    if select == "glacier":
        if len(names) < 3:
            raise DataError(
                f"has {len(names)} glaciers",
                variable="data",
                expected="≥ 3 glaciers for select='glacier' (train, validate, test), "
                "or select='image'",
            )
        val = names[(names.index(test) + 1) % len(names)]
        return (
            ["data.split=glacier", f"data.val_glaciers=[{val}]", f"data.test_glaciers=[{test}]"],
            val,
        )
    image = ["data.split=image", "data.val_glaciers=[]", f"data.test_glaciers=[{test}]"]
    if select == "none":
        return [*image, "data.val_fraction=0.05", "checkpoint.monitor=last"], None
    return image, None


def _selection_text(select: str, val: str | None) -> str:
    if select == "none":
        return "no model selection (the last epoch)"
    return f"validating on {val or 'a random 10 % of their images'}"


def _mean(values: Sequence[Any]) -> float | None:
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(xs) / len(xs) if xs and len(xs) == len(values) else None


def leave_one_glacier_out(
    config: str | os.PathLike[str] | Mapping[str, Any],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    glaciers: Sequence[str] | None = None,
    select: str = "glacier",
    overrides: Sequence[str] = (),
    figures: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and evaluate ``config`` once per held-out glacier of ``data``; write
    ``out/results.json`` and ``out/results.md``; return the results.

    Parameters
    ----------
    config
        A zones training config (packaged name, YAML path or mapping).
    data
        A flat CaFFe-layout folder (``sar_images/``, ``zones/``, ``fronts/``).
    out
        Output folder: ``out/fold_<G>/`` holds the run and ``eval/`` its report.
    glaciers
        The folds to run (default: every glacier of ``data``).
    select
        Validation inside each fold: ``"glacier"`` or ``"image"`` (module docstring).
    overrides
        Extra dotted config overrides, e.g. ``["trainer.max_epochs=20"]``.
    """
    data, out = Path(data), Path(out)
    all_glaciers = sorted({m.glacier for m in CaffeDataset(data).metadata})
    folds = list(glaciers) if glaciers else all_glaciers
    rows: list[dict[str, Any]] = []
    from workbench.training.fit import fit

    for test in folds:
        fold_over, val = fold_overrides(all_glaciers, test, select)
        run = out / f"fold_{test}"
        over = [
            f"data.root={data}",
            "data.kind=caffe",
            "test=false",
            f"name=fold_{test}",
            f"output_dir={out}",
            *fold_over,
            *overrides,
        ]
        timing = run / "train_time.json"
        if progress:
            print(
                f"fold {test}: training on {[g for g in all_glaciers if g not in (test, val)]}"
                f", {_selection_text(select, val)}",
                flush=True,
            )
        with warnings.catch_warnings():  # a first run has nothing to resume: expected
            warnings.filterwarnings("ignore", message=".*starting .* from scratch")
            result = fit(config, overrides=over, resume=True, run_dir=run)
        if result.interrupted:
            raise KeyboardInterrupt
        if not timing.exists():  # the first, full training of this fold
            with atomic_path(timing) as tmp:
                tmp.write_text(json.dumps({"seconds": result.seconds, "epochs": result.epochs}))
        seconds = json.loads(timing.read_text())["seconds"]
        s = evaluate(
            run / "best.pt",
            data,
            out=run / "eval",
            split="test",
            figures=figures,
            progress=progress,
        )
        row = {
            "fold": test,
            "validation": val or ("none (last epoch)" if select == "none" else "10 % of images"),
            "train": "+".join(g for g in all_glaciers if g not in (test, val)),
            **{k: s.get(k) for k in COLUMNS if k != "train_minutes"},
            "unit": s["unit"],
            "train_minutes": round(seconds / 60, 1),
            "epochs": result.epochs,
            "best_epoch": result.metrics.get("epoch"),
        }
        rows.append(row)
        if progress:
            print(
                f"fold {test}: MDE {row['mde']} / complete {row['complete_mde']} "
                f"{row['unit']} ({row['n_no_front']} without a front); fixed-front baseline "
                f"{row['fixed_front_mde']}",
                flush=True,
            )
    mean = {"fold": "mean", **{k: _mean([r[k] for r in rows]) for k in COLUMNS}}
    results = {
        "config": str(config) if not isinstance(config, Mapping) else "<mapping>",
        "data": str(data),
        "select": select,
        "overrides": list(overrides),
        "folds": rows,
        "mean": mean,
        "goal": "complete MDE ≤ 0.6 × the fold's fixed-front baseline, ≤ 2 % no front",
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    _write(out, results)
    return results


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _write(out: Path, results: Mapping[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(results, indent=2))
    table = [
        {
            "fold (test glacier)": r["fold"],
            "train": r.get("train", ""),
            "validation": r.get("validation", ""),
            "MDE": _fmt(r["mde"]),
            "complete MDE": _fmt(r["complete_mde"]),
            "no front": _fmt(r["n_no_front"]),
            "zone IoU": _fmt(r["zone_iou"]),
            "ECE": _fmt(r["ece"]),
            "fixed-front baseline": _fmt(r["fixed_front_mde"]),
            "persistence": _fmt(r["persistence_mde"]),
            "complete / fixed": _fmt(r["model_vs_fixed_front"]),
            "train min": _fmt(r["train_minutes"]),
        }
        for r in [*results["folds"], results["mean"]]
    ]
    unit = results["folds"][0]["unit"] if results["folds"] else "px"
    md = [
        f"# Leave-one-glacier-out: `{results['config']}` on `{results['data']}`",
        "",
        f"Validation inside each fold: {results['select']}; overrides: "
        f"{results['overrides'] or 'none'}. Distances in {unit}. Goal: "
        f"{results['goal']}.",
        "",
        markdown_table(table),
        "",
    ]
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text("\n".join(md))
