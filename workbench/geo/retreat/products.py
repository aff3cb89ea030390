"""Everything ``workbench retreat`` writes for one set of fronts: :func:`retreat_products`
(table, figure, summary).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench._io import atomic_path
from workbench.errors import DataError
from workbench.geo.retreat.analysis import fit_annual_cycle, seasonal_summary, summarize_retreat
from workbench.geo.retreat.box import retreat_box
from workbench.geo.retreat.centreline import retreat_centreline
from workbench.geo.retreat.plot import plot_retreat
from workbench.geo.retreat.reading import _fronts_frame, read_front_lines
from workbench.geo.retreat.table import _check_metres, write_retreat_table

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["retreat_products"]


def retreat_products(
    fronts: Any,
    out_dir: str | os.PathLike[str],
    *,
    box: Any = None,
    centreline: Any = None,
    upstream: Any = None,
    crs: Any = None,
    title: str | None = None,
    table_format: str = "csv",
    dpi: int = 110,
    metres: str = "ground",
) -> dict[str, Any]:
    """Retreat table and figure in one call (what ``workbench retreat`` runs).

    Measures with :func:`retreat_box` (``box``) or :func:`retreat_centreline`
    (``centreline``), then writes ``OUT/retreat_<method>.<csv|parquet>`` and
    ``OUT/retreat_<method>.png``, each atomically, only after everything was computed.

    Parameters
    ----------
    fronts
        GeoDataFrame or a path for :func:`read_front_lines`.
    out_dir
        Output folder (created).
    box, centreline
        Exactly one of them (geometry, GeoSeries/GeoDataFrame or file).
    upstream
        For the box: required (see :func:`box_frame`); a string of digits is an edge index.
        For the centre line: optional point to orient it.
    crs, title, table_format, dpi
        Working CRS, figure title, ``"csv"`` or ``"parquet"``, figure resolution.
    metres
        ``"ground"`` (default, metres on the ellipsoid) or ``"map"`` (the working CRS's).

    Returns
    -------
    dict
        ``{"table": Path, "figure": Path, "retreat": DataFrame, "summary": str}``.

    Examples
    --------
    >>> import tempfile, pathlib, geopandas as gpd, pandas as pd
    >>> from shapely.geometry import LineString, box
    >>> fronts = gpd.GeoDataFrame({"date": pd.date_range("2020-03-01", periods=8, freq="30D")},
    ...     crs=32633, geometry=[LineString([(3000 - 50 * i, -100), (3000 - 50 * i, 2100)]) for i in range(8)])
    >>> res = retreat_products(fronts, pathlib.Path(tempfile.mkdtemp()), box=box(0, 0, 6000, 2000),
    ...                        upstream="0,1000", dpi=30)
    >>> res["table"].name, res["figure"].name, round(float(res["retreat"].change_m.iloc[-1]), 2)
    ('retreat_box.csv', 'retreat_box.png', -349.07)
    """
    if (box is None) == (centreline is None):
        raise DataError(
            "needs exactly one of box and centreline",
            variable="method",
            expected="box=... (rectilinear box) or centreline=... (centre line)",
        )
    if table_format not in ("csv", "parquet"):
        raise DataError(
            f"is {table_format!r}", variable="table_format", expected="'csv' or 'parquet'"
        )
    _check_metres(metres)
    fr = _fronts_frame(fronts)
    if isinstance(upstream, str) and upstream.strip().isdigit():
        upstream = int(upstream.strip())
    if box is not None:
        df = retreat_box(fr, box, crs=crs, upstream=upstream, metres=metres)
    else:
        df = retreat_centreline(fr, centreline, crs=crs, upstream=upstream, metres=metres)
    method = str(df["method"].iloc[0])
    if not np.isfinite(df["position_m"].to_numpy(float)).any():
        flags = sorted({f for fl in df["flags"] for f in str(fl).split(";") if f})
        where = box if box is not None else centreline
        raise DataError(
            f"gives no position for any of its {len(df)} fronts: none of them "
            f"crosses the {'box' if box is not None else 'centre line'} "
            f"{where if isinstance(where, (str, os.PathLike)) else ''} "
            f"(flags: {', '.join(flags) or 'none'})".replace("  ", " "),
            path=fronts if isinstance(fronts, (str, os.PathLike)) else None,
            variable="fronts",
            expected="fronts that cross the box/centre line, in the same area "
            "(check both files' CRS and location)",
        )
    fig = plot_retreat(df, title=title)
    out = Path(out_dir)
    table = out / f"retreat_{method}.{table_format}"
    figure = out / f"retreat_{method}.png"
    write_retreat_table(df, table)
    with atomic_path(figure) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    summary = summarize_retreat(df)
    if "upstream" in df.attrs:
        summary += f"\nupstream edge: {df.attrs['upstream']}"
    return {"table": table, "figure": figure, "retreat": df, "summary": summary}


def _main() -> None:  # pragma: no cover - regenerates docs/retreat_harald_moltke.png
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/harald-moltke-brae")
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("docs/retreat_harald_moltke.png")
    fronts = read_front_lines(root / "lines")
    # the lines have the ice on their right (as workbench fronts); the basemap agrees: the
    # upstream edge is the eastern short edge, midpoint (-561932, -1346904) in EPSG:3413
    df = retreat_box(fronts, root / "box" / "harald_moltke_brae.shp", upstream="right")
    print(summarize_retreat(df))
    print(df.attrs["upstream"])
    print(seasonal_summary(df).to_string(float_format=lambda v: f"{v:.1f}"))
    fit = fit_annual_cycle(df)
    print(fit)
    print(
        summarize_retreat(
            retreat_box(
                fronts, root / "box" / "harald_moltke_brae.shp", upstream="right", metres="map"
            )
        )
    )
    fig = plot_retreat(df, title="Harald Moltke Bræ (NW Greenland)")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    print(f"wrote {out}")


if __name__ == "__main__":  # pragma: no cover
    _main()
