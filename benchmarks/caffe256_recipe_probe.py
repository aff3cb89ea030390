"""A recipe probe on caffe256, outside the Lightning trainer: which ingredients let a small
U-Net beat the fixed-front guess on a glacier it has never seen?

Leave-one-glacier-out over JAC, DBE and SI with a deliberately plain PyTorch loop, so that
one ingredient at a time can be changed in minutes and measured against the SAME baselines
that ``workbench evaluate`` reports (docs/science.md §4). What differs from the packaged recipe
(``caffe256_caffe_unet.yaml`` + ``workbench loo``):

* **per-image standardisation**: every image is z-scored over its own valid (non-zero)
  pixels, instead of one mean/std over the training set; the model never sees a sensor's
  or a glacier's brightness level;
* **both other glaciers are trained on** and the model of the LAST epoch is evaluated: no
  checkpoint selection at all, so nothing is tuned on the test glacier and no images of the
  training glaciers are held back;
* AdamW with a one-cycle schedule (10 % warm-up to 2e-3, then cosine), 12 epochs, batch 4;
* augmentation: a random rotation by k·90° (k uniform in 0..3), a left-right flip (p 0.5),
  and with p 0.8 a random contrast (× U(0.6, 1.6)) and brightness (+ N(0, 0.5²)) of the
  standardised image;
* the loss is the packaged one: 0.5 · CE (label smoothing 0.1) + 0.5 · soft Dice.

``--variant ncc`` adds a second input channel: the local normalised cross-correlation
(9 × 9 px) of the image with its two nearest acquisitions in time (same glacier), which
separates open water/mélange (0.02–0.04) from glacier (0.18–0.31) and rock (0.28–0.49) on
these three glaciers. ``--variant plain`` is the image alone.

The metrics use the package: fronts by :func:`workbench.evaluation.zones_to_front` (CaFFe's
post-processing, ``min_cluster_px`` 20 as in the packaged configs), the pooled MDE in
pixels by :func:`workbench.evaluation.mean_distance_error`, the fixed-front baseline by
:class:`workbench.evaluation.baselines.FixedFront` from the fold's training fronts, and the
complete MDE (an image without a predicted front scores the fixed front's distances).

Usage::

    python benchmarks/caffe256_recipe_probe.py --variant plain --epochs 12 --out probe.json

About 25 minutes per fold on a busy 2-core machine (1 torch thread). Results:
docs/caffe256_results.md, "Recipe probe".
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import uniform_filter

from workbench.data.caffe import CaffeDataset
from workbench.evaluation import mean_distance_error, zones_to_front
from workbench.evaluation.baselines import FixedFront
from workbench.models.caffe_unet import CaFFeUNet

GLACIERS = ("DBE", "JAC", "SI")


def local_ncc(a: np.ndarray, b: np.ndarray, window: int = 9) -> np.ndarray:
    """Local normalised cross-correlation of two co-registered images (``window`` px box)."""
    ma, mb = uniform_filter(a, window), uniform_filter(b, window)
    va = uniform_filter(a * a, window) - ma * ma
    vb = uniform_filter(b * b, window) - mb * mb
    cov = uniform_filter(a * b, window) - ma * mb
    return cov / np.sqrt(np.clip(va * vb, 1e-8, None))


def standardise(x: np.ndarray) -> np.ndarray:
    """z-score over the image's valid (non-zero) pixels; invalid pixels stay 0."""
    valid = x > 0
    if not valid.any():
        return x
    return np.where(valid, (x - x[valid].mean()) / (x[valid].std() + 1e-6), 0)


