"""Calving fronts corrected by hand in the explorer: one GeoPackage in a writable folder.

The server is started with ``workbench serve DATA --edits DIR``; a scientist fixes a wrong
front where they see it and saves it. :class:`FrontCorrections` keeps every saved front in
``DIR/corrected_fronts.gpkg`` (layer ``fronts``), one row per (glacier, day): ``date``,
``glacier``, ``source = "manual"``, ``edited_from`` (the model, ``reference`` or ``none``),
``editor`` (the user name when the server has passwords) and ``edited_at`` (UTC), written
atomically (:func:`workbench.geo.write_vectors`). The folder may not lie inside a data root:
those are what the server reads, never writes.

The file is a fronts GeoPackage like any other: ``workbench retreat DIR/corrected_fronts.gpkg
--box BOX`` measures it.

Examples
--------
>>> import tempfile, pathlib
>>> from shapely.geometry import LineString
>>> edits = FrontCorrections(pathlib.Path(tempfile.mkdtemp()) / "edits")
>>> row = edits.save("Tindeskarbreen", "2019-03-02", LineString([(0, 0), (100, 50)]), crs="EPSG:32633",
...                  edited_from="demo_zones.pt", editor="ana")
>>> back = edits.for_glacier("Tindeskarbreen", crs="EPSG:32633")
>>> list(back.columns), back["source"].tolist(), str(back["date"].iloc[0].date())
(['date', 'glacier', 'source', 'edited_from', 'editor', 'edited_at', 'geometry'], ['manual'], '2019-03-02')
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import ConfigError, DataError

__all__ = ["FrontCorrections", "CORRECTIONS_FILE"]

CORRECTIONS_FILE = "corrected_fronts.gpkg"
COLUMNS = ["date", "glacier", "source", "edited_from", "editor", "edited_at"]


class FrontCorrections:
    """Hand-corrected fronts in ``folder/corrected_fronts.gpkg``; ``roots`` (the server's data
    roots) may not contain ``folder``."""

    def __init__(self, folder: str | os.PathLike[str], roots: Any = None) -> None:
        from workbench._io import ensure_dir

        self.folder = Path(folder).expanduser().resolve()
        if roots is not None and self.folder in roots:
            raise ConfigError(
                "lies inside a data root, which the server only reads",
                path=self.folder,
                variable="--edits",
                expected="a writable folder outside the data roots",
            )
        ensure_dir(self.folder)
        if not os.access(self.folder, os.W_OK):
            raise ConfigError(
                "is not writable",
                path=self.folder,
                variable="--edits",
                expected="a folder this server may write to",
            )
        self.path = self.folder / CORRECTIONS_FILE
        self._lock = threading.Lock()
        self._cache: tuple[int, Any] | None = None

    def read(self) -> Any:
        """Every saved front (a GeoDataFrame; None before the first save). Read again only when
        the file changed."""
        import geopandas as gpd

        if not self.path.is_file():
            return None
        stamp = self.path.stat().st_mtime_ns
        if self._cache is None or self._cache[0] != stamp:
            try:
                gdf = gpd.read_file(self.path, layer="fronts")
            except Exception as err:  # noqa: BLE001 - named with the file
                raise DataError(
                    f"cannot be read ({err})",
                    path=self.path,
                    expected="the GeoPackage of corrected fronts this explorer writes",
                ) from err
            gdf["date"] = pd.to_datetime(gdf["date"])
            self._cache = (stamp, gdf)
        return self._cache[1]

    def for_glacier(self, glacier: str, crs: Any = None) -> Any:
        """The saved fronts of ``glacier`` (in ``crs``), or None."""
        gdf = self.read()
        if gdf is None:
            return None
        rows = gdf[gdf["glacier"] == glacier].reset_index(drop=True)
        if not len(rows):
            return None
        return rows.to_crs(crs) if crs is not None and rows.crs is not None else rows

    def save(
        self,
        glacier: str,
        date: Any,
        geometry: Any,
        *,
        crs: Any,
        edited_from: str,
        editor: str | None = None,
    ) -> Any:
        """Store ``geometry`` (a (Multi)LineString in ``crs``) as the front of ``glacier`` on the
        day of ``date``, replacing an earlier correction of that day; returns the new row."""
        import geopandas as gpd

        from workbench.geo import write_vectors

        if crs is None:
            raise DataError(
                "has no CRS: a corrected front needs map coordinates",
                variable="crs",
                expected="the grid's CRS (georeferenced images)",
            )
        if geometry is None or geometry.is_empty or geometry.length == 0:
            raise DataError(
                "is empty", variable="front", expected="a line with at least two points"
            )
        day = pd.Timestamp(date).normalize()
        row = gpd.GeoDataFrame(
            {
                "date": [day],
                "glacier": [glacier],
                "source": ["manual"],
                "edited_from": [edited_from],
                "editor": [editor or ""],
                "edited_at": [pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")],
            },
            geometry=[geometry],
            crs=crs,
        )
        with self._lock:
            old = self.read()
            if old is not None:
                keep = old[~((old["glacier"] == glacier) & (old["date"].dt.normalize() == day))]
                row = row.to_crs(old.crs)
                merged = pd.concat([keep, row], ignore_index=True)
                new = gpd.GeoDataFrame(merged, geometry="geometry", crs=old.crs)
            else:
                new = row
            new = new.sort_values(["glacier", "date"]).reset_index(drop=True)[
                [*COLUMNS, "geometry"]
            ]
            write_vectors(new, self.path, layer="fronts")
            self._cache = None
        return row
