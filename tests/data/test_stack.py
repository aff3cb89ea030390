"""Scene stack data model: readers, writers, validation, errors (tiny synthetic stacks)."""

from __future__ import annotations

import re
from pathlib import Path

import dask
import dask.array
import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.transform import from_origin

from workbench.data import stack as stack_module
from workbench.data.stack import (
    DATE_PATTERNS,
    open_stack,
    parse_date_from_name,
    validate_stack,
    write_stack,
)
from workbench.errors import DataError, FileFormatError, LabelEncodingError, StackValidationError

DATES = np.array(["2019-04-12", "2019-04-24", "2019-05-06"], dtype="datetime64[ns]")
CRS = "EPSG:32633"
X0, Y0, RES = 500_000.0, 8_700_000.0, 20.0
S1_NAME = "S1A_IW_GRDH_1SDH_20190412T071232_20190412T071257_026752_030194_ABCD.tif"


def make_stack(
    ntime: int = 3, size: int = 32, *, seed: int = 0, extras: bool = False
) -> xr.Dataset:
    """A (time, y, x) stack of realistic dB values with a few NaN pixels, 20 m UTM 33N grid."""
    rng = np.random.default_rng(seed)
    sigma0 = rng.normal(-12.0, 4.0, (ntime, size, size)).astype(np.float32)
    sigma0[:, 0, :3] = np.nan
    coords = {
        "time": DATES[:ntime],
        "y": Y0 - RES / 2 - RES * np.arange(size),
        "x": X0 + RES / 2 + RES * np.arange(size),
    }
    ds = xr.Dataset(
        {"sigma0_db": (("time", "y", "x"), sigma0, {"units": "dB"})},
        coords=coords,
        attrs={"glacier": "Test Glacier"},
    )
    if extras:
        ds["coherence"] = (("time", "y", "x"), rng.uniform(0, 1, sigma0.shape).astype(np.float32))
        ds["optical"] = (("band", "y", "x"), rng.uniform(0, 1, (3, size, size)).astype(np.float32))
        ds["dem"] = (
            ("y", "x"),
            rng.uniform(0, 900, (size, size)).astype(np.float32),
            {"units": "m"},
        )
        ds["zones"] = (("time", "y", "x"), rng.integers(0, 4, sigma0.shape).astype(np.uint8))
        ds["front"] = (("time", "y", "x"), rng.integers(0, 2, sigma0.shape).astype(np.uint8))
        ds = ds.assign_coords(
            band=["B4", "B3", "B2"],
            sensor=("time", ["S1A", "S1B", "S1A"][:ntime]),
            orbit=("time", np.array([25, 25, 127][:ntime])),
        )
    return ds.rio.write_crs(CRS)


def write_tif(
    path: Path,
    data: np.ndarray,
    *,
    transform=None,
    crs=CRS,
    tags=None,
    band_tags=None,
    descriptions=None,
) -> Path:
    """Write a raw GeoTIFF (bands, y, x) with optional dataset/band tags and band descriptions."""
    data = np.asarray(data, dtype=np.float32)
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype="float32",
        crs=crs,
        nodata=np.nan,
        transform=transform or from_origin(X0, Y0, RES, RES),
    ) as dst:
        dst.write(data)
        if tags:
            dst.update_tags(**tags)
        for band, text in enumerate(descriptions or [], start=1):
            dst.set_band_description(band, text)
        for band, values in enumerate(band_tags or [], start=1):
            dst.update_tags(band, **values)
    return path


def assert_same_stack(a: xr.Dataset, b: xr.Dataset, variables=("sigma0_db",)) -> None:
    np.testing.assert_array_equal(a["time"].values, b["time"].values)
    assert a.rio.crs == b.rio.crs
    assert a.rio.transform().almost_equals(b.rio.transform())
    for name in variables:
        np.testing.assert_array_equal(a[name].values, b[name].values)


@pytest.fixture
def stack() -> xr.Dataset:
    return make_stack()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------ date parsing