def load(root: Path, variant: str) -> dict[str, list[dict[str, np.ndarray]]]:
    """Inputs, zones and thinned reference fronts of every image, per glacier, by date."""
    ds = CaffeDataset(root, thin_fronts=True)
    metas = ds.metadata
    by: dict[str, list[int]] = {}
    for i, m in enumerate(metas):
        by.setdefault(m.glacier, []).append(i)
    data = {}
    for g, idx in by.items():
        idx = sorted(idx, key=lambda i: metas[i].date)
        samples = [ds.load(i) for i in idx]
        images = [s["image"][0].numpy().astype(np.float32) for s in samples]
        items = []
        for j, x in enumerate(images):
            channels = [standardise(x)]
            if variant == "ncc":
                near = sorted(
                    (k for k in range(len(idx)) if k != j), key=lambda k: (abs(k - j), k)
                )[:2]
                c = np.mean([local_ncc(x, images[k]) for k in near], 0)
                channels.append(np.where(x > 0, c, 0))
            items.append(
                {
                    "x": np.stack(channels).astype(np.float32),
                    "z": samples[j]["zones"].numpy(),
                    "f": samples[j]["front"].numpy(),
                }
            )
        data[g] = items
    return data


def augment(
    x: np.ndarray, z: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    k = rng.integers(4)
    x, z = np.rot90(x, k, (1, 2)), np.rot90(z, k)
    if rng.random() < 0.5:
        x, z = x[:, :, ::-1], z[:, ::-1]
    x = x.copy()
    if rng.random() < 0.8:
        x[0] = x[0] * rng.uniform(0.6, 1.6) + rng.normal(0, 0.5)
    return np.ascontiguousarray(x), np.ascontiguousarray(z)


def soft_dice(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    p = logits.softmax(1)
    onehot = F.one_hot(z, 4).permute(0, 3, 1, 2).float()
    inter = (p * onehot).sum((0, 2, 3))
    den = p.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + 1) / (den + 1)).mean()


def run_fold(data: dict, test: str, epochs: int, batch: int = 4) -> dict[str, float]:
    t0 = time.time()
    train = [it for g in data if g != test for it in data[g]]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = CaFFeUNet(in_chans=train[0]["x"].shape[0], num_classes=4, channels=(8, 16, 32, 64, 128))
    opt = torch.optim.AdamW(model.parameters(), 1e-3, weight_decay=1e-4)
    steps = len(train) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, 2e-3, total_steps=epochs * steps, pct_start=0.1
    )
    model.train()
    for epoch in range(epochs):
        order, total = rng.permutation(len(train)), 0.0
        for b in range(steps):
            xs, zs = zip(
                *[
                    augment(train[i]["x"], train[i]["z"], rng)
                    for i in order[b * batch : (b + 1) * batch]
                ],
                strict=False,
            )
            x, z = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(zs)).long()
            logits = model(x).logits
            loss = 0.5 * F.cross_entropy(logits, z, label_smoothing=0.1) + 0.5 * soft_dice(
                logits, z
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        print(f"{test} epoch {epoch} loss {total / steps:.4f} {time.time() - t0:.0f} s", flush=True)
    model.eval()
    preds, refs = [], []
    with torch.no_grad():
        for it in data[test]:
            zones = model(torch.from_numpy(it["x"])[None]).logits.argmax(1)[0].numpy()
            preds.append(zones_to_front(zones, None, min_cluster_px=20))
            refs.append(it["f"])
    fixed = FixedFront.from_fronts([it["f"] for it in train]).mask((256, 256))
    model_mde = mean_distance_error(preds, refs, None, resolution_m=None)
    complete = mean_distance_error(
        [p if p.any() else fixed for p in preds], refs, None, resolution_m=None
    )
    guess = mean_distance_error([fixed] * len(refs), refs, None, resolution_m=None)
    return {
        "mde": model_mde.mde_px,
        "no_front": model_mde.n_no_front,
        "complete": complete.mde_px,
        "fixed": guess.mde_px,
        "ratio": complete.mde_px / guess.mde_px,
        "minutes": (time.time() - t0) / 60,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = Path(os.environ.get("WORKBENCH_SHARED_DATA", "../shared/data"))
    ap.add_argument("--data", type=Path, default=shared / "caffe256")
    ap.add_argument("--variant", choices=("plain", "ncc"), default="plain")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("outputs/caffe256_recipe_probe.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load(args.data, args.variant)
    results = {}
    for test in GLACIERS:
        results[test] = run_fold(data, test, args.epochs)
        print(test, results[test], flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1))
    print("mean complete / fixed:", np.mean([r["ratio"] for r in results.values()]))


if __name__ == "__main__":
    main()
