"""How long the synthetic simulator takes per 512 × 512 Sentinel-1 date.

Times a run with one date and a run with ``--dates`` dates of the same glacier; the
difference divided by the extra dates is the cost per date, the one-date run minus one
date is the static part (terrain, radar geometry, textures, optical image) paid once per
glacier.

Usage::

    python benchmarks/synthetic.py                 # 512 × 512 at 20 m, 11 dates, 3 repeats
    python benchmarks/synthetic.py --size 1024 --dates 6
"""

from __future__ import annotations

import argparse
import time

from workbench.data.synthetic import GlacierParams, simulate_glacier


def _run(n_dates: int, size: int, pixel_size: float, seed: int) -> float:
    years = ((n_dates - 1) * 12 + 0.5) / 365.25
    t = time.perf_counter()
    g = simulate_glacier(
        GlacierParams(), seed=seed, years=years, size=(size, size), pixel_size=pixel_size
    )
    elapsed = time.perf_counter() - t
    assert g.stack.sizes["time"] == n_dates
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="scene size in pixels (square)")
    ap.add_argument("--pixel-size", type=float, default=20.0, help="metres")
    ap.add_argument("--dates", type=int, default=11, help="dates in the long run")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    _run(1, 64, 160.0, 0)  # warm up imports and caches
    one, many = [], []
    for r in range(args.repeats):
        one.append(_run(1, args.size, args.pixel_size, r))
        many.append(_run(args.dates, args.size, args.pixel_size, r))
    t1, tn = min(one), min(many)
    per_date = (tn - t1) / (args.dates - 1)
    print(f"{args.size}×{args.size} px at {args.pixel_size:g} m, best of {args.repeats}:")
    print(f"  static part per glacier : {t1 - per_date:6.3f} s")
    print(f"  per date                : {per_date:6.3f} s")
    print(f"  one year (31 dates)     : {t1 + 30 * per_date:6.1f} s")


if __name__ == "__main__":
    main()
