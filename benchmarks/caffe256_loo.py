"""Leave-one-glacier-out benchmark on caffe256: train on JAC + DBE, test on SI.

Reproduces the tables of ``docs/caffe256_results.md``:

1. writes a CaFFe folder in the original layout made of symbolic links into ``OUT/data``:
   ``train`` = every image of the training glaciers (JAC, DBE), ``test`` = the test glacier
   (SI); the training images are split into train / validation by a seeded 10 % (CaFFe's
   rule) by ``CaffeDataModule(split="image")``;
2. trains ``caffe_unet`` and ``ssl4sar_hybrid`` with :func:`workbench.training.fit` from
   ``workbench/configs/caffe256_caffe_unet.yaml`` and ``caffe256_ssl4sar_hybrid.yaml``
   (one CPU thread each, one after the other; the checkpoint is chosen on the validation
   MDE);
3. evaluates each ``best.pt`` on every SI image: the CaFFe MDE in PIXELS (the pixel size of
   the resized images is unknown) with the number of images without a predicted front, its
   breakdown by season, sensor and original resolution, the zone IoU (mean and per class),
   and the MDE for several front-cluster thresholds (``min_cluster_px``);
4. writes ``OUT/results.json``, ``OUT/results.md`` and the figures (``--figure``,
   ``--curves``).

Usage::

    python benchmarks/caffe256_loo.py                          # train both + evaluate (≈ 35 min, 1 core)
    python benchmarks/caffe256_loo.py --eval-only              # re-evaluate the trained runs
    python benchmarks/caffe256_loo.py --models caffe_unet --epochs 2   # a quick check

The data folder is ``--data``, default ``$WORKBENCH_SHARED_DATA/caffe256`` (with
``WORKBENCH_SHARED_DATA`` defaulting to ``../shared/data``). The dataset is CaFFe
(Gourmelon et al. 2022, ESSD 14, 4287–4313, CC-BY-4.0), resized to 256 × 256.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from workbench.data.caffe import CaffeDataset  # noqa: E402
from workbench.data.patches import Normalization  # noqa: E402
from workbench.evaluation import (  # noqa: E402
    aggregate_zone_metrics,
    mean_distance_error,
    zone_metrics,
    zones_to_front,
)
from workbench.models import load_model  # noqa: E402
from workbench.training import fit  # noqa: E402
from workbench.training.datamodules import ZoneImageDataset  # noqa: E402
from workbench.training.tasks import predict_tiled  # noqa: E402

MODELS = {"caffe_unet": "caffe256_caffe_unet", "ssl4sar_hybrid": "caffe256_ssl4sar_hybrid"}
LABELS = {"caffe_unet": "CaFFe U-Net", "ssl4sar_hybrid": "SSL4SAR hybrid"}
CLASSES = ("NA", "rock", "glacier", "ocean")
FOLDERS = {"sar_images": "", "zones": "_zones", "fronts": "_front"}


def default_data() -> Path:
    shared = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    return shared / "caffe256"


# --------------------------------------------------------------------------- split folder


def prepare_split(data: Path, out: Path, test_glaciers: list[str]) -> dict[str, int]:
    """``out/{sar_images,zones,fronts}/{train,test}/`` of symbolic links into ``data``."""
    images = sorted((data / "sar_images").glob("*.png"))
    if not images:
        raise SystemExit(f"no images in {data / 'sar_images'}: pass --data (a caffe256 folder)")
    test = {g.upper() for g in test_glaciers}
    counts = {"train": 0, "test": 0}
    for folder in FOLDERS:
        for split in counts:
            d = out / folder / split
            d.mkdir(parents=True, exist_ok=True)
            for old in d.iterdir():
                if old.is_symlink() or old.is_file():
                    old.unlink()
    for img in images:
        stem = img.stem
        split = "test" if stem.split("_")[0].upper() in test else "train"
        counts[split] += 1
        for folder, suffix in FOLDERS.items():
            src = (data / folder / f"{stem}{suffix}.png").resolve()
            if not src.is_file():
                raise SystemExit(f"{src} is missing")
            (out / folder / split / src.name).symlink_to(src)
    if counts["test"] == 0:
        raise SystemExit(f"no image of {test_glaciers} in {data}")
    return counts


# --------------------------------------------------------------------------- training


def train(
    model: str, out: Path, split_root: Path, threads: int, epochs: int | None, extra: list[str]
) -> dict[str, Any]:
    overrides = [f"data.root={split_root}", f"trainer.num_threads={threads}"]
    if epochs is not None:
        overrides.append(f"trainer.max_epochs={epochs}")
    overrides += extra
    run = out / model
    print(f"[{time.strftime('%H:%M:%S')}] training {model} -> {run}", flush=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit(MODELS[model], overrides=overrides, run_dir=run, overwrite=True)
    wall = time.perf_counter() - t0
    hist = result.history()
    curve = []
    if "val_mde" in hist:
        v = hist.dropna(subset=["val_mde"])
        for _, row in v.iterrows():
            curve.append(
                {
                    k: (None if not math.isfinite(float(row[k])) else float(row[k]))
                    for k in ("epoch", "val_mde", "val_no_front", "val_miou", "val_mde_sel")
                    if k in row
                }
            )
    train_loss = []
    if "train_loss_epoch" in hist:
        t = hist.dropna(subset=["train_loss_epoch"])
        train_loss = [
            {"epoch": int(r["epoch"]), "train_loss": float(r["train_loss_epoch"])}
            for _, r in t.iterrows()
        ]
    info = {
        "model": model,
        "config": MODELS[model],
        "overrides": overrides,
        "fit_seconds": result.seconds,
        "wall_seconds": wall,
        "epochs": result.epochs,
        "best_val_score": result.best_score,
        "monitor": result.monitor,
        "fit_metrics": {
            k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))
        },
        "val_curve": curve,
        "train_loss": train_loss,
        "parameters": int(
            sum(p.numel() for p in load_model(result.best_checkpoint, device="cpu").parameters())
        ),
    }
    (run / "train_info.json").write_text(json.dumps(info, indent=1))
    print(
        f"[{time.strftime('%H:%M:%S')}] {model}: {wall / 60:.1f} min, "
        f"{result.epochs} epochs, best {result.monitor} = {result.best_score}",
        flush=True,
    )
    return info


# --------------------------------------------------------------------------- evaluation


def predict(model_path: Path, split_root: Path, threads: int) -> dict[str, Any]:
    """Zone predictions of the best model on every test image (whole 256 px images)."""
    torch.set_num_threads(threads)
    model = load_model(model_path, device="cpu")
    info = model.checkpoint_info
    cfg = info.train_config or {}
    val = cfg.get("validation", {})
    norm = Normalization.from_dict(info.normalization)
    ds = CaffeDataset(split_root, split="test", thin_fronts=True)
    items = ZoneImageDataset(ds, norm)
    preds, refs, zones, metas, images = [], [], [], [], []
    t0 = time.perf_counter()
    for i in range(len(items)):
        s = items[i]
        out = predict_tiled(
            model,
            s["image"][None],
            window=int(val.get("window") or 256),
            keep=val.get("keep"),
            overlap=float(val.get("overlap", 0.5)),
        )
        preds.append(out["logits"][0].argmax(0).numpy())
        refs.append(s["front"].numpy())
        zones.append(s["mask"].numpy())
        metas.append(ds.metadata[i])
        images.append(ds.load(i)["image"][0].numpy())
    seconds = time.perf_counter() - t0
    return {
        "preds": preds,
        "refs": refs,
        "zones": zones,
        "metas": metas,
        "images": images,
        "seconds": seconds,
        "train_config": cfg,
        "checkpoint_metrics": dict(info.metrics or {}),
    }


def _f(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return None if not math.isfinite(float(v)) else round(float(v), 4)
    if isinstance(v, np.integer):
        return int(v)
    return v


def evaluate(p: dict[str, Any], min_cluster_px: float, sensitivity: list[float]) -> dict[str, Any]:
    res = mean_distance_error(
        p["preds"],
        p["refs"],
        p["metas"],
        from_zones=True,
        resolution_m=None,
        min_cluster_px=min_cluster_px,
    )
    zm = aggregate_zone_metrics(
        zone_metrics(pr, z, 4, class_names=CLASSES)
        for pr, z in zip(p["preds"], p["zones"], strict=False)
    )
    groups = {
        by: [{k: _f(v) for k, v in g.to_dict().items() if not k.endswith("_m")} for g in gs]
        for by, gs in res.groups.items()
    }
    sens = []
    for k in sensitivity:
        r = mean_distance_error(
            p["preds"], p["refs"], p["metas"], from_zones=True, resolution_m=None, min_cluster_px=k
        )
        sens.append({"min_cluster_px": k, "mde_px": _f(r.mde_px), "n_no_front": r.n_no_front})
    # floor: fronts extracted from the REFERENCE zones against the thinned reference fronts
    floor = mean_distance_error(
        p["zones"],
        p["refs"],
        p["metas"],
        from_zones=True,
        resolution_m=None,
        min_cluster_px=min_cluster_px,
    )
    pred_px = np.bincount(np.concatenate([z.ravel() for z in p["preds"]]), minlength=4)
    ref_px = np.bincount(np.concatenate([z.ravel() for z in p["zones"]]), minlength=4)
    fractions = {
        c: {"pred": _f(a / pred_px.sum()), "ref": _f(b / ref_px.sum())}
        for c, a, b in zip(CLASSES, pred_px, ref_px, strict=False)
    }
    per_image = [
        {
            "stem": r.name,
            "status": r.status,
            "mde_px": _f(r.mde_px),
            "n_pred": r.n_pred,
            "n_ref": r.n_ref,
        }
        for r in res.per_image
    ]
    return {
        "mde_px": _f(res.mde_px),
        "std_px": _f(res.std_px),
        "n_images": res.n_images,
        "n_evaluated": res.n_evaluated,
        "n_no_front": res.n_no_front,
        "n_distances": res.n_distances,
        "median_image_mde_px": _f(
            np.median([r.mde_px for r in res.per_image if r.status == "ok"])
            if res.n_evaluated
            else math.nan
        ),
        "miou": _f(zm.mean["iou"]),
        "iou_per_class": {c: _f(v) for c, v in zip(CLASSES, zm.per_class["iou"], strict=False)},
        "f1_mean": _f(zm.mean["f1"]),
        "class_fractions": fractions,
        "groups": groups,
        "sensitivity": sens,
        "reference_zone_floor_mde_px": _f(floor.mde_px),
        "predict_seconds": round(p["seconds"], 1),
        "per_image": per_image,
    }


# --------------------------------------------------------------------------- figures


def _thick(mask: np.ndarray, it: int = 1) -> np.ndarray:
    from scipy import ndimage

    return ndimage.binary_dilation(mask, iterations=it) if it else mask


def plot_examples(
    preds: dict[str, dict[str, Any]],
    evals: dict[str, dict[str, Any]],
    path: Path,
    min_cluster_px: float,
    n: int = 4,
) -> None:
    """A few SI images: SAR with reference / predicted fronts, and the predicted zones."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from workbench.data.caffe import ZONE_COLORS

    models = list(preds)
    first = preds[models[0]]
    # one image per sensor (most frequent sensors first): the one with the median error of
    # the first model among its evaluated images (images without a front sort last)
    per = evals[models[0]]["per_image"]
    chosen: list[int] = []
    by_sensor: dict[str, list[int]] = {}
    for i, m in enumerate(first["metas"]):
        by_sensor.setdefault(m.sensor, []).append(i)

    def err(i: int) -> float:
        v = per[i]["mde_px"]
        return math.inf if v is None else v

    for sensor in sorted(by_sensor, key=lambda s: -len(by_sensor[s]))[:n]:
        idx = sorted(by_sensor[sensor], key=err)
        ok = [i for i in idx if math.isfinite(err(i))] or idx
        chosen.append(ok[len(ok) // 2])
    colors = {"ref": (1.0, 0.85, 0.0), models[0]: (1.0, 0.15, 0.15)}
    if len(models) > 1:
        colors[models[1]] = (0.0, 0.9, 1.0)
    rows = 2 + len(models)
    fig = Figure(figsize=(3.2 * len(chosen), 3.3 * rows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, len(chosen))).reshape(rows, len(chosen))
    cmap = ListedColormap(list(ZONE_COLORS))
    for c, i in enumerate(chosen):
        meta = first["metas"][i]
        ax = axes[0, c]
        rgb = np.repeat(first["images"][i][..., None], 3, axis=2).astype(np.float32)
        layers = [("ref", first["refs"][i])] + [
            (m, zones_to_front(preds[m]["preds"][i], None, min_cluster_px=min_cluster_px))
            for m in models
        ]
        for name, front in layers:
            rgb[_thick(front)] = colors[name]
        ax.imshow(rgb, interpolation="nearest")
        errs = ", ".join(
            f"{LABELS[m].split()[0]} {_num(evals[m]['per_image'][i]['mde_px'], 1)}" for m in models
        )
        ax.set_title(
            f"{meta.sensor} {meta.date.isoformat()} ({meta.season})\nMDE px: {errs}", fontsize=8
        )
        panels = [("reference", first["zones"][i])] + [
            (LABELS[m], preds[m]["preds"][i]) for m in models
        ]
        for r, (label, zmap) in enumerate(panels, start=1):
            a = axes[r, c]
            a.imshow(zmap, cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
            ys, xs = np.nonzero(first["refs"][i])
            a.plot(xs, ys, ",", color=colors["ref"])
            a.set_title(f"{label}: zones", fontsize=8)
        for a in axes[:, c]:
            a.set_axis_off()
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor=col, edgecolor="0.5", label=f"zone: {name}")
        for col, name in zip(ZONE_COLORS, CLASSES, strict=False)
    ]
    handles += [Line2D([], [], color=colors["ref"], lw=3, label="reference front (thinned)")] + [
        Line2D([], [], color=colors[m], lw=3, label=f"{LABELS[m]} front") for m in models
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(
        "caffe256, test glacier SI (trained on JAC + DBE): zones and fronts, 256 px", fontsize=10
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def plot_curves(infos: dict[str, dict[str, Any]], path: Path) -> None:
    """Validation MDE (px) and training loss per epoch."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2), layout="constrained")
    a1, a2 = fig.subplots(1, 2)
    for m, info in infos.items():
        c = [r for r in info.get("val_curve", []) if r.get("val_mde") is not None]
        if c:
            a1.plot(
                [r["epoch"] + 1 for r in c], [r["val_mde"] for r in c], "o-", ms=3, label=LABELS[m]
            )
        t = info.get("train_loss", [])
        if t:
            a2.plot(
                [r["epoch"] + 1 for r in t],
                [r["train_loss"] for r in t],
                "o-",
                ms=3,
                label=LABELS[m],
            )
    a1.set(xlabel="epoch", ylabel="validation MDE (px)", title="validation (JAC + DBE, 10 %)")
    a2.set(xlabel="epoch", ylabel="training loss (CE + Dice)", title="training loss")
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------- report


def _num(v: Any, digits: int = 2) -> str:
    return "–" if v is None or not math.isfinite(float(v)) else f"{float(v):.{digits}f}"


def markdown(
    evals: dict[str, dict[str, Any]], infos: dict[str, dict[str, Any]], min_cluster_px: float
) -> str:
    models = list(evals)
    lines = [
        f"MDE in pixels of the 256 × 256 images, front clusters ≤ {min_cluster_px:g} px "
        "removed; mIoU over the 4 zone classes.",
        "",
        "| model | params | train time | epochs (best) | MDE px (no front / images) "
        "| median image MDE px | mIoU | IoU NA | IoU rock | IoU glacier | IoU ocean |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in models:
        e, i = evals[m], infos.get(m, {})
        best_epoch = i.get("fit_metrics", {}).get("epoch")
        ep = f"{i.get('epochs', '?')}" + (
            f" ({int(best_epoch) + 1})" if best_epoch is not None else ""
        )
        t = f"{i['wall_seconds'] / 60:.1f} min" if "wall_seconds" in i else "?"
        pc = e["iou_per_class"]
        lines.append(
            f"| {LABELS[m]} | {i.get('parameters', 0) / 1e6:.2f} M | {t} | {ep} | "
            f"{_num(e['mde_px'])} ({e['n_no_front']} / {e['n_images']}) | "
            f"{_num(e['median_image_mde_px'])} | {_num(e['miou'], 3)} | "
            + " | ".join(_num(pc[c], 3) for c in CLASSES)
            + " |"
        )
    for by in ("season", "sensor", "resolution"):
        lines += [
            "",
            f"By {by} (MDE px, no-front count / images):",
            "",
            f"| {by} | " + " | ".join(LABELS[m] for m in models) + " |",
            "| --- |" + " --- |" * len(models),
        ]
        values = [g["value"] for g in evals[models[0]]["groups"][by]]
        for v in values:
            cells = []
            for m in models:
                g = next(g for g in evals[m]["groups"][by] if g["value"] == v)
                mde = _num(g["mde_px"])
                cells.append(f"{mde} ({g['n_no_front']} / {g['n_images']})")
            lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Sensitivity to the front-cluster threshold (MDE px, no-front count):",
        "",
        "| min_cluster_px | " + " | ".join(LABELS[m] for m in models) + " |",
        "| --- |" + " --- |" * len(models),
    ]
    for k, row in enumerate(evals[models[0]]["sensitivity"]):
        cells = []
        for m in models:
            s = evals[m]["sensitivity"][k]
            mde = _num(s["mde_px"])
            cells.append(f"{mde} ({s['n_no_front']})")
        lines.append(f"| {row['min_cluster_px']:g} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Share of the SI pixels per zone class (reference vs predicted):",
        "",
        "| class | reference | " + " | ".join(LABELS[m] for m in models) + " |",
        "| --- | --- |" + " --- |" * len(models),
    ]
    for c in CLASSES:
        ref = evals[models[0]]["class_fractions"][c]["ref"]
        lines.append(
            f"| {c} | {_num(ref, 3)} | "
            + " | ".join(_num(evals[m]["class_fractions"][c]["pred"], 3) for m in models)
            + " |"
        )
    floor = evals[models[0]]["reference_zone_floor_mde_px"]
    lines += [
        "",
        f"Floor: fronts extracted from the REFERENCE zones of SI give an MDE of "
        f"{_num(floor)} px against the thinned reference fronts.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=default_data(), help="caffe256 folder")
    ap.add_argument(
        "--out",
        type=Path,
        default=REPO / "outputs" / "caffe256_loo",
        help="work folder (split links, runs, results)",
    )
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--test-glaciers", nargs="+", default=["SI"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (trainer.num_threads)")
    ap.add_argument("--epochs", type=int, default=None, help="override trainer.max_epochs")
    ap.add_argument("--eval-only", action="store_true", help="evaluate existing runs")
    ap.add_argument(
        "--min-cluster-px",
        type=float,
        default=20.0,
        help="front clusters of at most this many pixels are removed",
    )
    ap.add_argument("--sensitivity", type=float, nargs="*", default=[0, 5, 10, 20, 40])
    ap.add_argument("--figure", type=Path, default=REPO / "docs" / "caffe256_examples.png")
    ap.add_argument("--curves", type=Path, default=REPO / "docs" / "caffe256_curves.png")
    ap.add_argument(
        "--override", action="append", default=[], help="extra fit override KEY=VALUE (repeatable)"
    )
    args = ap.parse_args(argv)

    out = args.out.resolve()
    split_root = out / "data"
    counts = prepare_split(args.data.resolve(), split_root, args.test_glaciers)
    print(
        f"split: {counts['train']} training-glacier images (10 % of them for validation), "
        f"{counts['test']} test images of {args.test_glaciers}",
        flush=True,
    )

    infos: dict[str, dict[str, Any]] = {}
    for m in args.models:
        info_path = out / m / "train_info.json"
        if args.eval_only:
            if not info_path.is_file():
                raise SystemExit(f"{info_path} missing: train first (without --eval-only)")
            infos[m] = json.loads(info_path.read_text())
        else:
            infos[m] = train(m, out, split_root, args.threads, args.epochs, args.override)

    preds, evals = {}, {}
    for m in args.models:
        preds[m] = predict(out / m / "best.pt", split_root, args.threads)
        evals[m] = evaluate(preds[m], args.min_cluster_px, args.sensitivity)
        e = evals[m]
        print(
            f"{m}: SI MDE {_num(e['mde_px'])} px ({e['n_no_front']} of {e['n_images']} without "
            f"front), mIoU {_num(e['miou'], 3)}; fit's test_mde "
            f"{infos[m].get('fit_metrics', {}).get('test_mde')}",
            flush=True,
        )

    results = {
        "data": str(args.data),
        "test_glaciers": args.test_glaciers,
        "split": counts,
        "min_cluster_px": args.min_cluster_px,
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "train": infos,
        "test": evals,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    md = markdown(evals, infos, args.min_cluster_px)
    (out / "results.md").write_text(md)
    print(md)
    if args.figure:
        plot_examples(preds, evals, args.figure, args.min_cluster_px)
        print(f"wrote {args.figure}")
    if args.curves and any(i.get("val_curve") for i in infos.values()):
        plot_curves(infos, args.curves)
        print(f"wrote {args.curves}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
