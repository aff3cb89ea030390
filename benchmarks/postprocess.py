r"""Benchmark: the CaFFe zones → front post-processing, before and after the speed-up.

**What is compared.** :func:`workbench.evaluation.zones_to_front` (docs/science.md §1.2: fill
holes in the ocean, keep the largest ocean component, front = ocean pixels 4-adjacent to
glacier, drop front clusters of ≤ 750 m / resolution pixels) on CaFFe-sized zone maps.
Rows, all in the same process on the SAME zone maps, each image's repetitions interleaved
(the order reversed every other repetition) and the median kept (process CPU time by
default: on a shared machine it does not count the time the process waits for a core;
``--clock wall`` for wall-clock):

* ``reference`` — the previous implementation, copied verbatim below
  (:func:`reference_zones_to_front`): ``scipy.ndimage.label`` on full-size label images and
  one ``np.bincount`` over all pixels per step. All ratios are against this row.
* ``kernels`` — :func:`~workbench.evaluation.zones_to_front` as installed: run-length
  connected components compiled with numba (loaded before timing; the one-off load time is
  printed).
* ``scipy fallback`` — the same function's path without numba
  (``_zones_to_front_ndimage``), which small images take until the kernels are loaded.

Every output is compared with the reference's with ``np.array_equal`` (column
"identical"); the script reports differences but asserts nothing (the equality proof is
``tests/evaluation/test_zones_to_front_fast.py``).

**Inputs.** For each side length in ``--sizes`` (default 1000-6000 px), ``--images``
prediction-like CaFFe scenes: a fjord between meandering rock walls, a glacier tongue
down the fjord with a wobbly calving front and a few nunataks, open ocean below it with
ice-mélange floes and icebergs, melt lakes on the glacier, a no-data corner and NA speckles
(shadow / layover), then prediction noise (class speckle, glacier/ocean blobs swapped near
the front). Pixel size drawn from CaFFe's 6, 7, 12, 17, 20 m (threshold 750 m / pixel
size). Not a test. Examples::

    python benchmarks/postprocess.py                        # 1000² … 6000², 2 images each
    python benchmarks/postprocess.py --sizes 1000 4000 --images 3 --repeats 5
    python benchmarks/postprocess.py --connectivity 4 --clock wall
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import scipy
from metrics import Timer, _smooth_noise  # benchmarks/metrics.py, beside this script

from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.evaluation import zones_to_front
from workbench.evaluation.fronts import (
    CAFFE_MIN_FRONT_M,
    _as_zones,
    _structure,
    _zf_kernels,
    _zones_to_front_ndimage,
    _zones_to_front_reference,
)

RESOLUTIONS = (6.0, 7.0, 12.0, 17.0, 20.0)


# --------------------------------------------------------------------------- the reference
# The implementation before the speed-up, kept verbatim in the package
# (workbench.evaluation.fronts._zones_to_front_reference, also what the tests compare with).
reference_zones_to_front = _zones_to_front_reference


# --------------------------------------------------------------------------- implementations


def kernels(z: np.ndarray, res: float, conn: int) -> np.ndarray:
    """The installed :func:`zones_to_front` (kernels loaded before timing)."""
    return zones_to_front(z, res, nonocean_connectivity=conn)


def scipy_fallback(z: np.ndarray, res: float, conn: int) -> np.ndarray:
    """The installed function's path without numba (what it does before loading)."""
    return _zones_to_front_ndimage(
        _as_zones(z), CAFFE_MIN_FRONT_M / res, _structure(conn, "nonocean_connectivity")
    )


def reference(z: np.ndarray, res: float, conn: int) -> np.ndarray:
    return reference_zones_to_front(z, res, nonocean_connectivity=conn)


METHODS: dict[str, Callable[[np.ndarray, float, int], np.ndarray]] = {
    "reference": reference,
    "kernels": kernels,
    "scipy fallback": scipy_fallback,
}


# --------------------------------------------------------------------------- inputs


