"""``workbench.ingest.safe``: a real Sentinel-1 GRD product (SAFE) and DEM to a scene stack.

The product in ``shared/data/sentinel1-grd-rome`` is real (manifest, orbit, annotation,
calibration and noise LUTs, a 30 m DEM), but its measurement GeoTIFF holds only zeros: no
pixel data at all. So:

- on the product as it is, the pipeline must refuse with a clear error (no pixel data);
- for the numbers, the tests write a measurement into a copy of the product: digital
  numbers computed, with code independent of the workbench (raw XML + scipy), from a known
  σ0 field (−10 dB with +5 dB squares) and the product's own calibration and noise LUTs.
  The pipeline must recover σ0 and put the squares where ESA's geolocation grid says.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from workbench.data.stack import open_stack
from workbench.errors import ConfigError, DataError, FileFormatError

pytest.importorskip("xarray_sentinel", reason="needs the 's1' extra (xarray-sentinel, sarsen)")
pytest.importorskip("sarsen", reason="needs the 's1' extra (xarray-sentinel, sarsen)")

from workbench.ingest import safe_calibration  # noqa: E402
from workbench.ingest.safe import stack_from_safe  # noqa: E402
from workbench.ingest.safe_product import open_safe, parse_footprint  # noqa: E402

pytestmark = [
    pytest.mark.shared_data,
    # the tests open and write measurement TIFFs, which are located by the annotation, not a transform
    pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
]

BACKGROUND_DB = -10.0
TARGET_DB = 5.0
TARGET_HALF = 4  # targets are 9 × 9 radar pixels (90 m)
DEM_CELLS = 150  # the DEM crop used for terrain correction: 150 × 150 cells of 1" (~4.5 km)


# ------------------------------------------------------------------ the product, read raw
@pytest.fixture(scope="session")
def rome(sentinel1_rome) -> tuple[Path, Path]:
    folder = sentinel1_rome
    return next(folder.glob("*.SAFE")), folder / "Rome-30m-DEM.tif"


def _vectors(xml: Path, tag: str, values: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lines, pixels, values[line, pixel]) of the LUT vectors of an annotation, parsed raw."""
    root = ElementTree.parse(xml).getroot()
    lines, pixels, table = [], None, []
    for vector in root.iter(tag):
        lines.append(int(vector.findtext("line")))
        row_pixels = np.array(vector.findtext("pixel").split(), int)
        assert pixels is None or np.array_equal(pixels, row_pixels)
        pixels = row_pixels
        table.append(np.array(vector.findtext(values).split(), float))
    return np.array(lines), pixels, np.array(table)


def _lut(xml: Path, tag: str, values: str):
    from scipy.interpolate import RegularGridInterpolator

    lines, pixels, table = _vectors(xml, tag, values)
    return RegularGridInterpolator((lines, pixels), table, bounds_error=False, fill_value=None)


