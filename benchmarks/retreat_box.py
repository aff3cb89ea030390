r"""Benchmark: the workbench's box method against the published rectilinear-box loop.

**What is compared**, in one process, on the same in-memory inputs (the 159 real Harald
Moltke Bræ front lines and their box, EPSG:3413, read once before timing; file reading is
not timed for either):

* ``published loop`` — :func:`workbench.geo.retreat_reference.published_box_areas`, a
  faithful re-implementation of ``box_method.py`` of eloebel/rectilinear-box-method (the
  code published with these lines): per line, ``shapely.ops.split``, transform the pieces to
  EPSG:4326, project the first piece into an Albers equal-area projection built for it, take
  its area. This is the reference; ratios are against it.
* ``workbench, upstream="right"`` — :func:`workbench.geo.retreat_box` end to end as the CLI
  runs it: input checks, the box frame in EPSG:3413, the upstream edge voted from the lines'
  side convention, all lines split at once (shapely 2 array calls), the pieces 2-coloured,
  the areas and box length measured in ground metres, the table.
* ``workbench, upstream=(x, y)`` — the same with the upstream edge given as a point (no
  vote).

Each implementation runs ``--repeats`` times, interleaved, after one warm-up call; the medians
are reported, in process CPU time (what the process computes; on a shared machine it does not
count time spent waiting for a core) and wall-clock time. ``--cold N`` also times the FIRST
call in N fresh processes per implementation (the data loaded, nothing run yet: PROJ and GEOS
set-up included), medians again. Reading the 159 files (``read_front_lines``) is timed on its
own for context; the published script reads each file with pyshp inside its loop (pyshp is not
a dependency here, so that part is not reproduced).

**Areas.** The published loop measures the first piece of each split (the ocean piece on
every Harald Moltke date), the workbench the ice pieces; the script prints the largest
difference between the published area change (its output) and the workbench's ice-area
change, in m² and in metres of position, and with ``--densify M`` (default 10 m) the same
with every edge densified to M metres, where both draw the same polygons and must agree to
0.01 m² (the undensified difference is only which projection the edges are straight in). It
also checks that the workbench's pieces are ``shapely.ops.split``'s, bit for bit, and exits
non-zero on any disagreement. Not a test (``tests/geo/test_retreat_published.py`` checks the
same, untimed). Examples::

    python benchmarks/retreat_box.py
    python benchmarks/retreat_box.py --repeats 15 --densify 0 --cold 0
    WORKBENCH_SHARED_DATA=/data python benchmarks/retreat_box.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
UPSTREAM_XY = (-561932.0, -1346904.0)  # the upstream edge's midpoint (basemap: ice)


def _time(funcs: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Median CPU and wall seconds per function, the functions interleaved."""
    cpu: dict[str, list[float]] = {k: [] for k in funcs}
    wall: dict[str, list[float]] = {k: [] for k in funcs}
    for f in funcs.values():  # warm up (imports, PROJ database, first GEOS calls)
        f()
    for i in range(repeats):
        print(f"  round {i + 1}/{repeats}", end="\r", file=sys.stderr, flush=True)
        for k, f in funcs.items():
            c0, w0 = time.process_time(), time.perf_counter()
            f()
            cpu[k].append(time.process_time() - c0)
            wall[k].append(time.perf_counter() - w0)
    print(" " * 30, end="\r", file=sys.stderr)
    return {k: {"cpu": float(np.median(cpu[k])), "wall": float(np.median(wall[k]))} for k in funcs}


def _load(data: Path) -> tuple[object, object, list]:
    """The fronts (GeoDataFrame), the box (GeoSeries) and the lines (list) of Harald Moltke Bræ."""
    import geopandas as gpd

    from workbench.geo import read_front_lines

    fronts = read_front_lines(data / "lines")
    box_series = gpd.read_file(data / "box" / "harald_moltke_brae.shp").geometry
    return fronts, box_series, list(fronts.geometry)


def _implementations(
    fronts: object, box_series: object, lines: list
) -> dict[str, Callable[[], object]]:
    from workbench.geo import retreat_box
    from workbench.geo.retreat_reference import published_box_areas

    box = box_series.iloc[0]
    return {
        "published loop (reference)": lambda: published_box_areas(lines, box, 3413),
        'workbench, upstream="right"': lambda: retreat_box(fronts, box_series, upstream="right"),
        "workbench, upstream=(x, y)": lambda: retreat_box(fronts, box_series, upstream=UPSTREAM_XY),
    }


def _first_call(data: Path, name: str) -> None:
    """In a fresh process: load the data, time one call of ``name``, print CPU and wall s."""
    funcs = _implementations(*_load(data))
    c0, w0 = time.process_time(), time.perf_counter()
    funcs[name]()
    print(json.dumps({"cpu": time.process_time() - c0, "wall": time.perf_counter() - w0}))


