r"""Benchmark: the CaFFe MDE distance step against the brute-force pairwise definition.

**What is compared.** The *distance step* of the mean distance error (docs/science.md §1.3 steps 3-4):
given each image's predicted and reference front pixels (row-major flat indices, as
``np.flatnonzero`` gives them), the distance from every predicted pixel to the nearest
reference pixel and back, for all images, and their pooled mean. Every implementation gets
the SAME pixel lists in the SAME run; each pass over the set is repeated ``--repeats`` times,
the implementations interleaved, and the medians are reported (process CPU time by default:
on a shared machine it does not count the time the process waits for a core; ``--clock
wall`` for wall-clock). Rows:

* ``brute force`` — the reference: a straightforward pairwise implementation,
  :func:`workbench.evaluation.fronts._pixel_distances_bruteforce`: the dense N × M
  ``scipy.spatial.distance.cdist`` matrix in blocks of at most 4 M entries, its row and
  column minima (what CaFFe's public code does). All ratios are against this row.
* ``brute force, squared`` — a faster brute force, for fairness: ``cdist(...,
  "sqeuclidean")`` blocks and the square root of the minima only.
* ``KD-tree`` — two ``scipy.spatial.cKDTree`` queries (the previous implementation, now
  the fallback).
* ``kernel`` — :func:`workbench.evaluation.front_distances`' default, the compiled exact
  search (numba; loaded before timing, its one-off load time is printed).
* ``EDT`` — two exact Euclidean distance transforms on the union bounding box of both
  fronts (exact, but its cost grows with the box AREA): timed on ``--edt-images`` images
  only.

Every row's per-image distances are compared bit for bit with the reference, and the pooled
MDEs for equality; the script exits non-zero on any difference.

**Inputs.** (1) CaFFe-like scenes, ``--n-images`` of them: zone maps of 1,000-6,000 px a
side (rock fjord walls, glacier, ocean, a no-data corner) with a meandering calving front
whose length is drawn log-uniformly from ``--front-min``-``--front-max`` px; the prediction
is the same scene with the front displaced and wobbled and with misclassified blobs; BOTH
fronts come from the zone maps through the real post-processing
(:func:`~workbench.evaluation.zones_to_front` at the image's pixel size, 6-20 m). (2) Real
fronts from ``caffe256`` (``$WORKBENCH_SHARED_DATA``, default ``../shared/data``; skipped if
absent): each thinned label against the next date of the same glacier, as a prediction-like
pair (256 × 256, so short fronts). (3) A sweep of fixed front lengths (meandering lines on
2048² images).

**Where the time goes** (CaFFe-like set, per image, medians): the post-processing of one
zone map, extracting the front pixels from the two masks, the distance step, and the rest
of :meth:`~workbench.evaluation.fronts.MDEAccumulator.add` (Python bookkeeping).

Generating the CaFFe-like set runs the post-processing on 2 × ``--n-images`` large zone
maps, which dominates the run time (minutes); ``--cache FILE.npz`` stores the generated
fronts and reuses them. Not a test. Examples::

    python benchmarks/metrics.py                        # 100 CaFFe-like images + caffe256
    python benchmarks/metrics.py --n-images 20 --repeats 3 --sweep
    python benchmarks/metrics.py --cache /tmp/mde_fronts.npz
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import scipy
from scipy import ndimage
from scipy.spatial.distance import cdist

from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.evaluation import zones_to_front
from workbench.evaluation.fronts import (
    _BRUTE_BLOCK,
    MDEAccumulator,
    _flat_coords,
    _flat_distances,
    _kdtree_distances,
    _nn_kernel,
    _pixel_distances_bruteforce,
)

Pair = tuple[np.ndarray, np.ndarray, tuple[int, int], float]  # pred flat, ref flat, shape, m/px
RESOLUTIONS = (6.0, 7.0, 12.0, 17.0, 20.0)


# --------------------------------------------------------------------------- implementations


def brute_force(p: np.ndarray, r: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The reference: dense ``cdist`` blocks and their row / column minima."""
    w = shape[1]
    return _pixel_distances_bruteforce(_flat_coords(p, w), _flat_coords(r, w))