def _azimuth_noise(noise_xml: Path, lines: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    out = np.ones((lines.size, pixels.size))
    for v in ElementTree.parse(noise_xml).getroot().iter("noiseAzimuthVector"):
        l0, l1 = int(v.findtext("firstAzimuthLine")), int(v.findtext("lastAzimuthLine"))
        p0, p1 = int(v.findtext("firstRangeSample")), int(v.findtext("lastRangeSample"))
        az_lines = np.array(v.findtext("line").split(), int)
        lut = np.array(v.findtext("noiseAzimuthLut").split(), float)
        rows, cols = (lines >= l0) & (lines <= l1), (pixels >= p0) & (pixels <= p1)
        out[np.ix_(rows, cols)] = np.interp(lines[rows], az_lines, lut)[:, None]
    return out


def _geolocation(annotation: Path):
    """ESA's geolocation grid: (line, pixel) → (lon, lat, height), bilinear."""
    from scipy.interpolate import RegularGridInterpolator

    points = [
        (
            int(p.findtext("line")),
            int(p.findtext("pixel")),
            float(p.findtext("longitude")),
            float(p.findtext("latitude")),
            float(p.findtext("height")),
        )
        for p in ElementTree.parse(annotation).getroot().iter("geolocationGridPoint")
    ]
    table = np.array(points)
    lines, pixels = np.unique(table[:, 0]), np.unique(table[:, 1])
    grid = np.full((lines.size, pixels.size, 3), np.nan)
    for line, pixel, lon, lat, h in points:
        grid[np.searchsorted(lines, line), np.searchsorted(pixels, pixel)] = (lon, lat, h)
    return RegularGridInterpolator((lines, pixels), grid), table


# ------------------------------------------------------------- inputs written for the tests
@pytest.fixture(scope="session")
def small_dem(rome, tmp_path_factory) -> Path:
    """The centre 150 × 150 cells of the real DEM (a real GeoTIFF, cropped)."""
    _, dem = rome
    out = tmp_path_factory.mktemp("dem") / "rome_small_dem.tif"
    with rasterio.open(dem) as src:
        off = (src.height - DEM_CELLS) // 2
        window = Window(off, off, DEM_CELLS, DEM_CELLS)
        profile = src.profile | {
            "width": DEM_CELLS,
            "height": DEM_CELLS,
            "transform": src.window_transform(window),
            "blockxsize": 128,
            "blockysize": 128,
        }
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(src.read(1, window=window), 1)
    return out


def _copy_safe(
    safe: Path, target: Path, *, skip: tuple[str, ...] = (), measurement: bool = True
) -> Path:
    """A copy of a SAFE folder: small XML files symlinked, the measurement symlinked too
    unless ``measurement=False``; paths containing any of ``skip`` are left out."""
    for path in safe.rglob("*"):
        rel = path.relative_to(safe)
        if path.is_dir() or any(s in str(rel) for s in skip):
            continue
        if not measurement and rel.parts[0] == "measurement":
            continue
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).symlink_to(path)
    return target


@pytest.fixture(scope="session")
def painted(rome, small_dem, tmp_path_factory) -> dict:
    """A copy of the real product whose measurement holds DN computed from a known σ0 field.

    DN² = σ0 · A² + η, with A the sigmaNought LUT and η = noise range LUT × noise azimuth
    LUT, both interpolated bilinearly from the raw XML with scipy (not the workbench's
    code). Background σ0 −10 dB; three 9 × 9 px squares of +5 dB placed (via the inverse of
    ESA's geolocation grid) under the DEM crop.
    """
    from scipy.interpolate import griddata

    safe, _ = rome
    product = open_safe(safe)
    files = product.files["VV"]
    root = tmp_path_factory.mktemp("painted")
    copy = _copy_safe(safe, root / safe.name, measurement=False)
    forward, gcps = _geolocation(files.annotation)
    with rasterio.open(small_dem) as dem:
        w, s, e, n = dem.bounds
    lonlat = gcps[:, [2, 3]]

    def to_radar(lon, lat):
        return (
            float(griddata(lonlat, gcps[:, 0], [(lon, lat)], "linear")[0]),
            float(griddata(lonlat, gcps[:, 1], [(lon, lat)], "linear")[0]),
        )

    corners = np.array([to_radar(x, y) for x, y in ((w, s), (w, n), (e, s), (e, n))])
    l0, p0 = (corners.min(0) - 300).astype(int)
    l1, p1 = (corners.max(0) + 300).astype(int)
    lines, pixels = np.arange(l0, l1), np.arange(p0, p1)
    grid = tuple(np.meshgrid(lines, pixels, indexing="ij"))
    a = _lut(files.calibration, "calibrationVector", "sigmaNought")(grid)
    eta = _lut(files.noise, "noiseRangeVector", "noiseRangeLut")(grid) * _azimuth_noise(
        files.noise, lines, pixels
    )
    sigma0 = np.full(a.shape, 10 ** (BACKGROUND_DB / 10))
    targets = []
    for fx, fy in ((0.5, 0.5), (0.25, 0.7), (0.75, 0.3)):
        line, pixel = (int(round(v)) for v in to_radar(w + fx * (e - w), s + fy * (n - s)))
        sigma0[
            line - l0 - TARGET_HALF : line - l0 + TARGET_HALF + 1,
            pixel - p0 - TARGET_HALF : pixel - p0 + TARGET_HALF + 1,
        ] = 10 ** (TARGET_DB / 10)
        lon, lat, height = forward([(line, pixel)])[0]
        targets.append({"line": line, "pixel": pixel, "lon": lon, "lat": lat, "gcp_height": height})
    dn = np.clip(np.round(np.sqrt(sigma0 * a**2 + eta)), 1, 65534).astype(np.uint16)
    measurement = copy / files.measurement.relative_to(safe)
    measurement.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(files.measurement) as src:
        height, width = src.height, src.width
    with rasterio.open(
        measurement,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="uint16",
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        sparse_ok=True,
    ) as dst:
        dst.write(dn, 1, window=Window(p0, l0, p1 - p0, l1 - l0))
    return {"safe": copy, "dn": dn, "origin": (l0, p0), "targets": targets, "dem": small_dem}