def _discs(
    z: np.ndarray,
    rng: np.random.Generator,
    n: int,
    rows: tuple[int, int],
    cols: tuple[int, int],
    radius: tuple[int, int],
    where: int,
    value: int,
) -> None:
    """Paint ``n`` random discs with ``value`` over the pixels of class ``where``."""
    h, w = z.shape
    for _ in range(n):
        cy, cx = int(rng.integers(*rows)), int(rng.integers(*cols))
        rad = int(rng.integers(*radius))
        r0, r1 = max(cy - rad, 0), min(cy + rad + 1, h)
        c0, c1 = max(cx - rad, 0), min(cx + rad + 1, w)
        if r0 >= r1 or c0 >= c1:
            continue
        yy, xx = np.ogrid[r0 - cy : r1 - cy, c0 - cx : c1 - cx]
        sub = z[r0:r1, c0:c1]
        sub[(yy * yy + xx * xx <= rad * rad) & (sub == where)] = value


def caffe_like_prediction(rng: np.random.Generator, side: int) -> tuple[np.ndarray, float]:
    """A prediction-like zone map (class ids) of a CaFFe scene about ``side`` px a side."""
    h = side
    w = int(side * np.exp(rng.uniform(-0.15, 0.15)))
    s = side / 1000.0  # features scale with the image
    rows = np.arange(h)
    cols = np.arange(w)
    # fjord: centre line and half width meander down the image
    centre = w * (0.5 + rng.uniform(-0.1, 0.1)) + _smooth_noise(rng, h, h / 4, 0.08 * w)
    half = w * rng.uniform(0.15, 0.3) * (1 + _smooth_noise(rng, h, h / 6, 0.12))
    half += _smooth_noise(rng, h, 15 * s, 4 * s)  # rough walls
    dist = np.abs(cols[None, :] - centre[:, None]) - half[:, None]
    # glacier tongue from the top down to a wobbly front; ocean below it
    front = (
        h * rng.uniform(0.35, 0.6)
        + _smooth_noise(rng, w, w / 3, 0.08 * h)
        + _smooth_noise(rng, w, 40 * s, 10 * s)
        + _smooth_noise(rng, w, 6, 1.5)
    )
    z = np.where(rows[:, None] < front[None, :].astype(np.int64), GLACIER, OCEAN).astype(np.uint8)
    z[dist > 0] = ROCK
    # glacier also flows over the upper rock (tributaries), rock shows through (nunataks)
    upper = rows[:, None] < (0.25 * h + _smooth_noise(rng, w, w / 5, 0.08 * h))[None, :]
    z[upper & (dist > 0) & (dist < 0.2 * w)] = GLACIER
    _discs(
        z,
        rng,
        int(rng.integers(3, 10)),
        (0, int(0.4 * h)),
        (0, w),
        (int(5 * s) + 1, int(40 * s) + 2),
        GLACIER,
        ROCK,
    )
    # ice mélange floes and icebergs in the ocean, melt lakes on the glacier
    fmax = int(front.max())
    _discs(
        z,
        rng,
        int(150 * s * s),
        (fmax, min(fmax + int(0.15 * h), h)),
        (0, w),
        (1, 12),
        OCEAN,
        GLACIER,
    )
    _discs(z, rng, int(150 * s * s), (0, h), (0, w), (1, 4), OCEAN, GLACIER)
    _discs(z, rng, int(60 * s * s), (0, fmax), (0, w), (2, 15), GLACIER, OCEAN)
    # a no-data corner and NA speckles (shadow / layover)
    c = int(rng.uniform(0.05, 0.2) * min(h, w))
    z[:c, :c][np.add.outer(np.arange(c), np.arange(c)) < c] = NA
    specks = rng.random((h, w)) < rng.uniform(2e-4, 2e-3)
    z[specks] = NA
    # prediction noise: class speckle and glacier/ocean blobs swapped near the front
    noise = rng.random((h, w)) < rng.uniform(5e-4, 5e-3)
    z[noise] = rng.integers(0, 4, int(noise.sum()), dtype=np.uint8)
    for _ in range(int(rng.integers(10, 40))):
        cx = int(rng.integers(0, w))
        cy = int(np.clip(front[cx] + rng.normal(0, 40 * s), 0, h - 1))
        rad = int(rng.integers(3, int(25 * s) + 4))
        sl = (slice(max(cy - rad, 0), cy + rad), slice(max(cx - rad, 0), cx + rad))
        z[sl] = np.where(z[sl] == GLACIER, OCEAN, np.where(z[sl] == OCEAN, GLACIER, z[sl]))
    return z, float(rng.choice(RESOLUTIONS))


