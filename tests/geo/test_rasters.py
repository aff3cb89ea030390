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
    out = write_cog(arr, tmp_path / "x.tif", crs=32633, transform=tuple(T)[:6], nodata=-1,
                    band_descriptions=["a", "b"], tags={"glacier": "JAC"})
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