def _run(painted, out: Path, **options) -> dict:
    log = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(log), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        path = stack_from_safe(painted["safe"], out, dem=painted["dem"], **options)
    return {
        "path": path,
        "seconds": time.perf_counter() - start,
        "log": log.getvalue(),
        "warnings": [str(w.message) for w in caught if issubclass(w.category, UserWarning)],
    }


@pytest.fixture(scope="session")
def gtc(painted, tmp_path_factory) -> dict:
    """The painted product through stack_from_safe (σ0, 10 m), run once with progress; the
    DEM's EGM96 heights are used as ellipsoidal (PROJ's geoid grid is not installed here)."""
    return _run(painted, tmp_path_factory.mktemp("stacks"), progress=True)


@pytest.fixture(scope="session")
def gtc_geoid(painted, tmp_path_factory) -> dict:
    """The same with a geoid grid installed for PROJ: a stand-in for us_nga_egm96_15.tif
    (not available offline) holding +48 m everywhere, about EGM96's geoid height at Rome."""
    import pyproj

    folder = tmp_path_factory.mktemp("proj")
    with rasterio.open(
        folder / "us_nga_egm96_15.tif",
        "w",
        driver="GTiff",
        width=361,
        height=181,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=rasterio.transform.from_origin(-180.5, 90.5, 1.0, 1.0),
    ) as dst:
        dst.write(np.full((1, 181, 361), 48.0, np.float32))
        dst.update_tags(TYPE="VERTICAL_OFFSET_GEOGRAPHIC_TO_VERTICAL")
    before = pyproj.datadir.get_data_dir()
    pyproj.datadir.append_data_dir(str(folder))
    try:
        return _run(painted, tmp_path_factory.mktemp("stacks") / "geoid.zarr", progress=False)
    finally:
        pyproj.datadir.set_data_dir(before)


# ------------------------------------------------------------------------------ the tests
@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:.*us_nga_egm96_15.tif is not installed:UserWarning"
)  # tested elsewhere
def test_the_real_product_has_no_pixel_data_and_is_refused_naming_the_measurement(
    rome, small_dem, tmp_path
):
    safe, _ = rome
    with pytest.raises(
        DataError, match=r"holds no pixel data where the DEM lies.*is 0 \(no data\)"
    ) as err:
        stack_from_safe(safe, tmp_path / "rome.zarr", dem=small_dem, progress=False)
    assert "measurement/s1b-iw-grd-vv" in str(err.value)
    assert not (tmp_path / "rome.zarr").exists()


