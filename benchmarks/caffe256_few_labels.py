"""Adapting a model to a new glacier from k labelled images (issue #13 §4), on caffe256.

For each glacier G and k in (1, 3, 5, 10):

1. the k labelled images of G are spread evenly over its dates (k = 1: the middle date;
   k > 1: the first, the last and evenly in between); every other image of G is the test set;
2. the leave-one-glacier-out model of G (trained on the two OTHER glaciers, ``workbench loo
   caffe256_zones_unet --select none``; it has never seen G) is fine-tuned on those k images
   with ``workbench train``'s ``init.model`` (``data.val_fraction=0``: nothing held out,
   ``checkpoint.monitor=last``; a fixed budget of about 200 samples, peak lr 5e-4);
3. ``workbench evaluate`` scores it on the test images against the **per-glacier fixed
   front built from the same k labels** (stored in the fine-tuned checkpoint) and
   persistence; the fold model before fine-tuning (k = 0) is scored on the same images.

Every number is from the package's own ``fit`` and ``evaluate``; this script only writes the
folders of links and the table.

Usage::

    python benchmarks/caffe256_few_labels.py --loo outputs/loo_zones_unet --out outputs/few_labels

About a minute per fine-tuning and 40 s per evaluation on 2 busy CPU cores.
Results: docs/caffe256_results.md, "A new glacier from a few labels".
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from workbench.data.caffe import CaffeDataset
from workbench.evaluation.evaluate import evaluate
from workbench.evaluation.report import markdown_table
from workbench.training import fit

KS = (1, 3, 5, 10)
SAMPLES_PER_EPOCH = 40
EPOCHS = 5


def chosen(n: int, k: int) -> list[int]:
    """k indices spread evenly over n dates (first and last included)."""
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, k)}) if k > 1 else [n // 2]


def link_folder(root: Path, out: Path, stems: list[str], train: set[str]) -> Path:
    """A CaFFe folder of links, original layout: ``train`` = the k labels, ``test`` = the rest."""
    for stem in stems:
        split = "train" if stem in train else "test"
        for kind, suffix in (("sar_images", ""), ("zones", "_zones"), ("fronts", "_front")):
            target = out / kind / split / f"{stem}{suffix}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.symlink((root / kind / f"{stem}{suffix}.png").resolve(), target)
    return out


def summary_row(s: dict, glacier: str, k: int, minutes: float | None) -> dict:
    return {
        "glacier": glacier,
        "k": k,
        "test images": s["n_images"],
        "MDE": s["mde"],
        "complete MDE": s["complete_mde"],
        "no front": s["n_no_front"],
        "fixed front (same labels)": s["fixed_front_mde"],
        "complete / fixed": s["model_vs_fixed_front"],
        "persistence": s["persistence_mde"],
        "fine-tune min": minutes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = Path(os.environ.get("WORKBENCH_SHARED_DATA", "../shared/data"))
    ap.add_argument("--data", type=Path, default=shared / "caffe256")
    ap.add_argument("--loo", type=Path, required=True, help="output folder of `workbench loo`")
    ap.add_argument("--out", type=Path, default=Path("outputs/few_labels"))
    ap.add_argument("--config", default="caffe256_zones_unet")
    ap.add_argument("--glaciers", default=None, help="comma-separated (default: all)")
    args = ap.parse_args()
    metas = CaffeDataset(args.data).metadata
    glaciers = args.glaciers.split(",") if args.glaciers else sorted({m.glacier for m in metas})
    rows = []
    for g in glaciers:
        stems = [m.stem for m in sorted((m for m in metas if m.glacier == g), key=lambda m: m.date)]
        source = args.loo / f"fold_{g}" / "best.pt"
        for k in KS:
            train = {stems[i] for i in chosen(len(stems), k)}
            folder = link_folder(args.data, args.out / g / f"k{k}" / "data", stems, train)
            run = args.out / g / f"k{k}" / "run"
            if k == KS[0]:  # the fold model before any label of G, on the test images of k=1
                s0 = evaluate(
                    source,
                    folder,
                    out=args.out / g / "k0_eval",
                    split="test",
                    figures=False,
                    progress=False,
                )
                rows.append(summary_row(s0, g, 0, None))
            t0 = time.perf_counter()
            if not (run / "best.pt").exists():
                fit(
                    args.config,
                    overrides=[
                        f"data.root={folder}",
                        "data.split=image",
                        "data.val_fraction=0",
                        f"data.samples_per_image={max(1, SAMPLES_PER_EPOCH // k)}",
                        f"trainer.max_epochs={EPOCHS}",
                        "optimizer.lr=5e-4",
                        f"init.model={source}",
                        "checkpoint.monitor=last",
                        "test=false",
                        f"name=k{k}",
                        f"output_dir={run.parent}",
                    ],
                    run_dir=run,
                )
            minutes = (time.perf_counter() - t0) / 60
            s = evaluate(
                run / "best.pt",
                folder,
                out=run / "eval",
                split="test",
                figures=False,
                progress=False,
            )
            rows.append(summary_row(s, g, k, round(minutes, 2)))
            print(rows[-1], flush=True)
            (args.out / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    (args.out / "results.md").write_text(markdown_table(rows) + "\n")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