# --------------------------------------------------------------------------- timing


def time_image(
    z: np.ndarray, res: float, conn: int, repeats: int, timer: Timer
) -> tuple[dict[str, float], dict[str, bool], int]:
    """Median time per method over interleaved repeats, equality with the reference, and
    the number of front pixels."""
    names = list(METHODS)
    times: dict[str, list[float]] = {k: [] for k in names}
    outputs: dict[str, np.ndarray] = {}
    now = timer.now
    for rep in range(repeats):
        for k in names if rep % 2 == 0 else names[::-1]:
            t0 = now()
            out = METHODS[k](z, res, conn)
            times[k].append(now() - t0)
            outputs[k] = out
            del out
    ref = outputs[names[0]]
    same = {k: bool(np.array_equal(v, ref)) for k, v in outputs.items()}
    return {k: float(np.median(v)) for k, v in times.items()}, same, int(ref.sum())


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1000, 2000, 4000, 6000],
        help="image sides in pixels",
    )
    ap.add_argument("--images", type=int, default=2, help="scenes per size")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (median)")
    ap.add_argument(
        "--connectivity",
        type=int,
        choices=(4, 8),
        default=8,
        help="nonocean_connectivity (CaFFe: 8)",
    )
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    timer = Timer(args.clock)

    t0 = time.perf_counter()
    ok = _zf_kernels() is not None
    load_s = time.perf_counter() - t0
    print(
        f"# Zones → front post-processing: run-length kernels vs the previous implementation "
        f"({platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__})\n"
    )
    if not ok:
        print(
            "numba kernels unavailable: `zones_to_front` uses the scipy fallback (kernels "
            "row = scipy fallback).\n"
        )
    print(
        f"Kernel load (numba import + compile or cache load): {load_s:.2f} s wall, once per "
        f"process. Times: median of {args.repeats} interleaved passes per image, "
        f"{'process CPU' if args.clock == 'cpu' else 'wall-clock'} time, one thread; "
        f"nonocean_connectivity={args.connectivity}; threshold 750 m / pixel size.\n"
    )

    rng = np.random.default_rng(args.seed)
    rows: list[str] = []
    differ: list[str] = []
    for side in args.sizes:
        per: dict[str, list[float]] = {k: [] for k in METHODS}
        fronts_px: list[int] = []
        shapes: list[tuple[int, int]] = []
        same_all = {k: True for k in METHODS}
        for i in range(args.images):
            z, res = caffe_like_prediction(rng, side)
            t, same, n_front = time_image(z, res, args.connectivity, args.repeats, timer)
            for k in METHODS:
                per[k].append(t[k])
                same_all[k] &= same[k]
                if not same[k]:
                    differ.append(f"{side}: image {i}: {k}")
            fronts_px.append(n_front)
            shapes.append(z.shape)
            del z
        ref, new, fb = (1e3 * float(np.mean(per[k])) for k in METHODS)
        shape = f"{shapes[0][0]} × {shapes[0][1]}" + (" …" if len(set(shapes)) > 1 else "")
        rows.append(
            f"| {side}² ({shape}) | {len(shapes)} | {int(np.median(fronts_px))} | {ref:.0f} | "
            f"{new:.1f} | **{ref / new:.1f}×** | {fb:.0f} | {ref / fb:.1f}× | "
            f"{'yes' if all(same_all.values()) else '**NO**'} |"
        )
    print(
        "| image size (first image) | images | front px (median) | reference (ms/image) | "
        "kernels (ms/image) | speed-up | scipy fallback (ms/image) | speed-up | "
        "identical to reference |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    if differ:
        print(f"**Outputs differ from the reference:** {differ}\n")
    else:
        print("Every output is identical (`np.array_equal`) to the reference's.\n")


if __name__ == "__main__":
    main()