@pytest.mark.slow
def test_stack_is_valid_north_up_utm_with_the_products_per_date_coordinates(gtc, painted):
    ds = open_stack(gtc["path"])  # validates: dims, dB, CRS, regular grid, some data
    assert gtc["path"].name == f"{painted['safe'].name.removesuffix('.SAFE')}_VV.zarr"
    assert ds.sigma0_db.dims == ("time", "y", "x") and ds.sigma0_db.attrs["units"] == "dB"
    assert ds.rio.crs.to_epsg() == 32633
    assert ds.rio.resolution() == (10.0, -10.0)
    assert np.datetime_as_string(ds.time.values[0], "s") == "2021-12-23T05:11:22"
    assert ds.sensor.values.tolist() == ["S1B"] and ds.platform.values.tolist() == ["sentinel-1b"]
    assert ds.orbit.values.tolist() == ["22"] and ds.relative_orbit.values.tolist() == [22]
    assert ds.orbit_direction.values.tolist() == ["descending"]
    assert ds.polarisation.values.tolist() == ["VV"]
    assert ds.product_id.values[0].startswith("S1B_IW_GRDH_1SDV_20211223T051122")
    assert ds.attrs["correction"] == "gtc" and ds.attrs["thermal_noise_removed"] == 1
    # the DEM on the stack's grid, north-up, with its own heights (EGM96), NaN where σ0 is
    assert ds.dem.dims == ("y", "x") and ds.dem.attrs["units"] == "m"
    assert np.array_equal(np.isfinite(ds.dem.values), np.isfinite(ds.sigma0_db.values[0]))
    from pyproj import Transformer

    rows, cols = np.meshgrid(
        np.arange(20, ds.sizes["y"] - 20, 37), np.arange(20, ds.sizes["x"] - 20, 41)
    )
    rows, cols = rows.ravel(), cols.ravel()
    keep = np.isfinite(ds.dem.values[rows, cols])
    lon, lat = Transformer.from_crs(ds.rio.crs, "EPSG:4326", always_xy=True).transform(
        ds.x.values[cols[keep]], ds.y.values[rows[keep]]
    )
    with rasterio.open(painted["dem"]) as dem:
        expected = np.array([v[0] for v in dem.sample(list(zip(lon, lat, strict=False)))], float)
    error = np.abs(ds.dem.values[rows[keep], cols[keep]] - expected)  # bilinear vs the cell's value
    assert keep.sum() > 50 and np.median(error) < 1.5 and error.max() < 8.0
    assert "terrain correction (gtc)" in gtc["log"] and "6/6" in gtc["log"]


@pytest.mark.slow
def test_the_stack_opens_in_the_dashboard_catalogue(gtc):
    from workbench.viz.sources import DataRoots, discover, open_series

    folder = gtc["path"].parent
    roots = DataRoots([folder])
    entry = discover(roots)[folder.name]
    assert entry.kind == "stacks" and entry.glaciers == (gtc["path"].name,)
    series = open_series(entry, gtc["path"].name, roots)
    assert len(series) == 1 and series.label(0) == "2021-12-23 · S1B · orbit 22"
    assert series.crs.to_epsg() == 32633


