"""Raster products: COG layout, georeferencing and values survive a round trip."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rioxarray
import xarray as xr
from affine import Affine

from workbench.errors import DataError, LabelEncodingError
from workbench.geo.rasters import (
    validate_cog,
    write_cog,
    write_confidence_cog,
    write_mask_cog,
    write_uncertainty_cog,
    write_zones_cog,
)

T = Affine(20.0, 0.0, 500000.0, 0.0, -20.0, 8700000.0)


def _is_cog(path) -> bool:
    with rasterio.open(path) as src:
        return src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_zones_cog_round_trip_with_rioxarray(tmp_path, glacier):
    ds = glacier.stack
    zones = ds.zones.isel(time=0)
    out = write_zones_cog(zones, tmp_path / "zones.tif")
    da = rioxarray.open_rasterio(out)
    assert da.rio.crs.to_epsg() == 32633
    assert da.rio.transform() == ds.rio.transform()
    assert np.allclose(da.x.values, ds.x.values) and np.allclose(da.y.values, ds.y.values)
    assert da.dtype == np.uint8
    assert set(np.unique(da.values)) <= {0, 64, 127, 254}
    expected = np.asarray([0, 64, 127, 254], np.uint8)[zones.values]
    assert (da.values[0] == expected).all()
    with rasterio.open(out) as src:
        assert src.nodata == 0 and src.descriptions == ("zones",)
    assert _is_cog(out)


def test_time_series_bands_are_named_by_date(tmp_path, glacier):
    out = write_mask_cog(glacier.stack.outline, tmp_path / "mask.tif")
    with rasterio.open(out) as src:
        assert src.count == glacier.stack.sizes["time"]
        assert src.descriptions[0] == str(glacier.stack.time.values[0])[:10]
        assert src.nodata == 255
        assert (src.read() == glacier.stack.outline.values).all()


def test_float_products_and_overviews_for_larger_rasters(tmp_path):
    rng = np.random.default_rng(0)
    conf = rng.random((700, 600)).astype(np.float32)
    conf[0, 0] = np.nan
    out = write_confidence_cog(conf, tmp_path / "conf.tif", crs="EPSG:3413", transform=T)
    with rasterio.open(out) as src:
        assert src.overviews(1), "a raster larger than one 512-px block gets overviews"
        assert src.profile["tiled"] and src.block_shapes[0] == (512, 512)
        assert np.isnan(src.nodata) and src.dtypes == ("float32",)
    assert _is_cog(out)
    da = rioxarray.open_rasterio(out)
    assert da.rio.crs.to_epsg() == 3413 and da.rio.transform() == T
    assert np.array_equal(da.values[0], conf, equal_nan=True)
    unc = write_uncertainty_cog(conf * 0.1, tmp_path / "std.tif", crs=3413, transform=T)
    with rasterio.open(unc) as src:
        assert src.descriptions == ("uncertainty",)


def test_write_cog_options_and_tags(tmp_path):
    arr = np.arange(2 * 30 * 40, dtype=np.int16).reshape(2, 30, 40)
    out = write_cog(
        arr,
        tmp_path / "x.tif",
        crs=32633,
        transform=tuple(T)[:6],
        nodata=-1,
        band_descriptions=["a", "b"],
        tags={"glacier": "JAC"},
    )
    with rasterio.open(out) as src:
        assert src.descriptions == ("a", "b") and src.tags()["glacier"] == "JAC"
        assert (src.read() == arr).all() and src.nodata == -1


def test_bad_input_is_refused_and_nothing_is_left(tmp_path):
    target = tmp_path / "bad.tif"
    with pytest.raises(DataError, match="crs"):
        write_cog(np.zeros((4, 4)), target, transform=T)
    with pytest.raises(DataError, match="transform"):
        write_cog(np.zeros((4, 4)), target, crs=32633)
    with pytest.raises(DataError, match="values 0..300"):
        write_cog(np.array([[0, 300]]), target, crs=32633, transform=T, dtype=np.uint8)
    with pytest.raises(DataError, match="NaN"):
        write_cog(np.array([[0.0, np.nan]]), target, crs=32633, transform=T, dtype=np.uint8)
    with pytest.raises(DataError, match="shape"):
        write_cog(np.zeros(4), target, crs=32633, transform=T)
    with pytest.raises(DataError, match="band_descriptions"):
        write_cog(np.zeros((4, 4)), target, crs=32633, transform=T, band_descriptions=["a", "b"])
    with pytest.raises(LabelEncodingError):
        write_zones_cog(np.array([[0, 5]]), target, crs=32633, transform=T)
    with pytest.raises(DataError, match="binary"):
        write_mask_cog(np.array([[0, 2]]), target, crs=32633, transform=T)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "zones.tif"
    write_zones_cog(np.full((8, 8), 2), target, crs=32633, transform=T)
    before = target.read_bytes()
    with pytest.raises(DataError):
        write_cog(np.full((8, 8), 999), target, crs=32633, transform=T, dtype=np.uint8)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zones.tif"]


def test_dataarray_without_georeferencing_needs_crs(tmp_path):
    da = xr.DataArray(np.zeros((4, 4), np.float32), dims=("y", "x"))
    with pytest.raises(DataError, match="crs"):
        write_confidence_cog(da, tmp_path / "c.tif")


# ------------------------------------------------------------------ streamed (windowed) writes
def _pixels_and_overviews(path) -> list[np.ndarray]:
    with rasterio.open(path) as src:
        levels = [src.read()]
        n = len(src.overviews(1))
    for i in range(n):
        with rasterio.open(path, overview_level=i) as ovr:
            levels.append(ovr.read())
    return levels


def _metadata(path) -> tuple:
    with rasterio.open(path) as src:
        return (
            src.crs.to_wkt(),
            src.transform,
            src.nodata if src.nodata == src.nodata else "nan",
            src.descriptions,
            src.tags(),
            src.dtypes,
            src.block_shapes,
            src.compression,
            src.tags(ns="IMAGE_STRUCTURE"),
        )


@pytest.mark.parametrize("product", ["zones", "mask", "confidence"])
def test_streamed_cog_is_identical_to_the_in_memory_one(tmp_path, product):
    import dask.array as da

    rng = np.random.default_rng(1)
    shape = (2, 600, 700)  # 2 × 2 blocks of 512 px, one overview level
    if product == "zones":
        values, writer = rng.integers(0, 4, shape).astype(np.uint8), write_zones_cog
    elif product == "mask":
        values, writer = rng.integers(0, 2, shape).astype(np.uint8), write_mask_cog
    else:
        values, writer = rng.random(shape, dtype=np.float32), write_confidence_cog
        values[:, :300, :200] = np.nan
    common = dict(
        crs=32633, transform=T, band_descriptions=["2020-03-01", "2020-03-13"], tags={"scene": "s1"}
    )
    in_memory = writer(values, tmp_path / "memory.tif", **common)
    # a lazy raster in 512-row chunks, written in strips of one block row (the budget is tiny)
    lazy = da.from_array(values, chunks=(1, 512, 512))
    streamed = writer(lazy, tmp_path / "streamed.tif", max_memory_mb=0.5, **common)
    a, b = _pixels_and_overviews(in_memory), _pixels_and_overviews(streamed)
    assert len(a) == len(b) == 2
    assert all(
        x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=False)
    )  # pixels and overviews
    assert _metadata(in_memory) == _metadata(streamed)
    assert in_memory.read_bytes() == streamed.read_bytes()  # the very same file
    assert validate_cog(in_memory) == validate_cog(streamed) == ([], [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory.tif", "streamed.tif"]


def test_a_prediction_store_is_streamed_into_cogs(tmp_path):
    """The products of a lazily opened prediction store (the archive's streamed path)."""
    import xarray as xr

    from workbench.geo.rasters import _is_dask

    rng = np.random.default_rng(2)
    zones = rng.integers(0, 4, (1, 600, 700)).astype(np.uint8)
    ds = xr.Dataset(
        {"zones": (("time", "y", "x"), zones)},
        coords={
            "time": np.array(["2021-05-01"], "datetime64[ns]"),
            "y": 8.7e6 - 10 - 20 * np.arange(600.0),
            "x": 5e5 + 10 + 20 * np.arange(700.0),
        },
    ).rio.write_crs(32633)
    ds.chunk({"y": 512, "x": 512}).to_zarr(tmp_path / "p.zarr", zarr_format=2, consolidated=True)
    lazy = xr.open_zarr(tmp_path / "p.zarr", decode_coords="all").zones
    assert _is_dask(lazy.data)
    out = write_zones_cog(lazy, tmp_path / "zones.tif")
    with rasterio.open(out) as src:
        assert (src.read() == np.array([0, 64, 127, 254], np.uint8)[zones]).all()
        assert src.descriptions == ("2021-05-01",) and src.crs.to_epsg() == 32633
        assert src.transform == ds.rio.transform() and src.nodata == 0
    assert validate_cog(out) == ([], [])


def test_a_failed_streamed_write_leaves_nothing(tmp_path):
    import dask.array as da

    target = tmp_path / "zones.tif"
    write_zones_cog(np.full((8, 8), 2), target, crs=32633, transform=T)
    before = target.read_bytes()
    bad = np.zeros((1, 1100, 600), np.int16)
    bad[0, 900, 10] = 999  # in the second strip: found while writing
    with pytest.raises(DataError, match="values 0..999"):
        write_cog(
            da.from_array(bad, chunks=(1, 512, 600)),
            target,
            crs=32633,
            transform=T,
            dtype=np.uint8,
            max_memory_mb=0.1,
        )
    with pytest.raises(LabelEncodingError, match="999"):  # zones: found by the first pass
        write_zones_cog(da.from_array(bad, chunks=(1, 512, 600)), target, crs=32633, transform=T)
    mask = np.zeros((1, 1100, 600), np.float32)
    mask[0, 1000, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        write_mask_cog(
            da.from_array(mask, chunks=(1, 512, 600)),
            target,
            crs=32633,
            transform=T,
            max_memory_mb=0.1,
        )
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zones.tif"]


def test_validate_cog_reports_what_is_not_cloud_optimized(tmp_path):
    values = np.random.default_rng(3).integers(0, 200, (1, 600, 700)).astype(np.uint8)
    profile = dict(
        driver="GTiff", width=700, height=600, count=1, dtype="uint8", crs="EPSG:32633", transform=T
    )
    striped = tmp_path / "striped.tif"
    with rasterio.open(striped, "w", **profile) as dst:
        dst.write(values)
    errors, warnings = validate_cog(striped)
    assert "not tiled" in " ".join(errors) and "overviews" in " ".join(warnings)
    # tiled, but the overviews are appended after the full-resolution data (gdaladdo style)
    late = tmp_path / "late_overviews.tif"
    with rasterio.open(late, "w", tiled=True, blockxsize=512, blockysize=512, **profile) as dst:
        dst.write(values)
    with rasterio.open(late, "r+") as dst:
        dst.build_overviews([2])
    errors, _ = validate_cog(late)
    assert any("main resolution image should be after" in e for e in errors), errors
    cog = write_cog(values, tmp_path / "cog.tif", crs=32633, transform=T)
    assert validate_cog(cog) == ([], [])
    with rasterio.open(cog) as src:
        assert src.overviews(1) == [2]
