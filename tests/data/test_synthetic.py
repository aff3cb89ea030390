"""Tests of the synthetic SAR glacier simulator (small scenes, a few dates, 2 CPU cores)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.data.synthetic import (
    DEFAULT_OPTICAL_BANDS,
    GlacierParams,
    SyntheticGlacier,
    preview_figure,
    simulate_glacier,
    simulate_world,
    speckle,
)
from workbench.data.synthetic import front as syn_front
from workbench.data.synthetic import terrain as syn_terrain
from workbench.errors import ConfigError

# 128 × 128 px at 80 m: the same 10 km landscape as the 512 × 512 default, 16× cheaper
SMALL = {"size": (128, 128), "pixel_size": 80.0}


@pytest.fixture(scope="module")
def year() -> SyntheticGlacier:
    """The default glacier over one year (31 dates)."""
    return simulate_glacier(seed=3, years=1.0, **SMALL)


@pytest.fixture(scope="module")
def fine() -> SyntheticGlacier:
    """A random glacier at 40 m over four dates."""
    return simulate_glacier(
        GlacierParams.random(11, 1), seed=11, years=0.1, size=(256, 256), pixel_size=40.0
    )


@pytest.fixture(scope="module")
def world() -> list[SyntheticGlacier]:
    return simulate_world(3, seed=1, years=0.1, **SMALL)


def _caffe_front(zones: np.ndarray, resolution: float) -> np.ndarray:
    """Reference: the full CaFFe zones → front post-processing (docs/science.md §1.2)."""
    z = zones.copy()
    lab, n = ndimage.label(z != OCEAN, structure=np.ones((3, 3)))
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        z[(lab > 0) & (lab != sizes.argmax())] = OCEAN
    lab, n = ndimage.label(z == OCEAN, structure=np.ones((3, 3)))
    if n > 1:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        z[(lab > 0) & (lab != sizes.argmax())] = GLACIER
    g = z == GLACIER
    nb = np.zeros_like(g)
    nb[1:] |= g[:-1]
    nb[:-1] |= g[1:]
    nb[:, 1:] |= g[:, :-1]
    nb[:, :-1] |= g[:, 1:]
    front = (z == OCEAN) & nb
    lab, n = ndimage.label(front, structure=np.ones((3, 3)))
    sizes = np.bincount(lab.ravel())
    small = sizes <= 750.0 / resolution
    small[0] = False
    return front & ~small[lab]


def _pixel_of(ds, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    px = ds.attrs["pixel_size"]
    cols = (xy[:, 0] - ds.x.values[0]) / px
    rows = (ds.y.values[0] - xy[:, 1]) / px
    assert np.allclose(cols, np.round(cols), atol=1e-6) and np.allclose(
        rows, np.round(rows), atol=1e-6
    )
    return np.round(rows).astype(int), np.round(cols).astype(int)


# ----------------------------------------------------------------------------------------
# conventions
# ----------------------------------------------------------------------------------------
def test_stack_follows_the_conventions(year):
    ds = year.stack
    assert ds.sigma0_db.dims == ("time", "y", "x")
    assert ds.sizes["y"] == 128 and ds.sizes["x"] == 128 and ds.sizes["time"] == 31
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(ds.time.values) == np.timedelta64(12, "D"))
    assert ds.sigma0_db.dtype == np.float32 and ds.sigma0_db.attrs["units"] == "dB"
    assert ds.coherence.dtype == np.float32
    assert ds.optical.dims == ("band", "y", "x") and ds.optical.dtype == np.float32
    assert tuple(ds.band.values) == DEFAULT_OPTICAL_BANDS and len(DEFAULT_OPTICAL_BANDS) == 14
    assert ds.dem.dims == ("y", "x") and ds.dem.dtype == np.float32
    for name in ("zones", "front", "outline"):
        assert ds[name].dims == ("time", "y", "x") and ds[name].dtype == np.uint8
    assert set(np.unique(ds.zones.values)) <= {NA, ROCK, GLACIER, OCEAN}
    assert set(np.unique(ds.front.values)) == {0, 1}
    assert set(ds.sensor.values) == {"S1A", "S1B"}  # 2019: both satellites flew
    assert list(ds.sensor.values[:2]) == ["S1A", "S1B"]
    assert (ds.orbit.values == year.params.relative_orbit).all()
    for key in ("glacier", "seed", "pixel_size", "enl"):
        assert key in ds.attrs
    assert ds.attrs["glacier"] == year.name and ds.attrs["seed"] == 3 and ds.attrs["enl"] == 4.4
    assert np.all(np.diff(ds.y.values) < 0) and np.all(np.diff(ds.x.values) > 0)
    assert np.isfinite(ds.sigma0_db.values).all()


def test_crs_and_transform(year):
    ds = year.stack
    px = ds.attrs["pixel_size"]
    assert ds.rio.crs.to_epsg() == 32633
    t = ds.rio.transform()
    assert (t.a, t.e) == (px, -px) and t.b == t.d == 0
    assert ds.rio.resolution() == (px, -px)
    # coordinates are pixel centres of that transform
    assert ds.x.values[0] == pytest.approx(t.c + px / 2) and ds.y.values[0] == pytest.approx(
        t.f - px / 2
    )
    assert np.allclose(np.diff(ds.x.values), px) and np.allclose(np.diff(ds.y.values), -px)
    # Svalbard-like UTM 33N coordinates
    assert 440_000 < ds.x.values.mean() < 560_000 and 8_640_000 < ds.y.values.mean() < 8_760_000
    assert year.fronts.crs.to_epsg() == 32633 and year.outlines.crs.to_epsg() == 32633


def test_vector_products(year):
    f, o = year.fronts, year.outlines
    assert list(f.columns) == ["date", "glacier", "length_m", "geometry"]
    assert list(o.columns) == ["date", "glacier", "area_km2", "geometry"]
    times = pd.DatetimeIndex(year.stack.time.values)
    assert (pd.DatetimeIndex(f["date"]) == times).all() and (
        pd.DatetimeIndex(o["date"]) == times
    ).all()
    assert (f.glacier == year.name).all()
    assert np.allclose(f.length_m, f.geometry.length)
    assert isinstance(year.front_position_m, pd.Series)
    assert (year.front_position_m.index == times).all()
    assert year.front_position_m.attrs["units"] == "m"


# ----------------------------------------------------------------------------------------
# ground truth: zones, front raster and front line agree exactly
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["year", "fine"])
def test_zones_front_raster_and_line_agree_exactly(which, request):
    g = request.getfixturevalue(which)
    ds = g.stack
    px = ds.attrs["pixel_size"]
    for i in range(ds.sizes["time"]):
        zones = ds.zones.values[i]
        front = ds.front.values[i].astype(bool)
        # the CaFFe rule, and the full CaFFe post-processing, give the stored raster
        assert np.array_equal(front, syn_front._front_rule(zones))
        assert np.array_equal(front, _caffe_front(zones, px))
        # one connected chain
        _, ncomp = ndimage.label(front, structure=np.ones((3, 3)))
        assert ncomp == 1
        # line vertices are exactly the front pixel centres, each once, walked in order
        xy = np.asarray(g.fronts.geometry.iloc[i].coords)
        rows, cols = _pixel_of(ds, xy)
        assert len(xy) == front.sum()
        mask = np.zeros_like(front)
        mask[rows, cols] = True
        assert np.array_equal(mask, front)
        steps = np.abs(np.diff(np.stack([rows, cols], 1), axis=0)).max(axis=1)
        assert steps.max() == 1  # consecutive vertices are 8-neighbours
        # no NA pixel next to the front
        assert not (ndimage.binary_dilation(front, np.ones((3, 3))) & (zones == NA)).any()


def test_front_line_runs_from_left_to_right_bank(year):
    """Looking down flow, the line starts on the left bank; the glacier lies on its right."""
    p = year.params
    a = np.radians(p.flow_azimuth_deg)
    right = np.array([np.cos(a), -np.sin(a)])
    for line in year.fronts.geometry:
        xy = np.asarray(line.coords)
        assert (xy[-1] - xy[0]) @ right > 0


def test_outline_mask_and_polygon(year):
    from rasterio.features import rasterize

    ds = year.stack
    px = ds.attrs["pixel_size"]
    assert np.array_equal(ds.outline.values == 1, ds.zones.values == GLACIER)
    t = ds.rio.transform()
    for i in (0, 15, 30):
        mask = ds.outline.values[i].astype(bool)
        poly = year.outlines.geometry.iloc[i]
        assert poly.is_valid
        assert poly.area == pytest.approx(mask.sum() * px * px)
        assert year.outlines.area_km2.iloc[i] == pytest.approx(mask.sum() * px * px / 1e6)
        burnt = rasterize([(poly, 1)], out_shape=mask.shape, transform=t, dtype="uint8").astype(
            bool
        )
        assert np.array_equal(burnt, mask)


def test_front_position_is_the_box_method_truth(year, fine):
    """Glacier area inside the box / box width reproduces the known position (< px/2)."""
    for g in (year, fine):
        c = np.asarray(g.box.exterior.coords)
        width = np.hypot(*np.diff(c, axis=0).T).min()
        est = np.array([g.box.intersection(o).area / width for o in g.outlines.geometry])
        assert np.abs(est - g.front_position_m.values).max() < 0.5 * g.stack.attrs["pixel_size"]


# ----------------------------------------------------------------------------------------
# determinism
# ----------------------------------------------------------------------------------------
def test_deterministic_for_a_seed():
    kw = dict(seed=5, years=0.1, **SMALL)
    a, b = simulate_glacier(**kw), simulate_glacier(**kw)
    for name in a.stack.data_vars:
        assert np.array_equal(a.stack[name].values, b.stack[name].values), name
    assert a.fronts.geometry.equals(b.fronts.geometry)
    assert np.array_equal(a.front_position_m.values, b.front_position_m.values)
    c = simulate_glacier(**{**kw, "seed": 6})
    assert not np.array_equal(a.stack.sigma0_db.values, c.stack.sigma0_db.values)
    assert not np.array_equal(a.stack.dem.values, c.stack.dem.values)
    assert not np.array_equal(a.front_position_m.values, c.front_position_m.values)


def test_longer_series_keeps_the_first_dates():
    short = simulate_glacier(seed=2, years=0.05, **SMALL)
    long = simulate_glacier(seed=2, years=0.1, **SMALL)
    n = short.stack.sizes["time"]
    for name in ("sigma0_db", "coherence", "zones"):
        assert np.array_equal(short.stack[name].values, long.stack[name].values[:n]), name
    assert np.array_equal(short.stack.dem.values, long.stack.dem.values)


# ----------------------------------------------------------------------------------------
# radiometry
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("enl", [1.0, 4.4, 10.0])
def test_speckle_statistics_on_a_homogeneous_area(enl):
    rng = np.random.default_rng(0)
    intensity = speckle(np.full((256, 256), 0.02, np.float32), enl, rng)
    cv = intensity.std() / intensity.mean()
    assert cv == pytest.approx(1 / np.sqrt(enl), rel=0.10)
    assert intensity.mean() == pytest.approx(0.02, rel=0.02)
    assert (intensity > 0).all()


def test_simulated_speckle_has_the_requested_looks():
    """Same seed, ENL 4.4 vs ENL 1e6: the pixel ratio is the speckle alone (mean cancels)."""
    a = simulate_glacier(seed=4, years=0.02, enl=4.4, **SMALL).stack.sigma0_db.values[0]
    b = simulate_glacier(seed=4, years=0.02, enl=1e6, **SMALL).stack.sigma0_db.values[0]
    ratio = 10 ** ((a.astype(np.float64) - b) / 10)
    assert ratio.std() / ratio.mean() == pytest.approx(1 / np.sqrt(4.4), rel=0.10)


def test_coherence_in_range_and_class_dependent(year):
    ds = year.stack
    coh = ds.coherence.values
    assert coh.min() >= 0.0 and coh.max() <= 1.0
    z = ds.zones.values
    winter = 3  # early February
    rock, ocean, glacier = (z[winter] == c for c in (ROCK, OCEAN, GLACIER))
    assert coh[winter][rock].mean() > coh[winter][glacier].mean() > coh[winter][ocean].mean() - 0.1
    assert coh[winter][rock].mean() > coh[winter][ocean].mean() + 0.3
    summer = 16  # mid-July
    assert coh[summer][z[summer] == ROCK].mean() < coh[winter][rock].mean()


def test_wet_snow_darkens_the_glacier_in_summer(year):
    ds = year.stack
    s0, z = ds.sigma0_db.values, ds.zones.values
    months = pd.DatetimeIndex(ds.time.values).month
    lin = 10 ** (s0 / 10)

    def mean_db(months_wanted, cls):
        idx = np.nonzero(np.isin(months, months_wanted))[0]
        return 10 * np.log10(np.mean([lin[i][z[i] == cls].mean() for i in idx]))

    assert mean_db([7], GLACIER) < mean_db([2, 3], GLACIER) - 3.0
    # rock is brighter than the open ocean and than the ice
    assert mean_db([2, 3], ROCK) > mean_db([2, 3], GLACIER)


def test_winter_melange_in_front_of_the_terminus():
    p = GlacierParams(melange_length_m=2500.0)
    g = simulate_glacier(p, seed=8, years=0.6, start="2019-02-01", **SMALL)
    ds = g.stack
    s = syn_terrain._build_static(p, 8, SMALL["size"], SMALL["pixel_size"])
    months = pd.DatetimeIndex(ds.time.values).month

    def near_front_contrast(i):
        ocean = ds.zones.values[i] == OCEAN
        near = ocean & ndimage.binary_dilation(ds.front.values[i] == 1, iterations=8)
        far = ocean & ~ndimage.binary_dilation(ds.front.values[i] == 1, iterations=40) & s.trunk
        lin = 10 ** (ds.sigma0_db.values[i] / 10)
        return 10 * np.log10(lin[near].mean() / lin[far].mean())

    winter = [i for i in range(len(months)) if months[i] in (2, 3)]
    summer = [i for i in range(len(months)) if months[i] in (8,)]
    assert np.mean([near_front_contrast(i) for i in winter]) > 3.0
    assert (
        np.mean([near_front_contrast(i) for i in winter])
        > np.mean([near_front_contrast(i) for i in summer]) + 2.0
    )


def test_shadow_and_layover_are_na_on_steep_terrain(year):
    ds = year.stack
    z = ds.zones.values
    na = z[0] == NA
    assert na.any()
    assert (z == NA).sum(axis=0).max() == ds.sizes["time"] and np.array_equal(
        z[0] == NA, z[-1] == NA
    )
    gy, gx = np.gradient(ds.dem.values.astype(float), ds.attrs["pixel_size"])
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    assert slope[na].mean() > slope[z[0] == ROCK].mean() + 5.0
    # layover is bright, shadow dark: NA backscatter spans a wider range than rock
    s0 = ds.sigma0_db.values[0]
    assert np.percentile(s0[na], 90) > np.percentile(s0[z[0] == ROCK], 90)


def test_dem_sea_level_and_glacier_slope(year):
    ds = year.stack
    dem, z = ds.dem.values, ds.zones.values[0]
    assert (dem[z == OCEAN] == 0).all()
    assert (dem[(z == ROCK) | (z == NA)] > 0).all()
    assert dem.max() > 300
    # the glacier surface rises up-glacier
    g = z == GLACIER
    up = syn_terrain._build_static(year.params, 3, SMALL["size"], SMALL["pixel_size"]).s[g]
    assert np.corrcoef(up, dem[g])[0, 1] < -0.5


def test_optical_is_consistent_with_the_classes(year):
    ds = year.stack
    opt = ds.optical
    k = int(np.nonzero(ds.time.values == np.datetime64(ds.attrs["optical_date"]))[0][0])
    z = ds.zones.values[k]
    b3, b11, ndsi = (opt.sel(band=b).values for b in ("B3", "B11", "NDSI"))
    ice, water, rock = z == GLACIER, z == OCEAN, z == ROCK
    assert b3[ice].mean() > b3[rock].mean() > b3[water].mean()  # ice bright in the visible
    assert b11[ice].mean() < b11[rock].mean()  # and dark in the SWIR
    assert b11[water].mean() < 0.02
    assert ndsi[ice].mean() > 0.5 > ndsi[rock].mean()
    assert 0 <= opt.sel(band="B2").values.min() and opt.sel(band="B2").values.max() <= 1.6


def test_optical_band_selection():
    g = simulate_glacier(
        seed=1, years=0.02, optical_bands=("B2", "B3", "B4", "B8", "B11", "B12"), **SMALL
    )
    assert tuple(g.stack.band.values) == ("B2", "B3", "B4", "B8", "B11", "B12")
    assert g.stack.optical.shape == (6, 128, 128)


# ----------------------------------------------------------------------------------------
# time series
# ----------------------------------------------------------------------------------------
def test_seasonal_cycle_trend_and_calving():
    p = GlacierParams(seasonal_amplitude_m=450.0, trend_m_per_yr=-150.0)
    g = simulate_glacier(p, seed=0, years=2.0, **SMALL)
    pos = g.front_position_m
    t = (pos.index - pos.index[0]).days.to_numpy() / 365.25
    doy0 = pos.index[0].day_of_year
    phase = 2 * np.pi * (t + (doy0 - 1) / 365.25)
    A = np.column_stack([np.ones_like(t), t, np.cos(phase), np.sin(phase)])
    coef, *_ = np.linalg.lstsq(A, pos.values, rcond=None)
    amplitude = np.hypot(coef[2], coef[3])
    peak_doy = (np.degrees(np.arctan2(coef[3], coef[2])) % 360) / 360 * 365.25
    assert amplitude > 0.25 * p.seasonal_amplitude_m
    assert 60 < peak_doy < 200  # most advanced in spring
    assert coef[1] < 0  # long-term retreat
    for year in (2019, 2020):
        spring = pos[(pos.index.year == year) & pos.index.month.isin([4, 5])].mean()
        autumn = pos[(pos.index.year == year) & pos.index.month.isin([9, 10])].mean()
        assert spring > autumn + 100.0
    # calving events: sudden retreats, recorded
    ev = g.calving_events
    assert len(ev) > 0 and (ev.retreat_m > 0).all()
    assert {"date", "depth_m", "width_m", "retreat_m"} <= set(ev.columns)


@pytest.mark.parametrize("which", ["year", "fine"])
def test_front_is_irregular(which, request):
    """Not straight, not smooth: beyond a bulge (quadratic) the front wiggles at many scales."""
    g = request.getfixturevalue(which)
    a = np.radians(g.params.flow_azimuth_deg)
    flow, right = np.array([np.sin(a), np.cos(a)]), np.array([np.cos(a), -np.sin(a)])
    spread = []
    for line in g.fronts.geometry:
        xy = np.asarray(line.coords)
        across, along = xy @ right, xy @ flow
        resid = along - np.polyval(np.polyfit(across, along, 2), across)
        spread.append(resid.std())
        smooth = np.convolve(resid, np.ones(3) / 3, mode="valid")
        assert (np.diff(np.sign(smooth)) != 0).sum() >= 3  # wiggles, not one smooth curve
    # metres; quantising a straight line to pixels alone gives ≈ 0.29 px
    assert np.mean(spread) > 0.29 * g.stack.attrs["pixel_size"] + 15.0


# ----------------------------------------------------------------------------------------
# several glaciers
# ----------------------------------------------------------------------------------------
def test_world_glaciers_differ(world):
    names = [g.name for g in world]
    assert len(set(names)) == 3
    az = np.array([g.params.flow_azimuth_deg for g in world])
    diff = np.abs((az[:, None] - az[None, :] + 180) % 360 - 180)
    assert diff[np.triu_indices(3, 1)].min() > 30
    widths = {round(g.params.fjord_width_m) for g in world}
    assert len(widths) == 3
    assert len({g.stack.attrs["seed"] for g in world}) == 3
    assert not np.array_equal(world[0].stack.zones.values[0], world[1].stack.zones.values[0])
    # each glacier is reproducible on its own
    again = simulate_glacier(
        GlacierParams.random(1, 2), seed=world[2].stack.attrs["seed"], years=0.1, **SMALL
    )
    assert np.array_equal(again.stack.sigma0_db.values, world[2].stack.sigma0_db.values)


def test_params_random_is_deterministic_and_valid():
    assert GlacierParams.random(4, 2) == GlacierParams.random(4, 2)
    assert GlacierParams.random(4, 2) != GlacierParams.random(5, 2)
    for i in range(12):
        GlacierParams.random(4, i).validate()
    assert GlacierParams.random(4, 20).name == "synthetic-20"


# ----------------------------------------------------------------------------------------
# errors, preview, docs
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, variable",
    [
        ({"seed": -1}, "seed"),
        ({"years": 0}, "years"),
        ({"repeat_days": 0}, "repeat_days"),
        ({"size": (8, 8)}, "size"),
        ({"pixel_size": -20.0}, "pixel_size"),
        ({"enl": 0}, "enl"),
        ({"optical_bands": ("B2", "B99")}, "optical_bands"),
        ({"params": GlacierParams(fjord_width_m=0.0)}, "fjord_width_m"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs, variable):
    with pytest.raises(ConfigError) as err:
        simulate_glacier(**{"years": 0.02, **SMALL, **kwargs})
    assert err.value.variable == variable


def test_front_leaving_the_scene_is_reported():
    with pytest.raises(ConfigError, match="no calving front"):
        simulate_glacier(GlacierParams(front_offset_m=8000.0), years=0.02, **SMALL)


def test_preview_figure_renders(year, world):
    from matplotlib.figure import Figure

    fig = preview_figure([year] + world[:1])
    assert isinstance(fig, Figure) and len(fig.axes) == 10
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30)
    assert buf.getvalue()[:4] == b"\x89PNG"


def test_progress_bar(capsys):
    simulate_glacier(seed=0, years=0.05, progress=True, **SMALL)
    assert "date" in capsys.readouterr().err