@pytest.mark.slow
def test_stack_lies_inside_the_manifest_footprint_and_on_the_dem(gtc, painted, rome):
    from pyproj import Transformer
    from shapely.geometry import MultiPoint, Polygon, box

    ds = open_stack(gtc["path"])
    manifest = ElementTree.parse(rome[0] / "manifest.safe").getroot()
    text = next(e.text for e in manifest.iter("{http://www.opengis.net/gml}coordinates"))
    footprint = Polygon(parse_footprint(text))
    to_lonlat = Transformer.from_crs(ds.rio.crs, "EPSG:4326", always_xy=True)
    left, bottom, right, top = ds.rio.bounds()
    xs, ys = np.meshgrid(np.linspace(left, right, 11), np.linspace(bottom, top, 11))
    lon, lat = to_lonlat.transform(xs.ravel(), ys.ravel())
    assert footprint.contains(box(min(lon), min(lat), max(lon), max(lat)))
    # the pixels with data are the DEM's area: inside its box (+ one 10 m pixel), covering it
    with rasterio.open(painted["dem"]) as dem:
        dem_box = box(*dem.bounds)
    rows, cols = np.nonzero(np.isfinite(ds.sigma0_db.values[0]))
    lon, lat = to_lonlat.transform(ds.x.values[cols], ds.y.values[rows])
    assert dem_box.buffer(0.00015).contains(MultiPoint(np.c_[lon, lat]))
    assert MultiPoint(np.c_[lon, lat]).convex_hull.area > 0.98 * dem_box.area


@pytest.mark.slow
def test_sigma0_is_recovered_through_calibration_noise_removal_and_geocoding(gtc):
    db = open_stack(gtc["path"]).sigma0_db.values[0]
    finite = db[np.isfinite(db)]
    assert finite.size > 0.9 * db.size  # the DEM's area (the grid's corners lie outside it)
    background = finite[finite < 0]
    # DN are whole numbers: about ±0.02 dB of rounding at −10 dB
    assert abs(np.median(background) - BACKGROUND_DB) < 0.02
    assert np.percentile(np.abs(background - BACKGROUND_DB), 99) < 0.1
    targets = finite[finite > 0]
    assert abs(np.median(targets) - TARGET_DB) < 0.02
    # three 9 × 9 px squares of 10 m: about 3 × 81 output pixels of 10 m
    assert 150 < targets.size < 350


def _target_errors(path: Path, painted: dict) -> list[float]:
    """Distance (m) from each painted square's position by ESA's geolocation grid to the
    centroid of the nearest bright blob in the stack."""
    from pyproj import Transformer
    from scipy import ndimage

    ds = open_stack(path)
    labels, count = ndimage.label(np.nan_to_num(ds.sigma0_db.values[0], nan=-99) > 0)
    assert count == 3
    to_map = Transformer.from_crs("EPSG:4326", ds.rio.crs, always_xy=True)
    found = [ndimage.center_of_mass(labels == i) for i in range(1, count + 1)]
    found_xy = [
        (
            float(np.interp(c, np.arange(ds.x.size), ds.x)),
            float(np.interp(r, np.arange(ds.y.size), ds.y)),
        )
        for r, c in found
    ]
    errors = []
    for target in painted["targets"]:
        x, y = to_map.transform(target["lon"], target["lat"])
        errors.append(float(min(np.hypot(x - fx, y - fy) for fx, fy in found_xy)))
    return errors


@pytest.mark.slow
def test_targets_land_where_the_products_geolocation_grid_puts_them(gtc, gtc_geoid, painted):
    """sarsen's orbit + DEM geocoding against ESA's geolocation grid (tie points ~20 km apart,
    bilinear, at the tie points' heights, so some metres to tens of metres apart).

    With heights above the ellipsoid (the geoid grid installed) each square lands within
    30 m. Without it the DEM's EGM96 heights are ~48 m too low for the ellipsoid and the
    squares move by ~48 m / tan(44°) ≈ 50 m in ground range; the run warns about it."""
    with_geoid, without = (
        _target_errors(gtc_geoid["path"], painted),
        _target_errors(gtc["path"], painted),
    )
    assert max(with_geoid) < 30.0, with_geoid
    assert np.mean(without) - np.mean(with_geoid) > 20.0, (without, with_geoid)
    assert (
        open_stack(gtc_geoid["path"])
        .attrs["dem_heights"]
        .startswith("EGM96 height converted to ellipsoidal heights by PROJ")
    )
    assert not gtc_geoid["warnings"]
    assert open_stack(gtc["path"]).attrs["dem_heights"] == (
        "EGM96 height used as ellipsoidal heights (PROJ geoid grid us_nga_egm96_15.tif not installed)"
    )
    assert any(
        "us_nga_egm96_15.tif is not installed" in w and "rome_small_dem.tif" in w
        for w in gtc["warnings"]
    )