@pytest.mark.parametrize(
    "name, expected",
    [
        (S1_NAME, "2019-04-12T07:12:32"),
        ("x_2019-04-24.tif", "2019-04-24"),
        ("anything_20190412.tif", "2019-04-12"),
        (
            "/data/2018/jac_20191332_20190501.tif",
            "2019-05-01",
        ),  # invalid token skipped, folder ignored
        ("scene_123456789_2020-02-29.tiff", "2020-02-29"),
    ],
)
def test_parse_date_from_name(name, expected):
    assert parse_date_from_name(name) == np.datetime64(expected, "ns")


@pytest.mark.parametrize(
    "name", ["scene.tif", "x_2019-02-30.tif", "id_123456789.tif", "x_1234-01-01.tif"]
)
def test_parse_date_from_name_none(name):
    assert parse_date_from_name(name) is None


# -------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_round_trip_xarray_formats(tmp_path, suffix):
    ds = make_stack(extras=True)
    out = write_stack(ds, tmp_path / f"jac{suffix}")
    back = open_stack(out)
    assert_same_stack(
        ds, back, variables=("sigma0_db", "coherence", "optical", "dem", "zones", "front")
    )
    assert isinstance(back.sigma0_db.data, dask.array.Array)
    assert back.sigma0_db.dtype == np.float32 and back.sigma0_db.attrs["units"] == "dB"
    assert back.zones.dtype == np.uint8
    assert list(back.band.values) == ["B4", "B3", "B2"]
    assert list(back.sensor.values) == ["S1A", "S1B", "S1A"] and list(back.orbit.values) == [
        25,
        25,
        127,
    ]
    assert back.attrs["glacier"] == "Test Glacier"
    assert listing(tmp_path) == [out.name]


def test_round_trip_multiband_geotiff(tmp_path, stack):
    out = write_stack(stack, tmp_path / "jac.tif")
    assert listing(tmp_path) == ["jac.dates.csv", "jac.tif"]
    with rasterio.open(out) as src:
        assert src.count == 3
        assert src.descriptions == ("2019-04-12", "2019-04-24", "2019-05-06")
        assert src.tags(2)["DATE"] == "2019-04-24"
    back = open_stack(out)
    assert_same_stack(stack, back)
    assert back.sigma0_db.dims == ("time", "y", "x")


def test_multiband_geotiff_dates_from_sidecar_csv(tmp_path, stack):
    path = write_tif(tmp_path / "raw.tif", stack.sigma0_db.values)  # no tags, no descriptions
    with pytest.raises(
        DataError, match=r"raw\.tif: has no date for bands \[1, 2, 3\].*raw\.dates\.csv"
    ):
        open_stack(path)
    (tmp_path / "raw.dates.csv").write_text("band,date\n2,2019-04-24\n1,2019-04-12\n3,20190506\n")
    assert_same_stack(stack, open_stack(path))


def test_multiband_geotiff_dates_from_band_tags(tmp_path, stack):
    path = write_tif(
        tmp_path / "tagged.tif",
        stack.sigma0_db.values,
        band_tags=[{"DATE": "2019:04:12 00:00:00"}, {"DATE": "2019-04-24"}, {"DATE": "2019-05-06"}],
    )
    assert_same_stack(stack, open_stack(path))


def test_round_trip_folder(tmp_path, stack):
    out = write_stack(stack, tmp_path / "jac", format="folder")
    assert listing(out) == [
        "Test_Glacier_2019-04-12.tif",
        "Test_Glacier_2019-04-24.tif",
        "Test_Glacier_2019-05-06.tif",
    ]
    assert listing(tmp_path) == ["jac"]
    back = open_stack(out)
    assert_same_stack(stack, back)
    assert back.source.values[1] == str(out / "Test_Glacier_2019-04-24.tif")
    assert isinstance(
        open_stack(out, chunks=None).sigma0_db.data, np.ndarray
    )  # chunks=None: in memory


