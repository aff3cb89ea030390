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

Each implementation runs ``--repeats`` times, interleaved; the medians are reported, in
process CPU time (what the process computes; on a shared machine it does not count time spent
waiting for a core) and wall-clock time.

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
    python benchmarks/retreat_box.py --repeats 15 --densify 0
    WORKBENCH_SHARED_DATA=/data python benchmarks/retreat_box.py
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
UPSTREAM_XY = (-561932.0, -1346904.0)        # the upstream edge's midpoint (basemap: ice)


def _time(funcs: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Median CPU and wall seconds per function, the functions interleaved."""
    cpu: dict[str, list[float]] = {k: [] for k in funcs}
    wall: dict[str, list[float]] = {k: [] for k in funcs}
    for k, f in funcs.items():          # warm up (imports, PROJ database, first GEOS calls)
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
    fronts = gpd.GeoDataFrame({"date": pd.date_range("2019-01-01", periods=len(lines))},
                              geometry=lines, crs=3413)
    df = retreat_box(fronts, gpd.GeoSeries([box], crs=3413), upstream="right")
    ice = df.position_m.to_numpy() * df.attrs["box_width_m"]
    first = published_box_areas(lines, box, 3413)
    change = published_area_change(first)
    box_area = GroundMetres.around(3413, box).areas([box])[0]
    return {"change_m2": float(np.abs((ice - ice[0]) - change).max()),
            "position_m": float(np.abs(df.change_m.to_numpy() - change / df.attrs["box_width_m"]).max()),
            "first_plus_ice_m2": float(np.abs(first + ice - box_area).max()),
            "net_workbench_m": float(df.change_m.iloc[-1]),
            "net_published_m": float(change[-1] / df.attrs["box_width_m"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="timed rounds (default 9)")
    ap.add_argument("--densify", type=float, default=10.0,
                    help="also compare with edges densified to this many metres (0: skip)")
    args = ap.parse_args(argv)

    import geopandas as gpd
    import shapely
    from shapely.ops import split

    from workbench.geo import read_front_lines, retreat_box
    from workbench.geo.retreat_reference import published_box_areas
    from workbench.geo.retreat_split import split_pieces

    root = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    data = root / "harald-moltke-brae"
    if not (data / "lines").is_dir():
        print(f"{data}: the Harald Moltke Bræ data is absent (set WORKBENCH_SHARED_DATA)",
              file=sys.stderr)
        return 2
    fronts = read_front_lines(data / "lines")
    box_series = gpd.read_file(data / "box" / "harald_moltke_brae.shp").geometry
    box = box_series.iloc[0]
    lines = list(fronts.geometry)
    print(f"{len(lines)} fronts {fronts.date.min():%Y-%m-%d}..{fronts.date.max():%Y-%m-%d}, "
          f"{int(np.median(shapely.get_num_coordinates(np.array(lines))))} vertices per line "
          f"(median); box {box.area / 1e6:.2f} km² of EPSG:3413")
    print(f"python {platform.python_version()}, shapely {shapely.__version__} (GEOS "
          f"{shapely.geos_version_string}), {os.cpu_count()} CPUs, {args.repeats} rounds\n")

    funcs = {
        "published loop (reference)": lambda: published_box_areas(lines, box, 3413),
        'workbench, upstream="right"': lambda: retreat_box(fronts, box_series, upstream="right"),
        "workbench, upstream=(x, y)": lambda: retreat_box(fronts, box_series, upstream=UPSTREAM_XY),
    }
    t = _time(funcs, args.repeats)
    ref = t["published loop (reference)"]
    print("| implementation | CPU (ms) | × faster (CPU) | wall (ms) | × faster (wall) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for k, v in t.items():
        print(f"| {k} | {v['cpu'] * 1e3:.0f} | {ref['cpu'] / v['cpu']:.1f} | "
              f"{v['wall'] * 1e3:.0f} | {ref['wall'] / v['wall']:.1f} |")

    ok = True
    pieces, owner = split_pieces(np.array(lines, dtype=object), box)
    areas = shapely.area(pieces)
    same = all(areas[owner == i].tolist() == [p.area for p in split(box, g).geoms]
               for i, g in enumerate(lines))
    ok &= same
    print(f"\npieces identical to shapely.ops.split (areas bit for bit, 159 lines): {same}")
    for d in ([0.0] + ([args.densify] if args.densify > 0 else [])):
        c = _compare(lines, box, d)
        label = f"edges densified to {d:g} m" if d else "as drawn"
        print(f"published vs workbench, {label}: area change max |Δ| {c['change_m2']:.4f} m² "
              f"({c['position_m']:.4f} m of position); first piece + ice vs box max |Δ| "
              f"{c['first_plus_ice_m2']:.4f} m²; net change {c['net_workbench_m']:.3f} m "
              f"(workbench) vs {c['net_published_m']:.3f} m (published)")
        ok &= c["change_m2"] < (0.01 if d else 50.0)
    if not ok:
        print("DIFFERENCE: the workbench does not reproduce the published areas", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