def _crop(painted, size: int = 64):
    import xarray as xr

    product = open_safe(painted["safe"])
    measurement = xr.open_dataset(str(product.path), engine="sentinel-1", group="IW/VV")[
        "measurement"
    ]
    l0, p0 = painted["origin"]
    return product, measurement.isel(
        azimuth_time=slice(l0, l0 + size), ground_range=slice(p0, p0 + size)
    ).load()


@pytest.mark.slow
def test_calibration_matches_xarray_sentinel_and_the_raw_luts_to_float_precision(painted):
    from xarray_sentinel import sentinel1

    product, crop = _crop(painted)
    files = product.files["VV"]
    ours = safe_calibration.calibrate(crop, files.calibration, quantity="sigma0")
    lut = sentinel1.open_calibration_dataset(str(files.calibration))["sigmaNought"]
    reference = sentinel1.calibrate_intensity(crop, lut)
    assert np.isfinite(ours.values).all()
    np.testing.assert_allclose(ours.values, reference.values, rtol=1e-6)
    # independently: σ0 = DN² / A² at a pixel column of the LUT grid (A from the raw XML)
    lines, pixels, table = _vectors(files.calibration, "calibrationVector", "sigmaNought")
    column = pixels[(pixels >= crop.pixel.values[0]) & (pixels <= crop.pixel.values[-1])][0]
    j = int(np.flatnonzero(crop.pixel.values == column)[0])
    a = np.interp(crop.line.values, lines, table[:, np.flatnonzero(pixels == column)[0]])
    np.testing.assert_allclose(
        ours.values[:, j], crop.values[:, j].astype(float) ** 2 / a**2, rtol=1e-5
    )


@pytest.mark.slow
def test_noise_removal_subtracts_the_products_noise_luts(painted):
    product, crop = _crop(painted)
    files = product.files["VV"]
    raw = safe_calibration.calibrate(crop, files.calibration).values
    clean = safe_calibration.calibrate(crop, files.calibration, noise_xml=files.noise).values
    lines, pixels, noise = _vectors(files.noise, "noiseRangeVector", "noiseRangeLut")
    column = pixels[(pixels >= crop.pixel.values[0]) & (pixels <= crop.pixel.values[-1])][0]
    j = int(np.flatnonzero(crop.pixel.values == column)[0])
    points = np.c_[crop.line.values, np.full(crop.line.size, column)]
    a = _lut(files.calibration, "calibrationVector", "sigmaNought")(points)
    eta = (
        np.interp(crop.line.values, lines, noise[:, np.flatnonzero(pixels == column)[0]])
        * _azimuth_noise(files.noise, crop.line.values, np.array([column]))[:, 0]
    )
    np.testing.assert_allclose(raw[:, j] - clean[:, j], eta / a**2, rtol=1e-4)
    nesz = 10 * np.log10(eta / a**2)
    # the product's noise-equivalent σ0 here (in IW3): about −30 dB; IW spans −35..−20 dB
    assert -35 < nesz.min() and nesz.max() < -20, (nesz.min(), nesz.max())


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore:.*us_nga_egm96_15.tif is not installed:UserWarning"
)  # tested elsewhere
def test_rtc_gives_gamma0_above_sigma0_by_the_incidence_angle_on_gentle_terrain(
    painted, gtc, tmp_path
):
    """γ0 (terrain-flattened) vs σ0 over the gentle Roman terrain: γ0 ≈ σ0 / cos θ, i.e.
    about +1.1 dB at θ ≈ 39° (the annotation's incidenceAngleMidSwath is 38.9°; Rome lies in
    IW3, ~44°, so +1.0..+1.5 dB)."""
    path = stack_from_safe(
        painted["safe"], tmp_path / "rtc.zarr", dem=painted["dem"], correction="rtc", progress=False
    )
    gamma0 = open_stack(path).sigma0_db.values[0]
    sigma0 = open_stack(gtc["path"]).sigma0_db.values[0]
    both = np.isfinite(gamma0) & np.isfinite(sigma0) & (sigma0 < 0)
    difference = np.median(gamma0[both] - sigma0[both])
    assert 1.0 < difference < 1.8, difference
    # no bright artefacts where the DEM ends (its edge is trimmed): only the three squares
    from scipy import ndimage

    assert ndimage.label(np.nan_to_num(gamma0, nan=-99) > 0)[1] == 3
    assert np.isnan(gamma0[:3]).all() and np.isfinite(gamma0).mean() > 0.8


