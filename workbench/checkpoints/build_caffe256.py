"""Build the packaged real-SAR zone model ``caffe256_zones.pt`` with one command.

It trains the packaged config ``caffe256_zones_unet`` (the recipe that beat the fixed-front
guess on unseen glaciers, docs/caffe256_results.md) on ALL 413 caffe256 images (JAC, DBE,
SI; ``data.val_fraction=0``: nothing held out, the last epoch is the model) and copies the
exported model atomically into the package, where ``--checkpoint caffe256_zones`` finds it
(``workbench evaluate``, ``predict``, ``serve``, ``train``'s ``init.model``)::

    python -m workbench.checkpoints.build_caffe256 --data ../shared/data/caffe256

A run that was interrupted continues with ``--resume`` to exactly the same model. Its model
card is in docs/caffe256_results.md ("The packaged model").
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from workbench._io import atomic_path

__all__ = ["CONFIG", "build_caffe256"]

CONFIG = "caffe256_zones_unet"
"""The packaged training config of the model."""


def build_caffe256(
    data: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] = "outputs/caffe256_zones",
    dest: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overrides: Sequence[str] = (),
) -> Path:
    """Train :data:`CONFIG` on every image of ``data`` and write ``dest`` (default: the
    package's ``caffe256_zones.pt``); returns ``dest``."""
    from workbench.training import fit

    t0 = time.perf_counter()
    result = fit(
        CONFIG,
        overrides=[f"data.root={Path(data)}", "data.val_fraction=0", "test=false", *overrides],
        run_dir=Path(out) / "run",
        resume=resume,
    )
    if result.interrupted:
        raise KeyboardInterrupt
    target = (
        Path(dest) if dest is not None else Path(__file__).resolve().parent / "caffe256_zones.pt"
    )
    with atomic_path(target) as tmp:
        shutil.copyfile(result.best_checkpoint, tmp)
    print(
        f"{target}: {result.epochs} epochs on {data} in {(time.perf_counter() - t0) / 60:.1f} min"
    )
    return target


def main(argv: Sequence[str] | None = None) -> int:
    shared = Path(os.environ.get("WORKBENCH_SHARED_DATA", "../shared/data"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data",
        type=Path,
        default=shared / "caffe256",
        help="the caffe256 folder (default: $WORKBENCH_SHARED_DATA/caffe256)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("outputs/caffe256_zones"), help="the training run's folder"
    )
    p.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="where to write the model (default: workbench/checkpoints/caffe256_zones.pt)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. --set trainer.num_threads=2",
    )
    args = p.parse_args(argv)
    build_caffe256(
        args.data, out=args.out, dest=args.dest, resume=args.resume, overrides=args.overrides
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
