"""A small locator map: where the scene lies, drawn offline, with an optional tile basemap.

:class:`LocatorView` draws the scene's footprint (its image extent in the grid's CRS,
projected with pyproj) on a latitude/longitude graticule in Web Mercator (EPSG:3857), about
±8° of longitude and ±4° of latitude around the scene. Nothing is fetched unless the tile
basemap is switched on (:meth:`LocatorView.set_basemap`, off by default): then the browser
loads OpenStreetMap tiles (an :mod:`xyzservices` provider) under the graticule. Tiles exist
only in Web Mercator, which is why they go on the locator and not under the map in the
scene's own CRS. Images without a CRS (CaFFe's pixel coordinates) have no locator.

Examples
--------
>>> import tempfile, pathlib
>>> from workbench.data.demo import make_demo_world
>>> from workbench.viz.state import ExplorerState
>>> root = pathlib.Path(tempfile.mkdtemp()) / "world"
>>> _ = make_demo_world(root, n_glaciers=1, years=0.1, size=64, pixel_size=80)
>>> view = LocatorView(ExplorerState.from_paths([root]))
>>> view.available, len(view.footprint.data["x"]) > 4, view.tiles is None
(True, True, True)
>>> view.set_basemap(True)
>>> view.tiles.visible, "openstreetmap" in view.tiles.tile_source.url
(True, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.viz.state import ExplorerState

__all__ = ["LocatorView", "BASEMAP", "mercator"]

BASEMAP = "OpenStreetMap.Mapnik"
"""The :mod:`xyzservices` provider of the optional tile basemap."""

HALF_SPAN = (8.0, 4.0)
"""Half the locator's extent in degrees of longitude and latitude around the scene."""