@pytest.mark.slow
def test_workbench_stack_safe_on_the_command_line(painted, tmp_path, capsys):
    from workbench.cli import main

    with pytest.warns(
        UserWarning,
        match=r"rome_small_dem.tif: heights are EGM96 heights, but PROJ's "
        r"geoid grid us_nga_egm96_15.tif is not installed",
    ):
        code = main(
            [
                "stack",
                "--safe",
                str(painted["safe"]),
                "--dem",
                str(painted["dem"]),
                "--resolution",
                "30",
                "--crs",
                "EPSG:32633",
                "--out",
                str(tmp_path / "stacks"),
            ]
        )
    assert code == 0
    written = tmp_path / "stacks" / f"{painted['safe'].name.removesuffix('.SAFE')}_VV.zarr"
    assert f"wrote {written}" in capsys.readouterr().out
    ds = open_stack(written)
    assert ds.rio.resolution() == (30.0, -30.0) and ds.rio.crs.to_epsg() == 32633
    assert abs(float(np.nanmedian(ds.sigma0_db.values)) - BACKGROUND_DB) < 0.05


# ------------------------------------------------------------------------------ bad inputs
def test_a_missing_extra_names_the_extra_to_install(monkeypatch, rome, tmp_path):
    monkeypatch.setitem(sys.modules, "sarsen", None)  # what an environment without it gives
    with pytest.raises(ConfigError, match=r"needs sarsen.*pip install 'glacier-workbench\[s1\]'"):
        stack_from_safe(rome[0], tmp_path / "x.zarr", dem=rome[1])


def test_a_safe_folder_without_its_annotation_names_the_missing_file(rome, tmp_path):
    copy = _copy_safe(rome[0], tmp_path / rome[0].name, skip=("annotation/s1b-iw-grd-vv",))
    with pytest.raises(
        DataError, match=r"the VV files are missing: annotation annotation/s1b-iw-grd-vv"
    ):
        stack_from_safe(copy, tmp_path / "x.zarr", dem=rome[1])
    assert not (tmp_path / "x.zarr").exists()


def test_a_safe_folder_without_its_measurement_names_the_missing_file(rome, tmp_path):
    copy = _copy_safe(rome[0], tmp_path / rome[0].name, measurement=False)
    with pytest.raises(DataError, match=r"missing: measurement measurement/s1b-iw-grd-vv-.*\.tiff"):
        stack_from_safe(copy, tmp_path / "x.zarr", dem=rome[1], polarisation="VV")


def test_a_polarisation_the_product_lacks_is_refused_with_the_ones_it_has(rome, tmp_path):
    with pytest.raises(
        DataError,
        match=r"has no HH polarisation \(manifest.safe lists VH, VV\).*expected one of VV",
    ):
        stack_from_safe(rome[0], tmp_path / "x.zarr", dem=rome[1], polarisation="hh")
    # VH is listed in the manifest, but its files were not shipped with this copy
    with pytest.raises(
        DataError, match=r"the VH files are missing: annotation .*measurement.*or polarisation VV"
    ):
        stack_from_safe(rome[0], tmp_path / "x.zarr", dem=rome[1], polarisation="VH")