def test_round_trip_folder_keeps_time_of_day(tmp_path):
    ds = make_stack(ntime=2).assign_coords(
        time=np.array(["2019-04-12T07:12:32", "2019-04-24"], dtype="datetime64[ns]")
    )
    ds.attrs = {}
    out = write_stack(ds, tmp_path / "s1", format="folder")
    assert listing(out) == ["stack_20190412T071232.tif", "stack_20190424T000000.tif"]
    assert_same_stack(ds, open_stack(out))


def test_folder_dates_from_names_and_tags(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    values = stack.sigma0_db.values
    write_tif(folder / "x_2019-05-06.tif", values[2])
    write_tif(folder / S1_NAME, values[0])
    write_tif(
        folder / "undated_scene.tif", values[1], tags={"TIFFTAG_DATETIME": "2019:04:24 07:12:40"}
    )
    (folder / "notes.txt").write_text("not a raster")
    ds = open_stack(folder)
    expected = np.array(
        ["2019-04-12T07:12:32", "2019-04-24T07:12:40", "2019-05-06"], dtype="datetime64[ns]"
    )
    np.testing.assert_array_equal(ds.time.values, expected)
    np.testing.assert_array_equal(ds.sigma0_db.values, values)
    assert [Path(s).name for s in ds.source.values] == [
        S1_NAME,
        "undated_scene.tif",
        "x_2019-05-06.tif",
    ]
    assert isinstance(ds.sigma0_db.data, dask.array.Array)


def test_folder_acquisition_date_tag_wins_over_tiff_datetime(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(
        folder / "a.tif",
        stack.sigma0_db.values[0],
        tags={
            "ACQUISITION_DATE": "2019-04-12T07:00:00Z",
            "TIFFTAG_DATETIME": "2023:01:01 00:00:00",
        },
    )
    assert open_stack(folder).time.values[0] == np.datetime64("2019-04-12T07:00:00", "ns")


def test_align_reprojects_onto_first_grid(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    values = stack.sigma0_db.values
    write_tif(folder / "a_2019-04-12.tif", values[0])
    # the second date is shifted one pixel east and two rows shorter
    write_tif(
        folder / "b_2019-04-24.tif",
        values[1][:30, :],
        transform=from_origin(X0 + RES, Y0, RES, RES),
    )
    with pytest.raises(
        StackValidationError,
        match=r"b_2019-04-24\.tif: is on another grid than a_2019-04-12\.tif: shape \(30, 32\)"
        r".*expected .*align=True",
    ):
        open_stack(folder)
    ds = open_stack(folder, align=True)
    assert ds.sigma0_db.shape == (2, 32, 32)
    assert ds.rio.transform().almost_equals(from_origin(X0, Y0, RES, RES))
    aligned = ds.sigma0_db.values[1]
    np.testing.assert_array_equal(aligned[:30, 1:], values[1][:30, :31])  # moved one pixel east
    assert np.isnan(aligned[:, 0]).all() and np.isnan(aligned[30:]).all()


def test_folder_with_another_crs_is_refused(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(folder / "a_2019-04-12.tif", stack.sigma0_db.values[0])
    write_tif(folder / "b_2019-04-24.tif", stack.sigma0_db.values[1], crs="EPSG:32632")
    with pytest.raises(
        StackValidationError, match=r"b_2019-04-24\.tif: is on another grid .*CRS EPSG:32632"
    ):
        open_stack(folder)


# ---------------------------------------------------------------------------- units and laziness
def test_linear_units_are_converted_lazily(tmp_path, stack):
    linear = stack.copy()
    linear["sigma0_db"] = 10 ** (stack.sigma0_db / 10)
    linear.sigma0_db.attrs = {"units": "linear"}
    path = tmp_path / "linear.nc"
    linear.to_netcdf(path)
    with pytest.raises(
        StackValidationError, match=r"linear\.nc: variable 'sigma0_db' is labelled units='linear'"
    ):
        open_stack(path)
    ds = open_stack(path, units="linear")
    assert isinstance(ds.sigma0_db.data, dask.array.Array)
    assert ds.sigma0_db.attrs["units"] == "dB"
    np.testing.assert_allclose(ds.sigma0_db.values, stack.sigma0_db.values, rtol=1e-5, atol=1e-4)


def test_dB_declared_as_linear_is_refused(tmp_path, stack):
    out = write_stack(stack, tmp_path / "jac.tif")
    with pytest.raises(
        StackValidationError, match=r"jac\.tif: variable 'sigma0_db' looks like dB, not linear"
    ):
        open_stack(out, units="linear")


def test_zarr_stack_is_lazy_and_windows_load_only_their_chunks(tmp_path, stack):
    out = write_stack(stack.chunk({"time": 1, "y": 16, "x": 16}), tmp_path / "jac.zarr")
    ds = open_stack(out, chunks={})
    assert isinstance(ds.sigma0_db.data, dask.array.Array)
    assert ds.sigma0_db.chunks == ((1, 1, 1), (16, 16), (16, 16))
    window = ds.isel(y=slice(0, 8), x=slice(16, 28))
    assert window.sigma0_db.data.npartitions == 3  # one chunk per date, not all 12
    np.testing.assert_array_equal(window.sigma0_db.values, stack.sigma0_db.values[:, :8, 16:28])
    assert isinstance(open_stack(out).sigma0_db.data, dask.array.Array)  # chunks="auto" too


def test_validation_computes_once_and_stays_lazy(monkeypatch, stack):
    calls = []
    compute = dask.compute

    def counting(*args, **kwargs):
        calls.append(len(args))
        return compute(*args, **kwargs)

    monkeypatch.setattr(dask, "compute", counting)
    lazy = make_stack(extras=True).chunk({"time": 1})
    checked = validate_stack(lazy)
    assert len(calls) == 1 and calls[0] >= 5
    assert isinstance(checked.sigma0_db.data, dask.array.Array)


def test_validate_canonicalises_order_and_time(stack):
    shuffled = stack.isel(time=[2, 0, 1]).transpose("x", "y", "time")
    shuffled = shuffled.assign_coords(time=shuffled.time.values.astype("datetime64[s]"))
    checked = validate_stack(shuffled)
    assert checked.sigma0_db.dims == ("time", "y", "x")
    assert checked.time.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(checked.time.values, DATES)


# --------------------------------------------------------------------------------- atomicity
@pytest.mark.parametrize("target, fmt", [("jac", "folder"), ("jac.tif", None)])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, stack, target, fmt):
    calls = []
    real = stack_module._write_bands

    def fail_on_second(path, sigma0, *, driver):
        calls.append(path)
        if len(calls) == 2 or fmt is None:
            Path(path).write_bytes(b"half")  # something partly written, then the failure
            raise RuntimeError("disk full")
        real(path, sigma0, driver=driver)

    monkeypatch.setattr(stack_module, "_write_bands", fail_on_second)
    with pytest.raises(RuntimeError, match="disk full"):
        write_stack(stack, tmp_path / target, format=fmt)
    assert listing(tmp_path) == []


def test_failed_overwrite_keeps_the_old_store(tmp_path, monkeypatch, stack):
    out = write_stack(stack, tmp_path / "jac.zarr")

    def broken(self, store, **kwargs):
        Path(store).mkdir()
        (Path(store) / "partial").write_text("x")
        raise OSError("interrupted")

    monkeypatch.setattr(xr.Dataset, "to_zarr", broken)
    with pytest.raises(OSError, match="interrupted"):
        write_stack(make_stack(seed=1), out)
    monkeypatch.undo()
    assert listing(tmp_path) == ["jac.zarr"]
    assert_same_stack(stack, open_stack(out))


# ------------------------------------------------------------------------------ reading errors
def test_truncated_geotiff(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    good = write_tif(tmp_path / "full.tif", np.random.default_rng(0).normal(-12, 4, (64, 64)))
    data = good.read_bytes()
    (folder / "cut_2019-04-12.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        FileFormatError, match=r"cut_2019-04-12\.tif: is truncated.*expected a complete GeoTIFF"
    ):
        open_stack(folder)


def test_truncated_geotiff_header(tmp_path):
    good = write_tif(tmp_path / "full.tif", np.zeros((8, 8)))
    (tmp_path / "cut.tif").write_bytes(good.read_bytes()[:100])
    with pytest.raises(
        FileFormatError,
        match=r"cut\.tif: cannot be read as a GeoTIFF .*expected a complete, readable",
    ):
        open_stack(tmp_path / "cut.tif")


def test_text_file_named_tif(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "x_2019-04-12.tif").write_text("this is not a raster\n")
    with pytest.raises(FileFormatError, match=r"x_2019-04-12\.tif: cannot be read as a GeoTIFF"):
        open_stack(folder)


@pytest.mark.parametrize("content", [[], ["readme.txt"]])
def test_folder_without_geotiffs(tmp_path, content):
    folder = tmp_path / "scenes"
    folder.mkdir()
    for name in content:
        (folder / name).write_text("x")
    with pytest.raises(
        DataError, match=rf"{re.escape(str(folder))}: holds no GeoTIFF files .*expected one GeoTIFF"
    ):
        open_stack(folder)


def test_nonexistent_path(tmp_path):
    with pytest.raises(
        DataError, match=r"missing\.zarr: does not exist \(expected a folder of per-date GeoTIFFs"
    ):
        open_stack(tmp_path / "missing.zarr")


def test_unknown_suffix(tmp_path):
    (tmp_path / "scene.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(FileFormatError, match=r"scene\.jpg: has an unknown suffix '\.jpg'"):
        open_stack(tmp_path / "scene.jpg")


def test_corrupt_zarr(tmp_path):
    (tmp_path / "bad.zarr").mkdir()
    (tmp_path / "bad.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(FileFormatError, match=r"bad\.zarr: cannot be read as Zarr"):
        open_stack(tmp_path / "bad.zarr")


def test_undated_file_in_folder(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(folder / "a_2019-04-12.tif", stack.sigma0_db.values[0])
    write_tif(folder / "scene_b.tif", stack.sigma0_db.values[1])
    with pytest.raises(DataError, match=r"scene_b\.tif: has no date in its name or tags") as info:
        open_stack(folder)
    for pattern in DATE_PATTERNS:
        assert pattern in str(info.value)


def test_missing_variable_in_file(tmp_path, stack):
    path = tmp_path / "jac.nc"
    stack.rename(sigma0_db="backscatter").to_netcdf(path)
    with pytest.raises(
        StackValidationError, match=r"jac\.nc: variable 'sigma0_db' is missing .*\['backscatter'\]"
    ):
        open_stack(path)
    assert "sigma0_db" in open_stack(path, variable="backscatter")


# --------------------------------------------------------------------------- validation errors
def test_missing_crs(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(folder / "a_2019-04-12.tif", stack.sigma0_db.values[0], crs=None)
    with pytest.raises(
        StackValidationError,
        match=rf"{re.escape(str(folder))}: variable 'sigma0_db' has no CRS \(expected a CRS",
    ):
        open_stack(folder)


def test_duplicate_dates_name_the_files(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(folder / "a_2019-04-12.tif", stack.sigma0_db.values[0])
    write_tif(folder / "b_20190412.tif", stack.sigma0_db.values[1])
    with pytest.raises(
        StackValidationError,
        match=r"variable 'time' has duplicate dates: 2019-04-12 \(file .*a_2019-04-12\.tif\), "
        r"2019-04-12 \(file .*b_20190412\.tif\) \(expected one scene per date\)",
    ):
        open_stack(folder)


def test_time_not_datetime(stack):
    bad = stack.assign_coords(time=["2019-04-12", "2019-04-24", "2019-05-06"])
    with pytest.raises(
        StackValidationError,
        match=r"s\.zarr: variable 'time' has <U10 values .*expected datetime64",
    ):
        validate_stack(bad, path="s.zarr")


def test_all_nodata_date_names_date_and_file(tmp_path, stack):
    folder = tmp_path / "scenes"
    folder.mkdir()
    write_tif(folder / "a_2019-04-12.tif", stack.sigma0_db.values[0])
    write_tif(folder / "b_2019-04-24.tif", np.full((32, 32), np.nan))
    with pytest.raises(
        StackValidationError,
        match=r"variable 'sigma0_db' is all nodata on 2019-04-24 \(file .*b_2019-04-24\.tif\) "
        r"\(expected some valid",
    ):
        open_stack(folder)


def test_infinite_values(stack):
    bad = stack.copy(deep=True)
    bad.sigma0_db.values[1, 5, 5] = -np.inf
    with pytest.raises(
        StackValidationError,
        match=r"s\.nc: variable 'sigma0_db' holds 1 infinite values on 2019-04-24 \(expected finite",
    ):
        validate_stack(bad, path="s.nc")


@pytest.mark.parametrize(
    "transform, message",
    [
        (lambda v: 10 ** (v / 10), r"looks like linear intensity, not dB: all \d+ values are >= 0"),
        (
            lambda v: v + 200,
            r"looks like digital numbers or amplitudes, not dB: 100% of the values are above 50",
        ),
    ],
)
def test_linear_or_raw_values_declared_dB(stack, transform, message):
    bad = stack.copy(deep=True)
    bad["sigma0_db"] = transform(bad.sigma0_db)
    with pytest.raises(
        StackValidationError, match=rf"s\.zarr: variable 'sigma0_db' {message}.*expected dB values"
    ):
        validate_stack(bad, path="s.zarr")


def test_optical_must_be_band_y_x(stack):
    bad = stack.assign(optical=(("time", "y", "x"), np.zeros((3, 32, 32), np.float32)))
    with pytest.raises(
        StackValidationError,
        match=r"variable 'optical' has dims \('time', 'y', 'x'\) \(expected dims \('band', 'y', 'x'\)",
    ):
        validate_stack(bad, path="s.zarr")
    no_names = stack.assign(optical=(("band", "y", "x"), np.zeros((3, 32, 32), np.float32)))
    with pytest.raises(StackValidationError, match=r"variable 'optical' has no 'band' coordinate"):
        validate_stack(no_names)


def test_coherence_outside_unit_interval(stack):
    bad = stack.assign(coherence=(("time", "y", "x"), np.full((3, 32, 32), 1.2, np.float32)))
    with pytest.raises(
        StackValidationError,
        match=r"s\.zarr: variable 'coherence' ranges 1\.2\.\.1\.2 \(expected values within \[0, 1\]",
    ):
        validate_stack(bad, path="s.zarr")


def test_zones_with_caffe_values(stack):
    bad = stack.assign(zones=(("time", "y", "x"), np.full((3, 32, 32), 127, np.uint8)))
    with pytest.raises(
        LabelEncodingError, match=r"variable 'zones' ranges 127\.\.127 \(expected class ids 0\.\.3"
    ):
        validate_stack(bad, path="s.zarr")


def test_missing_sigma0_and_wrong_dims(stack):
    with pytest.raises(
        StackValidationError, match=r"variable 'sigma0_db' is missing \(the stack has \['vv'\]\)"
    ):
        validate_stack(stack.rename(sigma0_db="vv"))
    with pytest.raises(
        StackValidationError, match=r"variable 'sigma0_db' has dims \('time', 'y'\)"
    ):
        validate_stack(stack.isel(x=0))


def test_irregular_grid_points_to_align(stack):
    bad = stack.assign_coords(x=stack.x.values + np.r_[0, 0, 5, np.zeros(29)])
    with pytest.raises(
        StackValidationError, match=r"variable 'x' is not evenly spaced .*align=True"
    ):
        validate_stack(bad)


def test_zarr_store_is_chunked_per_date(tmp_path, stack):
    """A window of a Zarr stack reads only the chunks it touches: one date per chunk."""
    path = write_stack(stack, tmp_path / "chunked.zarr")
    ds = open_stack(path, chunks={})
    assert ds["sigma0_db"].data.chunksize[0] == 1
    assert ds["sigma0_db"].data.numblocks[0] == stack.sizes["time"]