def brute_force_squared(p: np.ndarray, r: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A faster brute force: squared-distance blocks, square roots of the minima only."""
    w = shape[1]
    pc, rc = _flat_coords(p, w), _flat_coords(r, w)
    rows = max(1, _BRUTE_BLOCK // len(rc))
    d_pr = np.empty(len(pc))
    d_rp = np.full(len(rc), np.inf)
    for start in range(0, len(pc), rows):
        d = cdist(pc[start : start + rows], rc, "sqeuclidean")
        d_pr[start : start + rows] = d.min(axis=1)
        np.minimum(d_rp, d.min(axis=0), out=d_rp)
    return np.sqrt(np.concatenate([d_pr, d_rp]))


def kd_tree(p: np.ndarray, r: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Two exact ``cKDTree`` queries."""
    w = shape[1]
    return _kdtree_distances(_flat_coords(p, w), _flat_coords(r, w))


def kernel(p: np.ndarray, r: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """What :func:`workbench.evaluation.front_distances` runs after ``np.flatnonzero``."""
    return _flat_distances(p, r, shape)


def edt_crop(p: np.ndarray, r: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Two exact Euclidean distance transforms on the union bounding box of both fronts."""
    w = shape[1]
    pc, rc = np.divmod(p, w), np.divmod(r, w)
    r0, r1 = min(pc[0].min(), rc[0].min()), max(pc[0].max(), rc[0].max()) + 1
    c0, c1 = min(pc[1].min(), rc[1].min()), max(pc[1].max(), rc[1].max()) + 1
    pm = np.ones((r1 - r0, c1 - c0), bool)
    rm = np.ones_like(pm)
    pm[pc[0] - r0, pc[1] - c0] = False
    rm[rc[0] - r0, rc[1] - c0] = False
    d_to_ref = ndimage.distance_transform_edt(rm)
    d_to_pred = ndimage.distance_transform_edt(pm)
    return np.concatenate([d_to_ref[pc[0] - r0, pc[1] - c0], d_to_pred[rc[0] - r0, rc[1] - c0]])


METHODS: dict[str, Callable[[np.ndarray, np.ndarray, tuple[int, int]], np.ndarray]] = {
    "brute force (dense `cdist`, reference)": brute_force,
    "brute force, squared (`sqeuclidean`, sqrt of minima)": brute_force_squared,
    "KD-tree (2 × `cKDTree`)": kd_tree,
    "**kernel (`front_distances`)**": kernel,
}


# --------------------------------------------------------------------------- inputs


def _smooth_noise(rng: np.random.Generator, n: int, scale: float, amplitude: float) -> np.ndarray:
    """A smooth random 1-D signal of ``n`` samples (features of about ``scale`` samples)."""
    k = max(2, int(n / max(scale, 1.0)) + 2)
    knots = rng.normal(size=k) * amplitude
    return np.interp(np.linspace(0, k - 1, n), np.arange(k), knots)


def caffe_like_scene(
    rng: np.random.Generator, front_px: float, side: tuple[int, int] = (1000, 6000)
) -> tuple[np.ndarray, np.ndarray, float]:
    """A reference and a predicted zone map (class ids) of one CaFFe-like image."""
    h = int(np.exp(rng.uniform(np.log(side[0]), np.log(side[1]))))
    w = int(np.clip(h * np.exp(rng.uniform(-0.4, 0.4)), side[0], side[1]))
    fjord = int(np.clip(front_px / rng.uniform(1.3, 3.0), 200, 0.9 * w))
    left = int(rng.uniform(0.02, 0.98) * (w - fjord))
    x = np.arange(w)
    y0 = rng.uniform(0.4, 0.6) * h
    # a front of about front_px pixels: the ocean pixels 4-adjacent to glacier number about
    # the fjord width plus half the total variation (4 · amp · periods) of the front line
    rise = max(0.8 * front_px - fjord, 0.0) / 2  # = amp · periods (noise adds ~20 %)
    periods = max(rng.uniform(1.0, 4.0), rise / (0.3 * h))
    amp = rise / periods
    phase = rng.uniform(0, 2 * np.pi)
    front = (
        y0
        + amp * np.sin(2 * np.pi * periods * (x - left) / fjord + phase)
        + _smooth_noise(rng, w, 40, 6)
        + _smooth_noise(rng, w, 8, 1.5)
    )
    walls_l = left + _smooth_noise(rng, h, h / 6, 0.04 * fjord)
    walls_r = left + fjord + _smooth_noise(rng, h, h / 6, 0.04 * fjord)
    # prediction: the front displaced (tens of pixels, like a 300 m MDE at 7 m) and wobbled
    shift = rng.normal(0, 25)
    pred_front = front + shift + _smooth_noise(rng, w, rng.uniform(30, 300), rng.uniform(5, 30))

    def zones(front_line: np.ndarray, blobs: int) -> np.ndarray:
        rows = np.arange(h, dtype=np.int32)[:, None]
        z = np.where(rows < front_line.astype(np.int32)[None, :], GLACIER, OCEAN).astype(np.uint8)
        cols = x[None, :]
        rock = (cols < walls_l.astype(np.int32)[:, None]) | (
            cols > walls_r.astype(np.int32)[:, None]
        )
        z[rock] = ROCK
        c = int(0.15 * min(h, w))
        z[:c, :c][np.add.outer(np.arange(c), np.arange(c)) < c] = NA  # a no-data corner
        for _ in range(blobs):  # misclassified blobs: lakes in the glacier, icebergs
            cy, cx = rng.integers(0, h), rng.integers(left, left + fjord)
            rad = int(rng.integers(3, 40))
            sl = (slice(max(cy - rad, 0), cy + rad), slice(max(cx - rad, 0), cx + rad))
            z[sl] = np.where(z[sl] == GLACIER, OCEAN, np.where(z[sl] == OCEAN, GLACIER, z[sl]))
        return z

    res = float(rng.choice(RESOLUTIONS))
    return zones(front, 0), zones(pred_front, int(rng.integers(5, 40))), res


class Timer:
    """Process CPU time (default) or wall-clock time."""

    def __init__(self, clock: str) -> None:
        self.now = time.process_time if clock == "cpu" else time.perf_counter


def caffe_like_set(
    n: int, lo: int, hi: int, seed: int, timer: Timer, progress: bool = True
) -> tuple[list[Pair], dict[str, list[float]]]:
    """Fronts of ``n`` CaFFe-like images through the real post-processing, and the time
    per image of each part of :meth:`MDEAccumulator.add` (kernel loaded)."""
    rng = np.random.default_rng(seed)
    pairs: list[Pair] = []
    parts: dict[str, list[float]] = {k: [] for k in ("post", "extract", "distances", "add")}
    now = timer.now
    for i in range(n):
        target = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        ref_z, pred_z, res = caffe_like_scene(rng, target)
        ref = zones_to_front(ref_z, res)
        t0 = now()
        pred = zones_to_front(pred_z, res)
        parts["post"].append(now() - t0)
        del ref_z, pred_z
        t = []
        for _ in range(3):
            t0 = now()
            p, r = np.flatnonzero(pred), np.flatnonzero(ref)
            t.append(now() - t0)
        parts["extract"].append(float(np.median(t)))
        if p.size and r.size:
            t = []
            for _ in range(3):
                t0 = now()
                _flat_distances(p, r, pred.shape)
                t.append(now() - t0)
            parts["distances"].append(float(np.median(t)))
            t = []
            for _ in range(3):
                acc = MDEAccumulator()
                t0 = now()
                acc.add(pred, ref, res)
                t.append(now() - t0)
            parts["add"].append(float(np.median(t)))
            pairs.append((p, r, pred.shape, res))
        if progress:
            print(
                f"\r  generated {i + 1}/{n} CaFFe-like images", end="", file=sys.stderr, flush=True
            )
    if progress:
        print(file=sys.stderr)
    return pairs, parts


def caffe256_pairs(root: Path, n: int) -> list[Pair]:
    """Real caffe256 fronts (thinned): each against the next date of the same glacier."""
    from PIL import Image

    from workbench.data.caffe import parse_caffe_name, thin_front

    files = sorted((root / "fronts").glob("*_front.png"))
    by_glacier: dict[str, list[tuple[str, Path]]] = {}
    for f in files:
        meta = parse_caffe_name(f.name[: -len("_front.png")])
        by_glacier.setdefault(meta.glacier, []).append((str(meta.date), f))
    pairs: list[Pair] = []
    for items in by_glacier.values():
        items.sort()
        for (_, a), (_, b) in zip(items, items[1:], strict=False):
            fa = thin_front(np.asarray(Image.open(b)) > 0)  # "prediction": the next date
            fb = thin_front(np.asarray(Image.open(a)) > 0)
            p, r = np.flatnonzero(fa), np.flatnonzero(fb)
            if p.size and r.size:
                pairs.append((p, r, fa.shape, 1.0))
    rng = np.random.default_rng(0)
    if len(pairs) > n:
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), n, replace=False))]
    return pairs


def sweep_pairs(length: int, n: int, size: int, rng: np.random.Generator) -> list[Pair]:
    """Meandering one-pixel lines of exactly ``length`` pixels (prediction: a shifted copy)."""
    from skimage.draw import line

    pairs: list[Pair] = []
    for _ in range(n):
        masks = []
        base = None
        for _role in range(2):
            t = np.linspace(0, 1, 4000)
            if base is None:
                x = 0.1 + 0.8 * t
                y = 0.5 + _smooth_noise(rng, t.size, 300, 0.12)
                base = (x, y)
            else:
                x, y = base
                y = y + rng.normal(0, 0.01) + _smooth_noise(rng, t.size, 400, 0.01)
            xs = np.clip(np.round(x * (size - 1)), 0, size - 1).astype(int)
            ys = np.clip(np.round(y * (size - 1)), 0, size - 1).astype(int)
            m = np.zeros((size, size), bool)
            count, rep = 0, 0
            while count < length and rep < 60:  # fold back and forth like a fjord coast
                order = range(len(t) - 1) if rep % 2 == 0 else range(len(t) - 2, -1, -1)
                for i in order:
                    rr, cc = line(ys[i], xs[i], ys[i + 1], xs[i + 1])
                    rr = np.clip(rr + rep * 9, 0, size - 1)
                    new = np.flatnonzero(~m[rr, cc])[: length - count]
                    m[rr[new], cc[new]] = True
                    count += new.size
                    if count >= length:
                        break
                rep += 1
            masks.append(np.flatnonzero(m))
        pairs.append((masks[1], masks[0], (size, size), 1.0))
    return pairs


# --------------------------------------------------------------------------- timing


def time_methods(
    pairs: Sequence[Pair], methods: dict[str, Callable], repeats: int, timer: Timer
) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, bool]]:
    """Per-image times (median over interleaved repeats; one extra last entry: the pooled
    mean), pooled MDE (m) and whether each method's values are identical to the first's.

    One pass = every image's distances, then the pooled mean in metres over the whole set.
    """
    now = timer.now
    names = list(methods)
    n = len(pairs)
    times = {k: np.zeros((repeats, n + 1)) for k in names}  # last column: the pooled mean
    pooled: dict[str, float] = {}
    results: dict[str, list[np.ndarray]] = {}
    for rep in range(repeats):
        for k in names if rep % 2 == 0 else names[::-1]:
            f = methods[k]
            out = []
            for i, (p, r, shape, res) in enumerate(pairs):
                t0 = now()
                out.append(f(p, r, shape) * res)
                times[k][rep, i] = now() - t0
            t0 = now()
            mde = float(np.concatenate(out).mean())
            times[k][rep, n] = now() - t0
            pooled[k], results[k] = mde, out
    ref = names[0]
    same = {
        k: pooled[k] == pooled[ref]
        and all(np.array_equal(a, b) for a, b in zip(results[k], results[ref], strict=True))
        for k in names
    }
    return {k: np.median(v, axis=0) for k, v in times.items()}, pooled, same


def sizes_line(pairs: Sequence[Pair]) -> str:
    n_p = np.array([p.size for p, _, _, _ in pairs])
    n_r = np.array([r.size for _, r, _, _ in pairs])
    sides = np.array([max(s) for _, _, s, _ in pairs])
    return (
        f"{len(pairs)} images, {sides.min()}–{sides.max()} px on the long side (median "
        f"{np.median(sides):.0f}); front pixels per image: prediction {n_p.min()}–{n_p.max()}"
        f" (median {np.median(n_p):.0f}), reference {n_r.min()}–{n_r.max()} (median "
        f"{np.median(n_r):.0f})"
    )


def print_table(
    title: str,
    pairs: Sequence[Pair],
    per_image: dict[str, np.ndarray],
    pooled: dict[str, float],
    same: dict[str, bool],
    clock: str,
) -> None:
    ref = next(iter(per_image))
    n = len(pairs)
    t_ref = per_image[ref].sum()
    print(f"### {title}\n\n{sizes_line(pairs)}.\n")
    print(
        f"| implementation | per image (ms, {clock}) | per 100 images (s) | speed-up vs brute "
        "force | identical distances and MDE |"
    )
    print("| --- | --- | --- | --- | --- |")
    for k, t in per_image.items():
        tot = t.sum()
        print(
            f"| {k} | {1e3 * tot / n:.3f} | {100 * tot / n:.3f} | {t_ref / tot:.1f}× | "
            f"{'yes' if same[k] else '**NO**'} |"
        )
    print(
        f"\nPooled MDE: {pooled[ref]!r} (brute force), {pooled[list(pooled)[-1]]!r} (kernel)"
        f" — {'identical' if len(set(pooled.values())) == 1 else 'DIFFERENT'}.\n"
    )


def print_bins(pairs: Sequence[Pair], per_image: dict[str, np.ndarray]) -> None:
    ref, fast = list(per_image)[0], list(per_image)[-1]
    size = np.array([(p.size + r.size) / 2 for p, r, _, _ in pairs])
    per_image = {k: v[: len(pairs)] for k, v in per_image.items()}
    print(
        "| front px per image (mean of pred, ref) | images | brute force (ms/image) | "
        "kernel (ms/image) | speed-up |"
    )
    print("| --- | --- | --- | --- | --- |")
    for lo, hi in (
        (0, 500),
        (500, 1000),
        (1000, 2000),
        (2000, 4000),
        (4000, 8000),
        (8000, math.inf),
    ):
        sel = (size >= lo) & (size < hi)
        if sel.any():
            tb, tk = per_image[ref][sel].sum(), per_image[fast][sel].sum()
            label = f"{lo}–{hi}" if math.isfinite(hi) else f"≥ {lo}"
            print(
                f"| {label} | {int(sel.sum())} | {1e3 * tb / sel.sum():.2f} | "
                f"{1e3 * tk / sel.sum():.3f} | {tb / tk:.1f}× |"
            )
    print()


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=100, help="CaFFe-like images")
    ap.add_argument("--front-min", type=int, default=500)
    ap.add_argument("--front-max", type=int, default=8000)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, help="store / reuse the CaFFe-like fronts here")
    ap.add_argument("--caffe256", type=int, default=100, help="real caffe256 pairs (0: skip)")
    ap.add_argument(
        "--edt-images",
        type=int,
        default=5,
        help="CaFFe-like images on which the EDT variant is also timed (0: skip)",
    )
    ap.add_argument(
        "--sweep",
        type=int,
        nargs="*",
        default=None,
        help="front lengths for the speed-up-vs-length table (2048² images); "
        "no value: 500 1000 2000 4000 8000",
    )
    args = ap.parse_args(argv)
    timer = Timer(args.clock)
    failures: list[str] = []

    t0 = time.perf_counter()
    ok = _nn_kernel() is not None
    load_s = time.perf_counter() - t0
    print(
        f"# MDE distance step: exact kernel vs brute force ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__},"
        f" scipy {scipy.__version__})\n"
    )
    if not ok:
        print(
            "numba is not importable: `front_distances` uses the KD-tree (kernel row = KD-tree).\n"
        )
    print(
        f"Kernel load (numba import + compile or cache load): {load_s:.2f} s wall, once per "
        f"process. Times: median of {args.repeats} interleaved passes, "
        f"{'process CPU' if args.clock == 'cpu' else 'wall-clock'} time.\n"
    )

    # 1. CaFFe-like
    if args.cache is not None and args.cache.is_file():
        z = np.load(args.cache, allow_pickle=False)
        pairs = [
            (z[f"p{i}"], z[f"r{i}"], tuple(int(v) for v in z[f"s{i}"]), float(z[f"m{i}"]))
            for i in range(int(z["n"]))
        ]
        parts = {k: list(z[f"part_{k}"]) for k in ("post", "extract", "distances", "add")}
        print(f"(CaFFe-like fronts read from {args.cache})\n")
    else:
        pairs, parts = caffe_like_set(
            args.n_images, args.front_min, args.front_max, args.seed, timer
        )
        if args.cache is not None:
            arrays: dict[str, np.ndarray] = {"n": np.array(len(pairs))}
            for i, (p, r, s, m) in enumerate(pairs):
                arrays.update({f"p{i}": p, f"r{i}": r, f"s{i}": np.array(s), f"m{i}": np.array(m)})
            arrays.update({f"part_{k}": np.array(v) for k, v in parts.items()})
            np.savez(args.cache, **arrays)
    per_image, pooled, same = time_methods(pairs, METHODS, args.repeats, timer)
    print_table(
        "CaFFe-like images (fronts from zone maps through the post-processing)",
        pairs,
        per_image,
        pooled,
        same,
        args.clock,
    )
    print_bins(pairs, per_image)
    failures += [f"CaFFe-like: {k}" for k, v in same.items() if not v]
    if args.edt_images:
        sub = pairs[: args.edt_images]
        t_sub, _, s_sub = time_methods(
            sub, {"brute": brute_force, "edt": edt_crop, "kernel": kernel}, 1, timer
        )
        print(
            f"EDT on the union box of both fronts, first {len(sub)} images (one pass): "
            f"{1e3 * t_sub['edt'].sum() / len(sub):.1f} ms/image against "
            f"{1e3 * t_sub['brute'].sum() / len(sub):.1f} (brute force) and "
            f"{1e3 * t_sub['kernel'].sum() / len(sub):.2f} (kernel); identical: "
            f"{'yes' if s_sub['edt'] else 'NO'}. Its cost follows the box area, not the "
            "front length.\n"
        )
        failures += ["EDT"] if not s_sub["edt"] else []
    med = {k: 1e3 * float(np.median(v)) for k, v in parts.items()}
    print("Where the time of one image goes (CaFFe-like, medians, ms):\n")
    print(
        "| post-processing of one zone map (`zones_to_front`) | front pixels from the two "
        "masks (`np.flatnonzero`) | distance step (kernel) | rest of "
        "`MDEAccumulator.add` (checks, bookkeeping) |"
    )
    print("| --- | --- | --- | --- |")
    rest = med["add"] - med["extract"] - med["distances"]
    print(
        f"| {med['post']:.0f} | {med['extract']:.2f} | {med['distances']:.2f} | "
        f"{max(rest, 0.0):.2f} |\n"
    )

    # 2. real caffe256
    root = Path(
        os.environ.get(
            "WORKBENCH_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
        )
    )
    if args.caffe256 and (root / "caffe256" / "fronts").is_dir():
        real = caffe256_pairs(root / "caffe256", args.caffe256)
        per_image, pooled, same = time_methods(real, METHODS, args.repeats, timer)
        print_table(
            "Real caffe256 fronts (256², thinned; next date of the same glacier as "
            "the prediction; pixels)",
            real,
            per_image,
            pooled,
            same,
            args.clock,
        )
        failures += [f"caffe256: {k}" for k, v in same.items() if not v]
    elif args.caffe256:
        print(f"(caffe256 not found under {root}: skipped)\n")

    # 3. sweep
    if args.sweep is not None:
        lengths = args.sweep or [500, 1000, 2000, 4000, 8000]
        rng = np.random.default_rng(args.seed + 1)
        print("### Speed-up vs front length (meandering lines, 2048², 5 images each)\n")
        print(
            "| front px (pred ≈ ref) | dense matrix (MB) | brute force (ms/image) | "
            "KD-tree (ms/image) | kernel (ms/image) | speed-up | identical |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        sub_methods = {list(METHODS)[0]: brute_force, "kd": kd_tree, "kernel": kernel}
        for length in lengths:
            sp = sweep_pairs(length, 5, 2048, rng)
            t, _, s = time_methods(sp, sub_methods, max(1, min(args.repeats, 3)), timer)
            tb, tk, tn = (v.sum() / len(sp) for v in t.values())
            mb = np.mean([p.size * r.size * 8 / 2**20 for p, r, _, _ in sp])
            print(
                f"| {length} | {mb:.0f} | {1e3 * tb:.1f} | {1e3 * tk:.2f} | {1e3 * tn:.3f} | "
                f"{tb / tn:.1f}× | {'yes' if all(s.values()) else '**NO**'} |"
            )
            failures += [f"sweep {length}"] if not all(s.values()) else []
        print()
    if failures:
        raise SystemExit(f"distances differ from the brute force: {failures}")


if __name__ == "__main__":
    main()
