"""Longitude/latitude of map coordinates in the browser: a polynomial fitted with pyproj.

A hover tool runs in the browser, where no projection library for an arbitrary CRS is
available. Over one scene (tens of kilometres) longitude and latitude are smooth functions of
the projected ``x, y``, so :class:`LonLatFit` transforms a grid of points with pyproj and fits
a bivariate polynomial to them; :meth:`LonLatFit.js` is the JavaScript that evaluates it. The
fit raises its degree until the error at points off the fitting grid is below ``tolerance``
degrees (1e-6° ≈ 0.1 m) and refuses the scene otherwise.

Examples
--------
>>> fit = LonLatFit("EPSG:32633", (495000.0, 8690000.0, 505240.0, 8700240.0))
>>> lon, lat = fit(500000.0, 8695000.0)  # on the central meridian, 15° E
>>> round(float(lon), 5), round(float(lat), 5)
(15.0, 78.32822)
>>> fit.max_error_deg < 1e-6
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import DataError

__all__ = ["LonLatFit"]


class LonLatFit:
    """Longitude/latitude of ``crs`` coordinates inside ``bounds`` (xmin, ymin, xmax, ymax)."""

    def __init__(
        self,
        crs: Any,
        bounds: tuple[float, float, float, float],
        *,
        tolerance: float = 1e-6,
        max_degree: int = 7,
    ) -> None:
        from pyproj import CRS, Transformer

        self.crs = CRS.from_user_input(crs)
        if self.crs.is_geographic:
            raise DataError(
                "is geographic: longitude and latitude are the coordinates already",
                variable="crs",
                expected="a projected CRS",
            )
        x0, y0, x1, y1 = map(float, bounds)
        self.center = ((x0 + x1) / 2, (y0 + y1) / 2)
        self.scale = (max((x1 - x0) / 2, 1e-9), max((y1 - y0) / 2, 1e-9))
        to_lonlat = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        u, v = np.meshgrid(np.linspace(-1, 1, 17), np.linspace(-1, 1, 17))
        # checked between the fitting points, where a too-low degree errs most
        cu, cv = np.meshgrid(np.linspace(-1, 1, 16) + 1 / 16, np.linspace(-1, 1, 16) + 1 / 16)
        cu, cv = np.clip(cu, -1, 1), np.clip(cv, -1, 1)
        lon, lat = to_lonlat.transform(*self._unit_to_map(u.ravel(), v.ravel()))
        clon, clat = to_lonlat.transform(*self._unit_to_map(cu.ravel(), cv.ravel()))
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            raise DataError(
                f"cannot be converted to longitude/latitude inside {bounds}",
                variable="crs",
                expected="a projected CRS valid over the scene",
            )
        lon = np.unwrap(np.radians(lon)) * 180 / np.pi  # a scene across the antimeridian
        clon = np.unwrap(np.radians(clon)) * 180 / np.pi
        for degree in range(1, max_degree + 1):
            terms = self._terms(degree)
            a = self._design(u.ravel(), v.ravel(), terms)
            self.lon_coef = np.linalg.lstsq(a, lon, rcond=None)[0]
            self.lat_coef = np.linalg.lstsq(a, lat, rcond=None)[0]
            self.terms = terms
            b = self._design(cu.ravel(), cv.ravel(), terms)
            err = max(
                np.abs(b @ self.lon_coef - clon).max(), np.abs(b @ self.lat_coef - clat).max()
            )
            self.max_error_deg = float(err)
            if err < tolerance:
                break
        else:
            raise DataError(
                f"longitude/latitude cannot be fitted to {tolerance}° over {bounds} "
                f"(best {self.max_error_deg:.2g}°)",
                variable="crs",
                expected="a scene of at most a few hundred kilometres",
            )

    def _unit_to_map(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.center[0] + u * self.scale[0], self.center[1] + v * self.scale[1]

    @staticmethod
    def _terms(degree: int) -> list[tuple[int, int]]:
        return [(i, d - i) for d in range(degree + 1) for i in range(d + 1)]

    @staticmethod
    def _design(u: np.ndarray, v: np.ndarray, terms: list[tuple[int, int]]) -> np.ndarray:
        return np.stack([u**i * v**j for i, j in terms], axis=1)

    def __call__(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) in degrees of map coordinates ``x, y`` (the fitted polynomial)."""
        u = (np.asarray(x, float) - self.center[0]) / self.scale[0]
        v = (np.asarray(y, float) - self.center[1]) / self.scale[1]
        a = self._design(np.atleast_1d(u).ravel(), np.atleast_1d(v).ravel(), self.terms)
        shape = np.shape(u)
        lon = ((a @ self.lon_coef + 180.0) % 360.0 - 180.0).reshape(shape)
        lat = (a @ self.lat_coef).reshape(shape)
        return lon, lat

    def js(self) -> str:
        """JavaScript body ``(x, y) => [lon, lat]`` of the fitted polynomial."""

        def poly(coef: np.ndarray) -> str:
            return " + ".join(
                f"({c!r})*Math.pow(u,{i})*Math.pow(v,{j})"
                for c, (i, j) in zip(coef.tolist(), self.terms, strict=True)
            )

        return (
            f"const u = (x - ({self.center[0]!r})) / {self.scale[0]!r};\n"
            f"const v = (y - ({self.center[1]!r})) / {self.scale[1]!r};\n"
            f"let lon = {poly(self.lon_coef)};\n"
            "lon = ((lon + 180) % 360 + 360) % 360 - 180;\n"
            f"const lat = {poly(self.lat_coef)};\n"
        )

    @staticmethod
    def format_dms(lon: float, lat: float) -> str:
        """``78.31208° N, 15.00000° E``: what the hover shows."""
        return (
            f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, "
            f"{abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"
        )