def mercator(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator (EPSG:3857) metres of longitude/latitude in degrees.

    >>> [round(float(v)) for v in mercator(15.0, 78.0)]
    [1669792, 14368684]
    """
    r = 6378137.0
    lon, lat = np.asarray(lon, float), np.clip(np.asarray(lat, float), -85.0, 85.0)
    return r * np.radians(lon), r * np.log(np.tan(np.pi / 4 + np.radians(lat) / 2))


def _provider_url(name: str) -> tuple[str, str]:
    import xyzservices.providers as providers

    p = providers.query_name(name)
    return p.build_url(), p.html_attribution


class LocatorView:
    """The locator of ``state``'s current glacier (``available`` False without a CRS)."""

    def __init__(self, state: ExplorerState, *, size: tuple[int, int] = (260, 200)) -> None:
        from bokeh.models import ColumnDataSource, Range1d
        from bokeh.plotting import figure

        self.state = state
        self.tiles: Any = None
        series = state.series
        self.available = series.crs is not None
        lon, lat = self._footprint_lonlat() if self.available else (np.zeros(1), np.zeros(1))
        c_lon, c_lat = float(np.mean(lon)), float(np.mean(lat))
        self.centre = (c_lon, c_lat)
        lo_lon, hi_lon = c_lon - HALF_SPAN[0], c_lon + HALF_SPAN[0]
        lo_lat = max(c_lat - HALF_SPAN[1], -84.0)
        hi_lat = min(c_lat + HALF_SPAN[1], 84.0)
        (x0, x1), (y0, y1) = mercator([lo_lon, hi_lon], [lo_lat, hi_lat])
        fig = figure(
            width=size[0],
            height=size[1],
            x_range=Range1d(float(x0), float(x1)),
            y_range=Range1d(float(y0), float(y1)),
            tools="",
            toolbar_location=None,
            name="wb-locator",
            background_fill_color="#f2f2f7",
            title=f"Where: {abs(c_lat):.2f}° {'N' if c_lat >= 0 else 'S'}, "
            f"{abs(c_lon):.2f}° {'E' if c_lon >= 0 else 'W'}",
            min_border=4,
        )
        fig.title.text_font_size = "11px"
        fig.axis.visible = False
        fig.grid.visible = False
        xs, ys, labels = self._graticule(lo_lon, hi_lon, lo_lat, hi_lat)
        fig.multi_line(
            xs=xs, ys=ys, line_color="#8e8e93", line_width=0.8, line_alpha=0.7, name="graticule"
        )
        fig.text(
            x="x",
            y="y",
            text="text",
            source=ColumnDataSource(labels),
            text_font_size="9px",
            text_color="#6e6e73",
            name="graticule labels",
        )
        mx, my = mercator(lon, lat)
        self.footprint = ColumnDataSource({"x": mx, "y": my})
        fig.patch(
            "x",
            "y",
            source=self.footprint,
            fill_color="#ff2d55",
            fill_alpha=0.35,
            line_color="#ff2d55",
            line_width=2,
            name="footprint",
        )
        cx, cy = mercator(c_lon, c_lat)
        fig.scatter(
            x=[float(cx)], y=[float(cy)], marker="circle", size=6, color="#ff2d55", name="centre"
        )
        self.figure = fig

    def _footprint_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """The image extent's outline (densified edges) in longitude/latitude."""
        from pyproj import CRS, Transformer

        img = self.state.series.images
        xs, ys = img["x"].values, img["y"].values
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
        t = np.linspace(0.0, 1.0, 11)
        ring_x = np.concatenate(
            [x0 + (x1 - x0) * t, np.full(11, x1), x1 - (x1 - x0) * t, [x0] * 11]
        )
        ring_y = np.concatenate(
            [np.full(11, y0), y0 + (y1 - y0) * t, np.full(11, y1), y1 - (y1 - y0) * t]
        )
        tr = Transformer.from_crs(
            CRS.from_user_input(self.state.series.crs), "EPSG:4326", always_xy=True
        )
        lon, lat = tr.transform(ring_x, ring_y)
        return np.asarray(lon), np.asarray(lat)

    @staticmethod
    def _graticule(
        lo_lon: float, hi_lon: float, lo_lat: float, hi_lat: float
    ) -> tuple[list, list, dict]:
        """Meridians every 4°, parallels every 2° (Mercator: straight lines) and their labels."""
        xs, ys = [], []
        labels: dict[str, list] = {"x": [], "y": [], "text": []}
        for lon in np.arange(math.ceil(lo_lon / 4) * 4, hi_lon + 1e-9, 4.0):
            x, (y0, y1) = mercator(lon, 0.0)[0], mercator(0.0, [lo_lat, hi_lat])[1]
            xs.append([float(x), float(x)])
            ys.append([float(y0), float(y1)])
            labels["x"].append(float(x))
            labels["y"].append(float(y0))
            labels["text"].append(f"{lon:g}°")
        for lat in np.arange(math.ceil(lo_lat / 2) * 2, hi_lat + 1e-9, 2.0):
            (x0, x1), y = mercator([lo_lon, hi_lon], 0.0)[0], mercator(0.0, lat)[1]
            xs.append([float(x0), float(x1)])
            ys.append([float(y), float(y)])
            labels["x"].append(float(x0))
            labels["y"].append(float(y))
            labels["text"].append(f"{lat:g}°")
        return xs, ys, labels

    def set_basemap(self, on: bool) -> None:
        """Show or hide the tile basemap (:data:`BASEMAP`); the tile layer is added the first
        time it is switched on, so a page that never asks for tiles never names a tile URL."""
        if on and self.tiles is None:
            from bokeh.models import WMTSTileSource

            url, attribution = _provider_url(BASEMAP)
            self.tiles = self.figure.add_tile(
                WMTSTileSource(url=url, attribution=attribution), name="basemap"
            )
            # under the graticule and the footprint
            self.figure.renderers = [
                self.tiles,
                *[r for r in self.figure.renderers if r is not self.tiles],
            ]
        if self.tiles is not None:
            self.tiles.visible = bool(on)