def _cold(data: Path, names: list[str], n: int) -> dict[str, dict[str, float]]:
    """Median first-call CPU and wall seconds over ``n`` fresh processes per implementation."""
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in names}
    for i in range(n):
        for k in names:
            print(
                f"  fresh process {i + 1}/{n}: {k}", " " * 10, end="\r", file=sys.stderr, flush=True
            )
            out = subprocess.run(
                [sys.executable, __file__, "--first-call", k, "--data", str(data)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[k].append(json.loads(out.strip().splitlines()[-1]))
    print(" " * 70, end="\r", file=sys.stderr)
    return {
        k: {c: float(np.median([r[c] for r in v])) for c in ("cpu", "wall")}
        for k, v in runs.items()
    }


def _table(title: str, t: dict[str, dict[str, float]]) -> None:
    ref = t["published loop (reference)"]
    print(f"\n{title}\n")
    print("| implementation | CPU (ms) | × faster (CPU) | wall (ms) | × faster (wall) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for k, v in t.items():
        print(
            f"| {k} | {v['cpu'] * 1e3:.0f} | {ref['cpu'] / v['cpu']:.1f} | "
            f"{v['wall'] * 1e3:.0f} | {ref['wall'] / v['wall']:.1f} |"
        )


def _compare(lines: list, box: object, densify: float) -> dict[str, float]:
    """Largest differences between the published loop's areas and the workbench's."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from workbench.geo import retreat_box
    from workbench.geo.retreat_ground import GroundMetres
    from workbench.geo.retreat_reference import published_area_change, published_box_areas

    if densify > 0:
        box = shapely.segmentize(box, densify)
        lines = [shapely.segmentize(g, densify) for g in lines]
    fronts = gpd.GeoDataFrame(
        {"date": pd.date_range("2019-01-01", periods=len(lines))}, geometry=lines, crs=3413
    )
    df = retreat_box(fronts, gpd.GeoSeries([box], crs=3413), upstream="right")
    ice = df.position_m.to_numpy() * df.attrs["box_width_m"]
    first = published_box_areas(lines, box, 3413)
    change = published_area_change(first)
    box_area = GroundMetres.around(3413, box).areas([box])[0]
    width = df.attrs["box_width_m"]
    return {
        "change_m2": float(np.abs((ice - ice[0]) - change).max()),
        "position_m": float(np.abs(df.change_m.to_numpy() - change / width).max()),
        "first_plus_ice_m2": float(np.abs(first + ice - box_area).max()),
        "net_workbench_m": float(df.change_m.iloc[-1]),
        "net_published_m": float(change[-1] / width),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="timed rounds (default 9)")
    ap.add_argument(
        "--cold",
        type=int,
        default=3,
        help="fresh processes per implementation for the first-call times (default 3; 0: skip)",
    )
    ap.add_argument(
        "--densify",
        type=float,
        default=10.0,
        help="also compare with edges densified to this many metres (0: skip)",
    )
    ap.add_argument("--data", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--first-call", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    root = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    data = args.data or root / "harald-moltke-brae"
    if args.first_call:
        _first_call(data, args.first_call)
        return 0
    if not (data / "lines").is_dir():
        print(
            f"{data}: the Harald Moltke Bræ data is absent (set WORKBENCH_SHARED_DATA)",
            file=sys.stderr,
        )
        return 2

    import shapely
    from shapely.ops import split

    from workbench.geo import read_front_lines
    from workbench.geo.retreat_split import split_pieces

    c0, w0 = time.process_time(), time.perf_counter()
    read_front_lines(data / "lines")
    read_cpu, read_wall = time.process_time() - c0, time.perf_counter() - w0
    fronts, box_series, lines = _load(data)
    box = box_series.iloc[0]
    print(
        f"{len(lines)} fronts {fronts.date.min():%Y-%m-%d}..{fronts.date.max():%Y-%m-%d}, "
        f"{int(np.median(shapely.get_num_coordinates(np.array(lines))))} vertices per line "
        f"(median); box {box.area / 1e6:.2f} km² of EPSG:3413"
    )
    print(
        f"python {platform.python_version()}, shapely {shapely.__version__} (GEOS "
        f"{shapely.geos_version_string}), {os.cpu_count()} CPUs; reading the {len(lines)} "
        f"files (read_front_lines, not timed below): {read_cpu * 1e3:.0f} ms CPU, "
        f"{read_wall * 1e3:.0f} ms wall"
    )

    funcs = _implementations(fronts, box_series, lines)
    _table(f"median of {args.repeats} rounds (warm)", _time(funcs, args.repeats))
    if args.cold > 0:
        _table(
            f"first call in a fresh process, median of {args.cold} processes",
            _cold(data, list(funcs), args.cold),
        )

    ok = True
    pieces, owner = split_pieces(np.array(lines, dtype=object), box)
    areas = shapely.area(pieces)
    same = all(
        areas[owner == i].tolist() == [p.area for p in split(box, g).geoms]
        for i, g in enumerate(lines)
    )
    ok &= same
    print(
        f"\npieces identical to shapely.ops.split (areas bit for bit, {len(lines)} lines): {same}"
    )
    for d in [0.0] + ([args.densify] if args.densify > 0 else []):
        c = _compare(lines, box, d)
        label = f"edges densified to {d:g} m" if d else "as drawn"
        print(
            f"published vs workbench, {label}: area change max |Δ| {c['change_m2']:.4f} m² "
            f"({c['position_m']:.4f} m of position); first piece + ice vs box max |Δ| "
            f"{c['first_plus_ice_m2']:.4f} m²; net change {c['net_workbench_m']:.3f} m "
            f"(workbench) vs {c['net_published_m']:.3f} m (published)"
        )
        ok &= c["change_m2"] < (0.01 if d else 50.0)
    if not ok:
        print("DIFFERENCE: the workbench does not reproduce the published areas", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