def test_a_dem_that_does_not_cover_the_scene_names_both_extents(rome, tmp_path):
    dem = tmp_path / "alps.tif"
    with rasterio.open(
        dem,
        "w",
        driver="GTiff",
        width=10,
        height=10,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=rasterio.transform.from_origin(7.0, 46.5, 0.01, 0.01),
    ) as dst:
        dst.write(np.full((1, 10, 10), 1500.0, np.float32))
    with pytest.raises(
        DataError,
        match=r"alps.tif: variable '--dem' does not cover the scene: the DEM "
        r"spans lon 7.0000..7.1000, lat 46.4000..46.5000; the product "
        r"footprint in manifest.safe spans lon 11.8657..15.3219, lat 40.8767..42.7804",
    ):
        stack_from_safe(rome[0], tmp_path / "x.zarr", dem=dem)
    assert not (tmp_path / "x.zarr").exists()


def test_other_bad_inputs_get_clear_errors(rome, tmp_path):
    safe, dem = rome
    with pytest.raises(ConfigError, match=r"'--dem' no DEM was given \(expected a DEM GeoTIFF"):
        stack_from_safe(safe, tmp_path / "x.zarr")
    with pytest.raises(
        DataError, match=r"nowhere.SAFE: does not exist \(expected a Sentinel-1 product folder"
    ):
        stack_from_safe(tmp_path / "nowhere.SAFE", tmp_path / "x.zarr", dem=dem)
    (tmp_path / "empty.SAFE").mkdir()
    with pytest.raises(DataError, match=r"empty.SAFE: has no manifest.safe"):
        stack_from_safe(tmp_path / "empty.SAFE", tmp_path / "x.zarr", dem=dem)
    with pytest.raises(DataError, match=r"missing.tif: variable '--dem' does not exist"):
        stack_from_safe(safe, tmp_path / "x.zarr", dem=tmp_path / "missing.tif")
    with pytest.raises(ConfigError, match=r"'correction' is 'sar'"):
        stack_from_safe(safe, tmp_path / "x.zarr", dem=dem, correction="sar")
    with pytest.raises(ConfigError, match=r"'crs' is 'EPSG:4326', which is not a projected CRS"):
        stack_from_safe(safe, tmp_path / "x.zarr", dem=dem, crs="EPSG:4326")
    with pytest.raises(
        ConfigError, match=r"'resolution' is -10 \(expected a pixel size in metres > 0"
    ):
        stack_from_safe(safe, tmp_path / "x.zarr", dem=dem, resolution=-10)


def test_an_slc_product_and_a_broken_annotation_are_refused(rome, tmp_path):
    safe, dem = rome
    slc = _copy_safe(safe, tmp_path / "slc" / safe.name, skip=("manifest.safe",))
    text = (safe / "manifest.safe").read_text()
    (slc / "manifest.safe").write_text(
        text.replace("<s1sarl1:productType>GRD<", "<s1sarl1:productType>SLC<")
    )
    with pytest.raises(
        DataError, match=r"variable 'product type' is a SLC product \(expected a Level-1 GRD"
    ):
        stack_from_safe(slc, tmp_path / "x.zarr", dem=dem)
    broken = _copy_safe(safe, tmp_path / "broken" / safe.name, skip=("annotation/s1b-iw-grd-vv",))
    annotation = next((safe / "annotation").glob("s1b-iw-grd-vv*.xml"))
    (broken / "annotation" / annotation.name).write_text(annotation.read_text()[:5000])
    with pytest.raises(
        FileFormatError,
        match=r"s1b-iw-grd-vv-.*\.xml: cannot be read as a Sentinel-1 product annotation",
    ):
        stack_from_safe(broken, tmp_path / "x.zarr", dem=dem)
