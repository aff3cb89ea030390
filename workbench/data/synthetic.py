"""Synthetic Sentinel-1 scenes of tidewater glaciers: the workbench's built-in demo world.

Nobody can download Sentinel-1 in every environment, so the workbench carries a simulator
that produces scene stacks following the workbench conventions (see ``docs/DESIGN.md``),
together with their exact ground truth. A glacier is fully determined by a
:class:`GlacierParams` and an integer seed.

What is simulated
-----------------
* **Terrain** – a DEM (metres, sea level 0) of a fjord cut into Svalbard-like mountains:
  steep U-shaped valley walls, fractal and ridged relief, a coast where the fjord opens into
  the sea, optional tributary glaciers in side valleys, and the glacier surface rising from
  a 25–60 m ice cliff at the terminus. Georeferenced in UTM 33N (EPSG:32633) around
  x ≈ 450–550 km, y ≈ 8,650–8,750 km.
* **Calving front** – its width-averaged position follows an asymmetric seasonal cycle
  (slow advance from October to June, fast retreat in July–September), a long-term trend,
  and stochastic calving events (sudden, localised embayments that relax over ~40 days).
  The front line is irregular: persistent bulge and tilt, multi-scale noise evolving from
  date to date, and the embayments. Its position is known exactly
  (:attr:`SyntheticGlacier.front_position_m`).
* **SAR backscatter** (``sigma0_db``, C-band VV like Sentinel-1 IW GRD, not terrain
  flattened): terrain brightening on slopes facing the sensor, radar layover (very bright)
  and radar shadow (noise floor) computed geometrically from the DEM, the look direction and
  the incidence angle; glacier ice with flow-parallel streaks, medial moraines and transverse
  crevasse bands advected with the ice and strongest near the terminus; a bright firn zone
  in winter and wet-snow darkening in the melt season (June–September) with a rising
  transient snow line; open water whose roughness follows a new wind field on each date
  (sheltered inner fjord, occasional katabatic outflow, wind streaks); winter ice mélange
  and summer icebergs in front of the terminus; optional fast sea ice in spring; an
  incidence-angle trend across the swath; thermal noise; multiplicative Gamma speckle with a
  configurable equivalent number of looks (:func:`speckle`).
* **Coherence** (12-day interferometric coherence, 0..1) – high on rock, lower when the
  snow is wet, low on fast ice, near the estimator bias on water, moderate on rigid winter
  mélange and fast sea ice.
* **Optical** – one co-registered, cloud-free Sentinel-2-like image per glacier with the
  appearance of 10 August (snow only on high ground and the upper glacier, turbid meltwater
  plume, icebergs) and the glacier extent of the SAR date closest to 10 August of the first
  year (``stack.attrs["optical_date"]``, whose zones it matches): reflectances of snow,
  ice, debris, rock, clear and turbid water mixed per pixel, lit by the low Arctic sun
  (≈27° elevation) with cast shadows. Bands are chosen with ``optical_bands``; the default
  is the 13 Sentinel-2 L1C bands plus ``"NDSI"`` = (B3 − B11)/(B3 + B11), i.e. 14 channels
  like the optical input of SSL4SAR pretraining (which 14 channels SSL4SAR used exactly is
  not confirmed here). 20 m and 60 m bands are blurred to their native resolution.
* **Ground truth per date** – CaFFe zones (class ids 0 NA, 1 rock, 2 glacier, 3 ocean incl.
  mélange and sea ice; NA = radar layover and shadow, only on rock and kept away from the
  fjord), the front raster defined by the CaFFe rule (ocean pixels that are 4-neighbours of
  glacier pixels), the front as a :class:`shapely.LineString` whose vertices are exactly the
  front pixel centres walked in order from the left bank to the right bank (looking down
  flow; the glacier lies on the right of the line), the glacier outline mask (= zones ==
  glacier) and polygon.

Examples
--------
>>> from workbench.data.synthetic import simulate_glacier
>>> g = simulate_glacier(seed=1, years=0.1, size=(96, 128), pixel_size=80.0)
>>> g.stack.sigma0_db.dims, g.stack.sizes["time"]
(('time', 'y', 'x'), 4)
>>> g.stack.rio.crs.to_epsg()
32633
>>> len(g.fronts) == len(g.outlines) == len(g.front_position_m) == 4
True
"""

from __future__ import annotations

import dataclasses
import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from workbench.data.encoding import GLACIER, NA, OCEAN, ROCK
from workbench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    from matplotlib.figure import Figure
    from shapely.geometry import LineString, Polygon

__all__ = [
    "GlacierParams",
    "SyntheticGlacier",
    "simulate_glacier",
    "simulate_world",
    "speckle",
    "world_glacier",
    "world_glacier_seed",
    "preview_figure",
    "S2_BANDS",
    "DEFAULT_OPTICAL_BANDS",
    "GLACIER_NAMES",
    "CRS_EPSG",
]

CRS_EPSG = 32633
"""The CRS of every synthetic scene: WGS 84 / UTM zone 33N (Svalbard)."""

S2_BANDS: tuple[str, ...] = (
    "B1",
    "B2",
    "B3",
    "B4",
    "B5",
    "B6",
    "B7",
    "B8",
    "B8A",
    "B9",
    "B10",
    "B11",
    "B12",
)
"""The 13 Sentinel-2 MSI L1C bands, in product order."""

_DERIVED_BANDS: tuple[str, ...] = ("NDSI", "NDWI", "NDVI")

DEFAULT_OPTICAL_BANDS: tuple[str, ...] = S2_BANDS + ("NDSI",)
"""Default optical channels: the 13 S2 bands + NDSI = 14 channels (the SSL4SAR count)."""

_S2_RESOLUTION_M = {
    "B1": 60,
    "B2": 10,
    "B3": 10,
    "B4": 10,
    "B5": 20,
    "B6": 20,
    "B7": 20,
    "B8": 10,
    "B8A": 20,
    "B9": 60,
    "B10": 60,
    "B11": 20,
    "B12": 20,
}

# Reflectance (0..1, TOA-like) of the surfaces mixed per pixel, one row per S2 band.
# columns: snow, bare ice, debris, rock, clear water, turbid (sediment-laden) water
_SURFACES = ("snow", "ice", "debris", "rock", "water", "turbid")
_SPECTRA = np.array(
    [
        # snow  ice   debris rock  water  turbid
        [0.93, 0.58, 0.12, 0.10, 0.100, 0.130],  # B1  443 nm
        [0.93, 0.55, 0.13, 0.10, 0.080, 0.130],  # B2  490 nm
        [0.92, 0.50, 0.14, 0.12, 0.060, 0.160],  # B3  560 nm
        [0.90, 0.42, 0.16, 0.14, 0.030, 0.120],  # B4  665 nm
        [0.89, 0.36, 0.17, 0.16, 0.020, 0.080],  # B5  705 nm
        [0.87, 0.31, 0.18, 0.18, 0.015, 0.050],  # B6  740 nm
        [0.85, 0.28, 0.19, 0.19, 0.012, 0.040],  # B7  783 nm
        [0.83, 0.25, 0.20, 0.21, 0.010, 0.035],  # B8  842 nm
        [0.81, 0.23, 0.21, 0.22, 0.010, 0.030],  # B8A 865 nm
        [0.60, 0.14, 0.16, 0.17, 0.005, 0.015],  # B9  945 nm (water vapour)
        [0.02, 0.01, 0.01, 0.01, 0.002, 0.002],  # B10 1375 nm (cirrus)
        [0.09, 0.03, 0.24, 0.27, 0.004, 0.005],  # B11 1610 nm
        [0.06, 0.02, 0.19, 0.22, 0.003, 0.004],  # B12 2190 nm
    ],
    dtype=np.float32,
)

GLACIER_NAMES: tuple[str, ...] = (
    "Solvtindbreen",
    "Stormkallbreen",
    "Blakvelvbreen",
    "Havornbreen",
    "Nattsolbreen",
    "Grakobbebreen",
    "Polarlysbreen",
    "Skarvtindbreen",
    "Morkfjordbreen",
    "Snoriperbreen",
    "Isbjornkloa",
    "Tindeskarbreen",
)
"""Fictitious, Svalbard-inspired glacier names ("-breen" = "the glacier") drawn by
:meth:`GlacierParams.random` (beyond these it names glaciers ``synthetic-NN``); the default
``GlacierParams()`` is "Kvitravnbreen"."""

# Sentinel-1 at ~78.5° N: the ground track heading is about 43° off north-south, so the
# right-looking radar looks towards NE on ascending passes and NW on descending passes.
_ASCENDING_LOOK_DEG = 47.0
_DESCENDING_LOOK_DEG = 313.0
_S1B_START = pd.Timestamp("2016-09-26")
_S1B_END = pd.Timestamp("2021-12-23")
_INCIDENCE_GRADIENT_DEG_PER_M = 16.0 / 250_000.0  # IW: ~30°→46° over a 250 km swath
_SURFACE_A = 4.0  # glacier surface: z = cliff + A·sqrt(distance upstream [m])
_EMBAYMENT_RELAX_DAYS = 40.0
_COHERENCE_LOOKS = 25.0
_OPTICAL_DOY = 222  # 10 August: snow-free lowlands, sun ≈ 27° above the horizon   # looks of the coherence estimator (sets its bias and noise)

# independent random streams, so that e.g. a longer series keeps the terrain and the
# first dates unchanged
(
    _S_TERRAIN,
    _S_FRONT,
    _S_EVENTS,
    _S_SPECKLE,
    _S_WEATHER,
    _S_COHERENCE,
    _S_OPTICAL,
    _S_ICEBERG,
    _S_PARAMS,
) = range(1, 10)


# --------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GlacierParams:
    """Everything that defines one synthetic tidewater glacier (the seed adds the noise).

    Lengths in metres, angles in degrees (azimuths clockwise from grid north), rates per
    year, backscatter in dB (C-band VV). The defaults describe a mid-sized Svalbard
    tidewater glacier that looks good in a 512 × 512 scene at 20 m.

    Parameters
    ----------
    name
        Glacier name, used in the stack attributes and vector products.
    centre_x_m, centre_y_m
        Scene centre in EPSG:32633 (metres); snapped to the pixel grid.
    flow_azimuth_deg
        Direction in which the ice flows towards the sea (compass azimuth).
    fjord_width_m
        Fjord (and glacier) width at the reference terminus.
    fjord_widening
        Increase of the fjord width per metre seaward (dimensionless).
    fjord_bend_m
        Lateral offset of the valley centre line 5 km upstream of where it starts bending
        (positive: towards the right bank looking down flow).
    wall_roughness_m
        Standard deviation of the smooth along-fjord irregularity of each valley wall.
    mouth_distance_m
        Distance from the reference terminus to the fjord mouth, where the fjord opens
        into the sea.
    mountain_height_m
        Typical height of the mountains above the fjord.
    wall_scale_m
        E-folding distance of the valley-wall profile (smaller = steeper walls).
    relief_m
        Amplitude of the fractal and ridged mountain relief.
    n_tributaries
        Number of tributary glaciers joining from side valleys (0–2).
    tributary_width_m
        Width of the tributary valleys.
    front_offset_m
        Reference (first-date) terminus position along the flow axis from the scene centre
        (positive: down flow, towards the sea).
    front_bulge_m
        How much further the centre of the front stands out than its ends.
    front_tilt_m
        Difference of the front position between right and left bank (persistent tilt).
    front_roughness_m
        Standard deviation of the multi-scale noise along the front.
    ice_velocity_m_per_yr
        Ice speed near the terminus (advects the crevasses; sets the winter advance).
    seasonal_amplitude_m
        Peak-to-peak amplitude of the seasonal front cycle (max in early June, min in
        early October).
    trend_m_per_yr
        Long-term change of the width-averaged front position (negative: retreat).
    calving_events_per_yr
        Mean number of large calving events per year (most of them in the melt season).
    calving_size_m
        Mean maximum depth of the embayment a calving event cuts into the front.
    melange_length_m
        Winter extent of the ice mélange in front of the terminus.
    sea_ice
        Whether fast sea ice covers the fjord in spring (February–May).
    cliff_height_m
        Height of the ice cliff at the terminus above sea level.
    ela_m
        Equilibrium-line altitude: firn above it (bright in winter SAR, snow in optical).
    look_azimuth_deg
        Ground direction in which the radar looks (range direction): ≈47° for ascending,
        ≈313° for descending Sentinel-1 passes over Svalbard.
    incidence_deg
        Incidence angle at the scene centre (Sentinel-1 IW: 30–46°).
    relative_orbit
        Sentinel-1 relative orbit number (1–175).
    rock_db, ice_db, firn_db
        Backscatter of flat rock, of the glacier ablation zone in winter and of the winter
        firn zone.
    melt_darkening_db
        Darkening of wet snow in the melt season.
    crevasse_db
        Brightening of crevasse bands at the terminus.
    streak_db
        Standard deviation of the flow-parallel streak texture.
    wind_mean_m_s
        Mean wind speed over open water (varies from date to date).
    nesz_db
        Noise-equivalent sigma zero (thermal noise floor).

    Examples
    --------
    >>> p = GlacierParams(flow_azimuth_deg=90.0, seasonal_amplitude_m=600.0)
    >>> p.fjord_width_m, p.pass_direction
    (3000.0, 'ascending')
    >>> GlacierParams.random(seed=7, index=2).name != GlacierParams.random(7, 3).name
    True
    """

    name: str = "Kvitravnbreen"
    centre_x_m: float = 500_000.0
    centre_y_m: float = 8_700_000.0
    # geometry
    flow_azimuth_deg: float = 300.0
    fjord_width_m: float = 3000.0
    fjord_widening: float = 0.12
    fjord_bend_m: float = 900.0
    wall_roughness_m: float = 90.0
    mouth_distance_m: float = 3200.0
    mountain_height_m: float = 650.0
    wall_scale_m: float = 700.0
    relief_m: float = 220.0
    n_tributaries: int = 1
    tributary_width_m: float = 900.0
    # front and its time series
    front_offset_m: float = 700.0
    front_bulge_m: float = 150.0
    front_tilt_m: float = 80.0
    front_roughness_m: float = 70.0
    ice_velocity_m_per_yr: float = 1200.0
    seasonal_amplitude_m: float = 450.0
    trend_m_per_yr: float = -120.0
    calving_events_per_yr: float = 5.0
    calving_size_m: float = 150.0
    melange_length_m: float = 2000.0
    sea_ice: bool = False
    cliff_height_m: float = 40.0
    ela_m: float = 400.0
    # sensor and radiometry
    look_azimuth_deg: float = _ASCENDING_LOOK_DEG
    incidence_deg: float = 38.0
    relative_orbit: int = 14
    rock_db: float = -8.0
    ice_db: float = -12.5
    firn_db: float = -4.0
    melt_darkening_db: float = 9.0
    crevasse_db: float = 7.0
    streak_db: float = 1.0
    wind_mean_m_s: float = 5.5
    nesz_db: float = -26.0

    @property
    def pass_direction(self) -> str:
        """``"ascending"`` when the radar looks eastward, else ``"descending"``.

        Examples
        --------
        >>> GlacierParams(look_azimuth_deg=313.0).pass_direction
        'descending'
        """
        return "ascending" if math.sin(math.radians(self.look_azimuth_deg)) >= 0 else "descending"

    def validate(self) -> GlacierParams:
        """Return ``self`` or raise :class:`~workbench.errors.ConfigError` naming the bad field.

        Examples
        --------
        >>> GlacierParams(fjord_width_m=-1).validate()
        Traceback (most recent call last):
        ...
        workbench.errors.ConfigError: variable 'fjord_width_m' is -1 (expected a positive width in metres)
        """
        positive = {
            "fjord_width_m": "a positive width in metres",
            "mountain_height_m": "a positive height in metres",
            "wall_scale_m": "a positive distance in metres",
            "tributary_width_m": "a positive width in metres",
            "mouth_distance_m": "a positive distance in metres",
            "cliff_height_m": "a positive height in metres",
        }
        for name, expected in positive.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ConfigError(f"is {value!r}", variable=name, expected=expected)
        non_negative = (
            "relief_m",
            "wall_roughness_m",
            "front_roughness_m",
            "front_bulge_m",
            "ice_velocity_m_per_yr",
            "seasonal_amplitude_m",
            "calving_events_per_yr",
            "calving_size_m",
            "melange_length_m",
            "crevasse_db",
            "streak_db",
            "melt_darkening_db",
            "wind_mean_m_s",
            "fjord_widening",
        )
        for name in non_negative:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ConfigError(f"is {value!r}", variable=name, expected="a finite value ≥ 0")
        if not 15.0 <= self.incidence_deg <= 60.0:
            raise ConfigError(
                f"is {self.incidence_deg!r}",
                variable="incidence_deg",
                expected="an incidence angle between 15 and 60 degrees",
            )
        if self.n_tributaries not in (0, 1, 2):
            raise ConfigError(
                f"is {self.n_tributaries!r}", variable="n_tributaries", expected="0, 1 or 2"
            )
        if not 1 <= int(self.relative_orbit) <= 175:
            raise ConfigError(
                f"is {self.relative_orbit!r}",
                variable="relative_orbit",
                expected="a Sentinel-1 relative orbit 1..175",
            )
        return self

    def replace(self, **changes: Any) -> GlacierParams:
        """A copy with some fields changed.

        Examples
        --------
        >>> GlacierParams().replace(sea_ice=True).sea_ice
        True
        """
        return dataclasses.replace(self, **changes)

    @classmethod
    def random(cls, seed: int, index: int = 0) -> GlacierParams:
        """Draw a distinct, plausible glacier (the ``index``-th of the world ``seed``).

        Glaciers of one seed differ in orientation (flow azimuths spread by the golden
        angle), fjord geometry, width, seasonal amplitude, trend, orbit and radiometry, and
        carry distinct names, so a train/validation/test split by glacier is meaningful.

        Examples
        --------
        >>> a, b = GlacierParams.random(0, 0), GlacierParams.random(0, 1)
        >>> a.name != b.name and abs(a.flow_azimuth_deg - b.flow_azimuth_deg) > 1
        True
        """
        seed = _check_seed(seed)
        if not isinstance(index, (int, np.integer)) or index < 0:
            raise ConfigError(f"is {index!r}", variable="index", expected="an integer ≥ 0")
        world = _rng(seed, _S_PARAMS)
        base_azimuth = world.uniform(0.0, 360.0)
        names = list(GLACIER_NAMES)
        world.shuffle(names)
        rng = _rng(seed, _S_PARAMS, int(index))
        name = names[index] if index < len(names) else f"synthetic-{index:02d}"
        ascending = bool(rng.random() < 0.5)
        look = (_ASCENDING_LOOK_DEG if ascending else _DESCENDING_LOOK_DEG) + rng.uniform(-6, 6)
        width = rng.uniform(2000.0, 4000.0)
        return cls(
            name=name,
            centre_x_m=float(np.round(rng.uniform(455_000, 545_000), -2)),
            centre_y_m=float(np.round(rng.uniform(8_655_000, 8_745_000), -2)),
            flow_azimuth_deg=float((base_azimuth + 137.50776 * index + rng.uniform(-10, 10)) % 360),
            fjord_width_m=width,
            fjord_widening=rng.uniform(0.04, 0.2),
            fjord_bend_m=rng.uniform(-1500.0, 1500.0),
            wall_roughness_m=rng.uniform(40.0, 140.0),
            mouth_distance_m=rng.uniform(2200.0, 6000.0),
            mountain_height_m=rng.uniform(450.0, 850.0),
            wall_scale_m=rng.uniform(550.0, 950.0),
            relief_m=rng.uniform(150.0, 300.0),
            n_tributaries=int(rng.integers(0, 3)),
            tributary_width_m=rng.uniform(0.25, 0.4) * width,
            front_offset_m=rng.uniform(300.0, 1100.0),
            front_bulge_m=rng.uniform(0.0, 0.08) * width,
            front_tilt_m=rng.uniform(-150.0, 150.0),
            front_roughness_m=rng.uniform(30.0, 80.0),
            ice_velocity_m_per_yr=rng.uniform(500.0, 2500.0),
            seasonal_amplitude_m=rng.uniform(200.0, 700.0),
            trend_m_per_yr=rng.uniform(-250.0, -30.0),
            calving_events_per_yr=rng.uniform(2.0, 8.0),
            calving_size_m=rng.uniform(60.0, 220.0),
            melange_length_m=rng.uniform(800.0, 3000.0),
            sea_ice=bool(rng.random() < 0.35),
            cliff_height_m=rng.uniform(25.0, 60.0),
            ela_m=rng.uniform(300.0, 550.0),
            look_azimuth_deg=float(look % 360),
            incidence_deg=rng.uniform(31.0, 45.0),
            relative_orbit=int(rng.choice([14, 29, 58, 87, 102, 116, 131, 145, 160, 174])),
            rock_db=rng.uniform(-9.5, -6.5),
            ice_db=rng.uniform(-14.0, -11.0),
            firn_db=rng.uniform(-5.5, -2.5),
            melt_darkening_db=rng.uniform(7.0, 11.0),
            crevasse_db=rng.uniform(5.0, 9.0),
            streak_db=rng.uniform(0.6, 1.4),
            wind_mean_m_s=rng.uniform(4.0, 7.5),
        )


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass
class SyntheticGlacier:
    """One simulated glacier: the scene stack and its exact ground truth.

    Attributes
    ----------
    params
        The parameters it was simulated with.
    seed
        The seed it was simulated with (``simulate_glacier(params, seed=seed, ...)``
        with the same other arguments reproduces it bit for bit).
    stack
        The scene stack (``xarray.Dataset``, dims ``(time, y, x)``, EPSG:32633), see
        :func:`simulate_glacier`.
    fronts
        GeoDataFrame, one row per date: ``date``, ``glacier``, ``length_m`` and the front
        ``geometry`` (LineString through the front pixel centres, left → right bank).
    outlines
        GeoDataFrame, one row per date: ``date``, ``glacier``, ``area_km2`` and the glacier
        outline ``geometry`` (the exact pixel boundary of the glacier mask).
    front_position_m
        Series indexed by date: the exact width-averaged terminus position along the flow
        axis, in metres down flow from the upstream edge of :attr:`box` (the quantity the
        rectilinear-box method of Moon & Joughin (2008) measures with :attr:`box`).
    box
        Rectangle along the fjord (map coordinates) for the box method.
    centreline
        Valley centre line (map coordinates), running down flow.
    calving_events
        DataFrame of the simulated calving events: ``date``, ``depth_m`` (maximum depth of
        the embayment), ``width_m``, ``retreat_m`` (its effect on the width-averaged
        position).

    Examples
    --------
    >>> g = simulate_glacier(seed=0, years=0.1, size=(64, 64), pixel_size=160.0)
    >>> g.name, g.seed, list(g.fronts.columns)
    ('Kvitravnbreen', 0, ['date', 'glacier', 'length_m', 'geometry'])
    >>> bool(g.box.is_valid and g.centreline.length > 0)
    True
    """

    params: GlacierParams
    seed: int
    stack: xr.Dataset
    fronts: gpd.GeoDataFrame
    outlines: gpd.GeoDataFrame
    front_position_m: pd.Series
    box: Polygon
    centreline: LineString
    calving_events: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def name(self) -> str:
        """The glacier name."""
        return self.params.name

    def __repr__(self) -> str:
        t = self.stack.time.values
        return (
            f"SyntheticGlacier({self.name!r}, seed={self.seed}, "
            f"{self.stack.sizes['time']} dates {str(t[0])[:10]}..{str(t[-1])[:10]}, "
            f"{self.stack.sizes['y']}×{self.stack.sizes['x']} px at "
            f"{self.stack.attrs['pixel_size']:g} m)"
        )


# --------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------
def speckle(
    mean_linear: np.ndarray | float,
    enl: float,
    rng: np.random.Generator,
    size: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Multiply a mean intensity by fully developed, multi-look Gamma speckle.

    ``intensity = mean_linear × Gamma(shape=enl, scale=1/enl)``: unit-mean speckle whose
    coefficient of variation (std/mean of the intensity over a homogeneous area) is
    ``1/sqrt(enl)``. Sentinel-1 IW GRDH has an ENL of about 4.4.

    Parameters
    ----------
    mean_linear
        Mean backscatter in linear units (array or scalar), ≥ 0.
    enl
        Equivalent number of looks, > 0.
    rng
        The random generator.
    size
        Output shape when ``mean_linear`` is a scalar (default: its shape).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = speckle(0.01, 4.4, rng, size=(400, 400))
    >>> round(float(x.std() / x.mean() * np.sqrt(4.4)), 2)
    1.0
    """
    if not (enl > 0 and math.isfinite(enl)):
        raise ConfigError(f"is {enl!r}", variable="enl", expected="a positive number of looks")
    mean_linear = np.asarray(mean_linear, dtype=np.float32)
    shape = mean_linear.shape if size is None else size
    g = rng.standard_gamma(enl, size=shape, dtype=np.float32)
    return mean_linear * (g / np.float32(enl))


# --------------------------------------------------------------------------------------
# small numerical helpers
# --------------------------------------------------------------------------------------
def _check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"is {seed!r}", variable="seed", expected="an integer ≥ 0")
    return int(seed)


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(int, keys)]))


def _smoothstep(x: np.ndarray | float) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _field2d(
    rng: np.random.Generator,
    shape: tuple[int, int],
    px: float,
    beta: float,
    l_max_m: float,
    l_min_m: float = 0.0,
    pad: float = 0.25,
) -> np.ndarray:
    """Gaussian random field, power spectrum ∝ (k² + 1/l_max²)^(-beta/2), unit std (float32).

    Wavelengths are in metres so the field looks the same at any pixel size; a soft
    high-frequency cut at ``l_min_m`` band-limits it. Padding avoids periodic edges.
    """
    ny, nx = shape
    py, qx = int(ny * (1 + pad)) + 2, int(nx * (1 + pad)) + 2
    white = rng.standard_normal((py, qx), dtype=np.float32)
    spec = np.fft.rfft2(white)
    fy = np.fft.fftfreq(py, d=px).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(qx, d=px).astype(np.float32)[None, :]
    k2 = fy * fy + fx * fx
    filt = (k2 + np.float32(1.0 / l_max_m) ** 2) ** np.float32(-beta / 4.0)
    if l_min_m > 0:
        filt *= np.exp(-k2 * np.float32(l_min_m) ** 2)
    filt[0, 0] = 0.0
    out = np.fft.irfft2(spec * filt, s=(py, qx))[:ny, :nx].astype(np.float32)
    out -= out.mean()
    out /= out.std() + np.float32(1e-12)
    return out


def _streak_field(
    rng: np.random.Generator,
    shape: tuple[int, int],
    px: float,
    azimuth_deg: float,
    l_along_m: float,
    l_across_m: float,
) -> np.ndarray:
    """Anisotropic Gaussian field elongated along ``azimuth_deg`` (unit std, float32)."""
    ny, nx = shape
    py, qx = ny + 16, nx + 16
    white = rng.standard_normal((py, qx), dtype=np.float32)
    spec = np.fft.rfft2(white)
    fy = np.fft.fftfreq(py, d=px).astype(np.float32)[:, None]  # cycles/m, row axis = -north
    fx = np.fft.rfftfreq(qx, d=px).astype(np.float32)[None, :]
    a = math.radians(azimuth_deg)
    # frequency components along (east, north) = (fx, -fy)
    k_along = fx * math.sin(a) - fy * math.cos(a)
    k_across = fx * math.cos(a) + fy * math.sin(a)
    filt = np.exp(-2.0 * np.pi**2 * ((k_along * l_along_m) ** 2 + (k_across * l_across_m) ** 2))
    filt[0, 0] = 0.0
    out = np.fft.irfft2(spec * filt, s=(py, qx))[:ny, :nx].astype(np.float32)
    out -= out.mean()
    out /= out.std() + np.float32(1e-12)
    return out


def _noise1d(
    rng: np.random.Generator, n: int, dx: float, wavelength_m: float, bandwidth: float = 0.5
) -> np.ndarray:
    """1-D band-pass Gaussian noise centred on ``wavelength_m`` (unit std)."""
    m = int(n * 1.2) + 8
    white = rng.standard_normal(m)
    spec = np.fft.rfft(white)
    k = np.fft.rfftfreq(m, d=dx)
    with np.errstate(divide="ignore"):
        filt = np.exp(-0.5 * (np.log(np.maximum(k, 1e-12) * wavelength_m) / bandwidth) ** 2)
    filt[0] = 0.0
    out = np.fft.irfft(spec * filt, n=m)[:n]
    sd = out.std()
    return out / sd if sd > 0 else out


def _lowpass1d(rng: np.random.Generator, n: int, dx: float, l_min_m: float) -> np.ndarray:
    """1-D smooth noise (Gaussian spectrum, wavelengths ≳ l_min_m), unit std."""
    m = int(n * 1.2) + 8
    spec = np.fft.rfft(rng.standard_normal(m))
    k = np.fft.rfftfreq(m, d=dx)
    out = np.fft.irfft(spec * np.exp(-((k * l_min_m) ** 2)), n=m)[:n]
    out -= out.mean()
    sd = out.std()
    return out / sd if sd > 0 else out


def _shift(a: np.ndarray, dr: int, dc: int, fill: bool = False) -> np.ndarray:
    """``out[r, c] = a[r - dr, c - dc]`` (the neighbour at offset (-dr, -dc)), padded."""
    out = np.full_like(a, fill)
    ny, nx = a.shape
    out[max(dr, 0) : ny + min(dr, 0), max(dc, 0) : nx + min(dc, 0)] = a[
        max(-dr, 0) : ny + min(-dr, 0), max(-dc, 0) : nx + min(-dc, 0)
    ]
    return out


def _any4(mask: np.ndarray) -> np.ndarray:
    """True where at least one 4-neighbour is True."""
    out = np.zeros_like(mask)
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def _front_rule(zones: np.ndarray) -> np.ndarray:
    """CaFFe front rule: ocean pixels that are 4-neighbours of glacier pixels."""
    return (zones == OCEAN) & _any4(zones == GLACIER)


_S4 = ndimage.generate_binary_structure(2, 1)
_S8 = ndimage.generate_binary_structure(2, 2)


def _largest(mask: np.ndarray, structure: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    lab, n = ndimage.label(mask, structure=structure)
    if n <= 1:
        return mask.copy(), lab, n
    counts = np.bincount(lab.ravel())
    counts[0] = 0
    return lab == counts.argmax(), lab, n


# --------------------------------------------------------------------------------------
# seasonal shapes (functions of the day of year)
# --------------------------------------------------------------------------------------
def _season_front(doy: np.ndarray) -> np.ndarray:
    """Seasonal front cycle in [0, 1]: maximum ≈ 9 June (doy 160), minimum ≈ 2 October."""
    d_max, fall = 160.0, 115.0
    x = (np.asarray(doy, dtype=float) - d_max) % 365.25
    return np.where(
        x < fall,
        0.5 + 0.5 * np.cos(np.pi * x / fall),
        0.5 - 0.5 * np.cos(np.pi * (x - fall) / (365.25 - fall)),
    )


def _wetness(doy: np.ndarray | float) -> np.ndarray:
    """Wet-snow fraction: 0 until late May, 1 from late June to mid-August, 0 from late Sept."""
    doy = np.asarray(doy, dtype=float)
    return _smoothstep((doy - 145.0) / 30.0) * (1.0 - _smoothstep((doy - 228.0) / 37.0))


def _melange(doy: np.ndarray | float) -> np.ndarray:
    """Mélange extent factor: forms in November, full December–April, gone by late June."""
    doy = np.asarray(doy, dtype=float)
    grow = _smoothstep((doy - 300.0) / 40.0)
    decay = 1.0 - _smoothstep((doy - 115.0) / 55.0)
    return np.where(doy >= 200.0, grow, decay)


def _sea_ice(doy: np.ndarray | float) -> np.ndarray:
    """Fast-ice factor: forms in late January, full in March–April, breaks up in May."""
    doy = np.asarray(doy, dtype=float)
    return _smoothstep((doy - 25.0) / 30.0) * (1.0 - _smoothstep((doy - 125.0) / 25.0))


# --------------------------------------------------------------------------------------
# radar and sun geometry
# --------------------------------------------------------------------------------------
def _hidden_and_folded(
    dem: np.ndarray, px: float, azimuth_deg: float, zenith_deg: float, want_layover: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Shadow (and layover) masks for a plane wave arriving along ``azimuth_deg``.

    The DEM is resampled onto a grid whose rows run along the ground direction of
    propagation (range, for a radar); along each row a point is in shadow if an earlier
    point rises above its ray (running maximum of ``h + x·cot θ``) and in layover if its
    slant range ``x·sin θ − h·cos θ`` is not strictly increasing (active and passive layover).
    """
    ny, nx = dem.shape
    big = int(math.ceil(math.hypot(ny, nx))) + 4
    a = math.radians(azimuth_deg)
    sa, ca = math.sin(a), math.cos(a)
    k = np.arange(big, dtype=np.float32) - (big - 1) / 2.0
    rr = k[None, :]  # along propagation (pixels)
    aa = k[:, None]  # across (pixels)
    # map offset in pixels (east, north) → image (row, col)
    de = rr * sa + aa * ca
    dn = rr * ca - aa * sa
    rows = (ny - 1) / 2.0 - dn
    cols = (nx - 1) / 2.0 + de
    h = ndimage.map_coordinates(dem.astype(np.float32), [rows, cols], order=1, mode="nearest")
    th = math.radians(zenith_deg)
    x = rr * np.float32(px)
    sh = h + x / np.float32(math.tan(th))
    shadow_rot = np.maximum.accumulate(sh, axis=1) > sh + np.float32(0.5)
    layover_rot = None
    if want_layover:
        rng_ = x * np.float32(math.sin(th)) - h * np.float32(math.cos(th))
        back_min = np.minimum.accumulate(rng_[:, ::-1], axis=1)[:, ::-1]
        after = np.concatenate([back_min[:, 1:], np.full((big, 1), np.inf, np.float32)], axis=1)
        fwd_max = np.maximum.accumulate(rng_, axis=1)
        before = np.concatenate([np.full((big, 1), -np.inf, np.float32), fwd_max[:, :-1]], axis=1)
        layover_rot = (rng_ >= after) | (rng_ <= before)
    # back to the image grid
    r_img, c_img = np.mgrid[0:ny, 0:nx].astype(np.float32)
    de_i = c_img - (nx - 1) / 2.0
    dn_i = (ny - 1) / 2.0 - r_img
    r_idx = de_i * sa + dn_i * ca + (big - 1) / 2.0
    a_idx = de_i * ca - dn_i * sa + (big - 1) / 2.0
    back = lambda m: ndimage.map_coordinates(m.astype(np.float32), [a_idx, r_idx], order=1) > 0.5  # noqa: E731
    return back(shadow_rot), (back(layover_rot) if want_layover else None)


# --------------------------------------------------------------------------------------
# the static world of one glacier
# --------------------------------------------------------------------------------------
@dataclass
class _Static:
    shape: tuple[int, int]
    px: float
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray  # along-flow coordinate (m, from the scene centre)
    n: np.ndarray  # across-flow coordinate from the valley centre line
    trunk: np.ndarray  # main fjord/valley interior incl. the sea (bool)
    trib: np.ndarray  # tributary valleys outside the trunk (always glacier)
    flow_n: np.ndarray  # across-flow coordinate for the streak texture
    ngrid: np.ndarray  # 1-D grid of n for the front profile
    half_left: float
    half_right: float
    box_s0: float
    box_s1: float
    box_half: float
    s_mouth: float
    land_dem: np.ndarray  # terrain height on land (m)
    geom_dem: np.ndarray  # terrain + smooth glacier surface (m), for geometry
    terrain_db: np.ndarray  # radiometric terrain effect on land (dB)
    interior_db: np.ndarray  # radiometric terrain effect of the glacier surface (dB)
    layover: np.ndarray
    shadow: np.ndarray
    na: np.ndarray  # NA zone (static)
    theta_deg: np.ndarray  # incidence angle per pixel
    rock_tex: np.ndarray
    streak: np.ndarray  # flow-parallel streaks (unit std)
    moraine: np.ndarray  # medial moraines (0..1)
    floor: np.ndarray  # valley floor / smooth glacier surface height (m)
    crev_phase: np.ndarray  # static part of the crevasse phase (rad)
    crev_patch: np.ndarray  # crevasse patchiness (0..1)
    crev_margin: np.ndarray  # marginal crevassing (0..1)
    shelter: np.ndarray  # wind sheltering factor over water
    katabatic: np.ndarray  # katabatic wind factor over water
    snow_rock: np.ndarray  # snow-cover propensity of rock (0..1)
    seaice_tex: np.ndarray
    ice_var: np.ndarray  # large-scale brightness variation of the ice (unit std)
    slope_deg: np.ndarray
    aspect_north: np.ndarray  # cos(aspect): 1 = north-facing
    dem_grad: tuple[np.ndarray, np.ndarray]
    centre_xy: tuple[float, float]
    flow_unit: tuple[float, float]
    right_unit: tuple[float, float]
    bend: Any


def _build_static(p: GlacierParams, seed: int, shape: tuple[int, int], px: float) -> _Static:
    ny, nx = shape
    rng = _rng(seed, _S_TERRAIN)
    x0 = round((p.centre_x_m - nx * px / 2.0) / px) * px
    ytop = round((p.centre_y_m + ny * px / 2.0) / px) * px
    xs = x0 + (np.arange(nx) + 0.5) * px
    ys = ytop - (np.arange(ny) + 0.5) * px
    cx, cy = x0 + nx * px / 2.0, ytop - ny * px / 2.0
    a = math.radians(p.flow_azimuth_deg)
    fe, fn = math.sin(a), math.cos(a)  # flow direction (east, north)
    re_, rn = math.cos(a), -math.sin(a)  # right bank direction
    dx = (xs - cx)[None, :].astype(np.float32)
    dy = (ys - cy)[:, None].astype(np.float32)
    s = dx * np.float32(fe) + dy * np.float32(fn)
    v = dx * np.float32(re_) + dy * np.float32(rn)

    p0 = p.front_offset_m
    box_up = 4000.0
    box_s0 = p0 - box_up
    s_bend = box_s0 - 500.0

    def bend(sv):
        return p.fjord_bend_m * np.clip((s_bend - np.asarray(sv)) / 5000.0, 0.0, None) ** 2

    n = (v - bend(s)).astype(np.float32)

    # valley walls: half-widths along s (1-D profiles), smooth irregularity per wall
    s_lo, s_hi = float(s.min()) - 2 * px, float(s.max()) + 2 * px
    ds = min(px, 20.0)
    sgrid = np.arange(s_lo, s_hi + ds, ds)
    hw0 = p.fjord_width_m / 2.0
    s_mouth = p0 + p.mouth_distance_m
    half = hw0 + 0.5 * p.fjord_widening * (sgrid - p0)
    half = np.maximum(half, 0.45 * hw0)
    flare = np.clip(sgrid - s_mouth, 0.0, None)
    half = half + flare**2 / 1200.0
    rough_l = p.wall_roughness_m * _lowpass1d(rng, sgrid.size, ds, 900.0)
    rough_r = p.wall_roughness_m * _lowpass1d(rng, sgrid.size, ds, 900.0)
    w_left = half + rough_l  # wall at n = -w_left (left bank, looking down flow)
    w_right = half + rough_r  # wall at n = +w_right
    wl = np.interp(s, sgrid, w_left).astype(np.float32)
    wr = np.interp(s, sgrid, w_right).astype(np.float32)
    d_trunk = np.maximum(n - wr, -wl - n)  # > 0 outside the valley (m)

    # coastline irregularity beyond the mouth (2-D noise fading in seaward)
    coast_noise = _field2d(rng, shape, px, beta=3.0, l_max_m=3000.0, l_min_m=2 * px)
    coast_w = _smoothstep((s - (s_mouth - 300.0)) / 1500.0).astype(np.float32)
    d_trunk = d_trunk + np.float32(350.0) * coast_w * coast_noise

    # valley floor of the trunk: the glacier surface (sea level beyond the terminus)
    cliff_l = (p.cliff_height_m / _SURFACE_A) ** 2
    floor = (_SURFACE_A * np.sqrt(np.clip(p0 + cliff_l - s, 0.0, None))).astype(np.float32)

    # tributaries
    d_trib = np.full(shape, np.inf, np.float32)
    trib_n = np.zeros(shape, np.float32)
    # valley floors blend smoothly on land (soft minimum of the distances to the valleys)
    w_trunk = np.exp(-np.clip(d_trunk, 0.0, 9000.0).astype(np.float64) / 300.0)
    floor_sum = w_trunk * floor
    weight_sum = w_trunk.copy()
    wt = p.tributary_width_m / 2.0
    sides = [1.0, -1.0] if rng.random() < 0.5 else [-1.0, 1.0]
    junctions = []
    for k in range(p.n_tributaries):
        side = sides[k % 2]
        sj = p0 - rng.uniform(2600.0, 4000.0) - rng.uniform(1500.0, 2500.0) * k
        psi = math.radians(rng.uniform(30.0, 60.0))
        wall_at = float(np.interp(sj, sgrid, w_right if side > 0 else w_left))
        nj = side * wall_at * 0.6
        ds_, dn_ = -math.cos(psi), side * math.sin(psi)  # direction away from the trunk
        along = (s - sj) * ds_ + (n - nj) * dn_
        # a gently curving, irregular side valley that narrows upstream
        a_grid = np.linspace(-3000.0, float(np.abs(s).max() + np.abs(n).max()) + 3000.0, 600)
        wiggle = np.interp(
            along,
            a_grid,
            0.6 * p.wall_roughness_m * _lowpass1d(rng, a_grid.size, a_grid[1] - a_grid[0], 700.0),
        )
        bend_t = rng.uniform(-1.0, 1.0) * 0.25 * np.clip(along, 0.0, None) ** 2 / 4000.0
        nt = -(s - sj) * dn_ + (n - nj) * ds_ - bend_t - wiggle
        width_t = wt * (1.0 - 0.3 * _smoothstep(along / 5000.0))
        dt = np.maximum(np.abs(nt) - width_t, -along).astype(np.float32)
        inside_t = dt < d_trib
        d_trib = np.minimum(d_trib, dt)
        trib_n = np.where(inside_t, nt + 7000.0 * (k + 1), trib_n)
        zj = _SURFACE_A * math.sqrt(max(p0 + cliff_l - sj, 0.0))
        wk = np.exp(-np.clip(dt, 0.0, 9000.0).astype(np.float64) / 300.0)
        floor_sum += wk * (zj + 0.07 * np.clip(along, 0.0, None))
        weight_sum += wk
        junctions.append((sj, side))
    floor = (floor_sum / np.maximum(weight_sum, 1e-300)).astype(np.float32)
    d_all = np.minimum(d_trunk, d_trib)
    trunk = d_trunk < 0
    trunk, _, _ = _largest(trunk, _S4)  # no isolated lakes
    trib = (d_trib < 0) & ~trunk
    if trib.any():
        trib_main = ndimage.binary_dilation(trunk, structure=_S4) & trib
        lab, _ = ndimage.label(trib, structure=_S4)
        keep = np.unique(lab[trib_main])
        trib = np.isin(lab, keep[keep > 0])
    land = ~(trunk | trib)

    # ---- DEM ----------------------------------------------------------------------
    fbm = _field2d(rng, shape, px, beta=4.6, l_max_m=4000.0, l_min_m=0.7 * px)
    ridged = np.zeros(shape, np.float32)
    for l_max, weight in ((3000.0, 1.0), (1400.0, 0.3)):
        src = _field2d(rng, shape, px, beta=4.4, l_max_m=l_max, l_min_m=0.7 * px)
        ridged += weight * ((1.0 - np.abs(src)) ** 2 - 0.45)
    rough = _field2d(rng, shape, px, beta=2.6, l_max_m=300.0, l_min_m=0.5 * px)
    dist = np.clip(d_all, 0.0, None)
    coast_factor = 1.0 - 0.55 * coast_w
    mountains = p.mountain_height_m * (1.0 - np.exp(-dist / p.wall_scale_m)) * coast_factor
    relief = p.relief_m * (0.35 * fbm + 0.35 * ridged) * _smoothstep(dist / 400.0)
    relief += 3.0 * rough * _smoothstep(dist / 150.0)
    land_dem = (floor + np.maximum(mountains + relief, 2.0 + 0.05 * dist)).astype(np.float32)
    land_dem = np.where(land, land_dem, 0.0).astype(np.float32)

    # ---- radar geometry -------------------------------------------------------------
    th_c = p.incidence_deg
    look = math.radians(p.look_azimuth_deg)
    sl, cl = math.sin(look), math.cos(look)
    r_m = dx * np.float32(sl) + dy * np.float32(cl)
    theta_deg = (th_c + _INCIDENCE_GRADIENT_DEG_PER_M * r_m).astype(np.float32)
    # geometry DEM: land plus a smooth glacier surface in the valleys
    z_surf = floor
    geom_dem = np.where(land, land_dem, z_surf)
    shadow, layover = _hidden_and_folded(geom_dem, px, p.look_azimuth_deg, th_c)
    gy, gx = np.gradient(geom_dem.astype(np.float32), px)
    dh_e, dh_n = gx, -gy
    th = np.radians(theta_deg)
    p_r = dh_e * sl + dh_n * cl
    norm = np.sqrt(1.0 + gx * gx + gy * gy)
    cos_loc = (np.sin(th) * p_r + np.cos(th)) / norm
    th_lr = th - np.arctan(p_r)
    area = np.sin(th) / np.maximum(np.sin(th_lr), 0.12)
    law = (np.clip(cos_loc, 0.03, 1.0) / np.cos(th)) ** 1.5
    terrain_db = np.clip(10.0 * np.log10(area * law), -16.0, 9.0).astype(np.float32)
    # gentle radiometric effect of the glacier surface slope (no cliff)
    zg = ndimage.gaussian_filter(z_surf, max(1.0, 150.0 / px))
    gyi, gxi = np.gradient(zg.astype(np.float32), px)
    p_ri = np.clip(gxi * sl - gyi * cl, -0.1, 0.1)
    interior_db = np.clip(
        10.0 * np.log10(np.sin(th) / np.maximum(np.sin(th - np.arctan(p_ri)), 0.12)), -3.0, 3.0
    ).astype(np.float32)
    # NA: layover/shadow on rock, kept off the fjord and glacier margins
    buffer_px = max(2, int(math.ceil(60.0 / px)))
    near_valley = ndimage.binary_dilation(~land, structure=_S8, iterations=buffer_px)
    na = (layover | shadow) & land & ~near_valley
    # a layover/shadow mask is a set of coherent patches, not salt and pepper
    na = ndimage.binary_opening(na, structure=_S4)
    lab, nlab = ndimage.label(na, structure=_S8)
    if nlab:
        sizes = np.bincount(lab.ravel())
        small = sizes < max(3.0, 4000.0 / (px * px))
        small[0] = False
        na = na & ~small[lab]
    na = ndimage.binary_closing(na, structure=_S4) & land & ~near_valley

    # ---- textures ---------------------------------------------------------------------
    rock_tex = _field2d(rng, shape, px, beta=1.6, l_max_m=600.0, l_min_m=0.5 * px)
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
    aspect_north = (dh_n / np.maximum(np.hypot(dh_e, dh_n), 1e-6)).astype(np.float32)
    aspect_north = -aspect_north  # slope facing north ⇔ terrain falls towards north
    snow_noise = _field2d(rng, shape, px, beta=3.0, l_max_m=1500.0, l_min_m=3 * px)
    steep = _smoothstep((slope - 38.0) / 15.0)
    # where snow lingers into summer: high, north-facing, not too steep
    snow_rock = (
        _smoothstep((land_dem - 1.1 * p.ela_m + 150.0 * aspect_north + 120.0 * snow_noise) / 200.0)
        * (1.0 - 0.8 * steep)
    ).astype(np.float32)

    # streaks: 1-D multi-scale profile across flow, modulated along flow
    flow_n = np.where(trib, trib_n, n).astype(np.float32)
    fmin, fmax = float(flow_n.min()) - 100.0, float(flow_n.max()) + 100.0
    dnf = min(px / 3.0, 10.0)
    fgrid = np.arange(fmin, fmax + dnf, dnf)
    prof = np.zeros(fgrid.size)
    for wavelength, amp in ((600.0, 0.55), (200.0, 0.6), (70.0, 0.5)):
        att = float(_smoothstep((wavelength / px - 2.0) / 2.0))
        if att > 0:
            prof += amp * att * _noise1d(rng, fgrid.size, dnf, wavelength, 0.45)
    prof /= max(prof.std(), 1e-6)
    modul = _field2d(rng, shape, px, beta=3.0, l_max_m=3000.0, l_min_m=2 * px)
    streak = (np.interp(flow_n, fgrid, prof).astype(np.float32) * (1.0 + 0.35 * modul)).astype(
        np.float32
    )
    # medial moraines: where tributary ice flows beside trunk ice
    moraine = np.zeros(shape, np.float32)
    for k, (sj, side) in enumerate(junctions):
        n_m = side * (hw0 - 0.45 * p.tributary_width_m * (1 + 0.3 * k))
        moraine += (
            np.exp(-0.5 * ((n - n_m) / max(30.0, 1.2 * px)) ** 2) * _smoothstep((s - sj) / 400.0)
        ).astype(np.float32)
    moraine = np.clip(moraine, 0.0, 1.0) * trunk

    # crevasses: arcuate (convex down flow), wavelength varying, patchy
    nph = _noise1d(rng, fgrid.size, dnf, 500.0, 0.6)
    crev_phase = (
        2 * np.pi * 0.9 * (n / max(hw0, 1.0)) ** 2
        + 1.2 * np.interp(flow_n, fgrid, nph)
        + 1.5 * _field2d(rng, shape, px, beta=3.0, l_max_m=2000.0, l_min_m=2 * px)
    ).astype(np.float32)
    crev_patch = _smoothstep(
        0.5 + 0.6 * _field2d(rng, shape, px, beta=2.6, l_max_m=1500.0, l_min_m=px)
    ).astype(np.float32)
    crev_margin = np.exp(-np.clip(np.minimum(wl + n, wr - n), 0, None) / 250.0).astype(np.float32)

    # wind sheltering in the fjord (inner fjord calmer), katabatic outflow
    inner = 1.0 - _smoothstep((s - (s_mouth - 2500.0)) / 3500.0)
    shelter = (1.0 - 0.6 * inner).astype(np.float32)
    katabatic = (0.6 + 0.9 * inner).astype(np.float32)
    seaice_tex = _field2d(rng, shape, px, beta=2.2, l_max_m=800.0, l_min_m=px)
    ice_var = _field2d(rng, shape, px, beta=3.0, l_max_m=2500.0, l_min_m=3 * px)

    # the box of the box method: straight, inside the fjord walls, longer than the front moves
    box_s1 = p0 + 2500.0
    s_box = np.linspace(box_s0, box_s1, 100)
    box_half = 0.85 * float(
        min(np.interp(s_box, sgrid, w_left).min(), np.interp(s_box, sgrid, w_right).min())
    )
    nlo, nhi = float(n.min()) - 200.0, float(n.max()) + 200.0
    dn_ = min(px / 4.0, 5.0)
    ngrid = np.arange(nlo, nhi + dn_, dn_)
    return _Static(
        shape=shape,
        px=px,
        x=xs,
        y=ys,
        s=s,
        n=n,
        trunk=trunk,
        trib=trib,
        flow_n=flow_n,
        ngrid=ngrid,
        half_left=float(np.interp(p0, sgrid, w_left)),
        half_right=float(np.interp(p0, sgrid, w_right)),
        box_s0=box_s0,
        box_s1=box_s1,
        box_half=box_half,
        s_mouth=s_mouth,
        land_dem=land_dem,
        geom_dem=geom_dem.astype(np.float32),
        terrain_db=terrain_db,
        interior_db=interior_db,
        layover=layover,
        shadow=shadow,
        na=na,
        theta_deg=theta_deg,
        rock_tex=rock_tex,
        streak=streak,
        moraine=moraine,
        floor=floor,
        crev_phase=crev_phase,
        crev_patch=crev_patch,
        crev_margin=crev_margin,
        shelter=shelter,
        katabatic=katabatic,
        snow_rock=snow_rock,
        seaice_tex=seaice_tex,
        ice_var=ice_var,
        slope_deg=slope,
        aspect_north=aspect_north,
        dem_grad=(gx, gy),
        centre_xy=(cx, cy),
        flow_unit=(fe, fn),
        right_unit=(re_, rn),
        bend=bend,
    )


# --------------------------------------------------------------------------------------
# front time series
# --------------------------------------------------------------------------------------
@dataclass
class _FrontModel:
    profiles: list[np.ndarray]  # f(n) on the n grid, per date
    position: np.ndarray  # width-averaged position (m, from the box edge)
    events: pd.DataFrame


def _front_model(p: GlacierParams, st: _Static, seed: int, dates: pd.DatetimeIndex) -> _FrontModel:
    px = st.px
    ngrid = st.ngrid
    dn = ngrid[1] - ngrid[0]
    m = ngrid.size
    t0 = dates[0]
    n_days = int((dates[-1] - t0).days) + 1
    days = pd.date_range(t0, periods=n_days, freq="D")
    doy = days.day_of_year.to_numpy().astype(float)

    # calving events, drawn day by day from one stream per calendar year
    rate = 0.25 + _wetness(np.arange(1, 366))
    rate = rate / rate.mean() * p.calving_events_per_yr / 365.25
    half = 0.5 * (st.half_left + st.half_right)
    ev_days, ev_depth, ev_width, ev_centre = [], [], [], []
    years = days.year.to_numpy()
    for year in np.unique(years):
        idx = np.nonzero(years == year)[0]
        r = _rng(seed, _S_EVENTS, int(year))
        u = r.random(366)
        depth = p.calving_size_m * r.gamma(2.0, 0.5, 366)
        width = r.uniform(250.0, 1000.0, 366)
        centre = r.uniform(-0.75, 0.75, 366) * half
        for i in idx:
            d = int(doy[i]) - 1
            if u[d] < rate[min(d, 364)]:
                ev_days.append(i)
                ev_depth.append(depth[d])
                ev_width.append(width[d])
                ev_centre.append(centre[d])
    inbox = np.abs(ngrid) <= st.box_half
    bumps, deltas = [], []
    for c, w, d in zip(ev_centre, ev_width, ev_depth, strict=False):
        b = d * np.exp(-0.5 * ((ngrid - c) / (0.4 * w)) ** 2) ** 1.5
        bumps.append(b)
        deltas.append(float(b[inbox].mean()))
    mean_delta = p.calving_size_m * 0.4 * 625.0 * math.sqrt(2 * math.pi / 1.5) / (2 * st.box_half)
    mean_delta = min(mean_delta, p.calving_size_m)

    # continuous part: flow-driven advance minus seasonal calving, plus the trend
    t_years = (days - t0).days.to_numpy() / 365.25
    g = _season_front(doy)
    p_cont = (
        p.front_offset_m
        + (p.trend_m_per_yr + p.calving_events_per_yr * mean_delta) * t_years
        + p.seasonal_amplitude_m * (g - g[0])
    )

    # persistent shape: bulge and tilt across the fjord
    u = np.clip(ngrid / max(half, 1.0), -1.5, 1.5)
    shape0 = p.front_bulge_m * (1.0 - u**2) + 0.5 * p.front_tilt_m * u

    bands = ((1300.0, 0.6, 0.9), (380.0, 0.45, 0.6), (120.0, 0.3, 0.25))
    state = None
    profiles, positions = [], []
    ev_days_a = np.asarray(ev_days, dtype=int)
    for i, date in enumerate(dates):
        r = _rng(seed, _S_FRONT, i)
        innov = []
        for wavelength, amp, _rho in bands:
            att = float(_smoothstep((wavelength / px - 2.5) / 2.0))
            innov.append(amp * att * _noise1d(r, m, dn, wavelength, 0.45))
        if state is None:
            state = innov
        else:
            state = [
                rho * s_ + math.sqrt(1 - rho * rho) * e
                for (_w, _a, rho), s_, e in zip(bands, state, innov, strict=False)
            ]
        noise = p.front_roughness_m * np.sum(state, axis=0)
        d_idx = int((date - t0).days)
        f = p_cont[d_idx] + shape0 + noise
        for k in np.nonzero(ev_days_a <= d_idx)[0]:
            age = d_idx - ev_days_a[k]
            decay = math.exp(-age / _EMBAYMENT_RELAX_DAYS)
            f = f - (deltas[k] + (bumps[k] - deltas[k]) * decay)
        profiles.append(f)
        positions.append(float(f[inbox].mean()) - st.box_s0)
    events = pd.DataFrame(
        {
            "date": pd.DatetimeIndex([days[i] for i in ev_days]),
            "depth_m": np.asarray(ev_depth, float),
            "width_m": np.asarray(ev_width, float),
            "retreat_m": np.asarray(deltas, float),
        }
    )
    return _FrontModel(profiles=profiles, position=np.asarray(positions), events=events)


# --------------------------------------------------------------------------------------
# per-date masks and the front chain
# --------------------------------------------------------------------------------------
def _masks(st: _Static, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Glacier and ocean masks for one front profile, cleaned so the CaFFe front is one chain."""
    f_pix = np.interp(st.n, st.ngrid, profile).astype(np.float32)
    water = st.trunk
    glacier = (water & (st.s < f_pix)) | st.trib
    for _ in range(30):
        # remove one-pixel ocean inlets and one-pixel glacier spikes
        for _ in range(4):
            ocean = water & ~glacier
            g_lr = _shift(glacier, 0, 1) & _shift(glacier, 0, -1)
            g_ud = _shift(glacier, 1, 0) & _shift(glacier, -1, 0)
            o_lr = _shift(ocean, 0, 1) & _shift(ocean, 0, -1)
            o_ud = _shift(ocean, 1, 0) & _shift(ocean, -1, 0)
            fill = ocean & (g_lr | g_ud)
            cut = glacier & water & (o_lr | o_ud)
            if not (fill.any() or cut.any()):
                break
            glacier = (glacier | fill) & ~cut
        ocean = water & ~glacier
        # one ocean: pockets cut off by the glacier become glacier (CaFFe does the same)
        main_ocean, _, nlab = _largest(ocean, _S4)
        if nlab > 1:
            glacier = glacier | (ocean & ~main_ocean)
            ocean = main_ocean
        # glacier pieces apart from the main one that touch the ocean calve off
        main_glacier, lab, nlab = _largest(glacier, _S4)
        if nlab > 1:
            touching = np.unique(lab[_any4(ocean) & glacier & ~main_glacier])
            stray = np.isin(lab, touching[touching > 0])
            glacier = glacier & ~stray
            ocean = ocean | (stray & water)
        front = ocean & _any4(glacier)
        lab, nf = ndimage.label(front, structure=_S8)
        if nf <= 1:
            return glacier, ocean, front
        counts = np.bincount(lab.ravel())
        counts[0] = 0
        small = (lab > 0) & (lab != counts.argmax())
        # calve the ice that makes the extra contact
        erode = glacier & water & _any4(small)
        if not erode.any():
            break
        glacier = glacier & ~erode
    raise ConfigError(
        "makes the glacier touch the ocean in several places (the front has "
        "retreated past a tributary or out of the fjord)",
        variable="years",
        expected="a shorter series or a smaller trend_m_per_yr",
    )


def _order_front(glacier: np.ndarray, ocean: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Front pixels (row, col) in order along the glacier boundary (marching squares)."""
    from skimage.measure import find_contours

    ny, nx = glacier.shape
    pad = np.pad(glacier, 1).astype(np.float64)
    runs: list[np.ndarray] = []
    for c in find_contours(pad, 0.5, fully_connected="low", positive_orientation="high"):
        if len(c) > 1 and np.allclose(c[0], c[-1]):
            c = c[:-1]
        r, q = c[:, 0], c[:, 1]
        frac_r = np.abs(r - np.round(r)) > 0.25
        r0 = np.where(frac_r, np.floor(r), np.round(r)).astype(int)
        q0 = np.where(frac_r, np.round(q), np.floor(q)).astype(int)
        r1 = np.where(frac_r, r0 + 1, r0)
        q1 = np.where(frac_r, q0, q0 + 1)
        g0 = pad[r0, q0] > 0.5
        rr = np.where(g0, r1, r0) - 1
        qq = np.where(g0, q1, q0) - 1
        ok = (rr >= 0) & (rr < ny) & (qq >= 0) & (qq < nx)
        flag = np.zeros(len(c), bool)
        flag[ok] = ocean[rr[ok], qq[ok]]
        if not flag.any():
            continue
        if not flag.all():
            # start right after the longest gap, so runs come in boundary order
            gaps = ~flag
            k = int(np.argmax(gaps))  # some gap point
            rot = np.roll(np.arange(len(c)), -k)
            g_rot = gaps[rot]
            # find longest gap run in rotated order
            edges = np.diff(np.concatenate([[0], g_rot.astype(int), [0]]))
            starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
            j = int(np.argmax(ends - starts))
            rot = np.roll(rot, -ends[j])
            rr, qq, flag = rr[rot], qq[rot], flag[rot]
        pts = np.stack([rr[flag], qq[flag]], axis=1)
        runs.append(pts)
    if not runs:
        return np.zeros((0, 2), int)
    pts = np.concatenate(runs, axis=0)
    keep = np.ones(len(pts), bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
    pts = pts[keep]
    # drop later repeats (cannot happen after cleaning, kept for safety)
    _, first = np.unique(pts[:, 0] * nx + pts[:, 1], return_index=True)
    pts = pts[np.sort(first)]
    return pts


# --------------------------------------------------------------------------------------
# radiometry per date
# --------------------------------------------------------------------------------------
def _ocean_db(wind: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Empirical C-band VV ocean backscatter (dB) from wind speed and incidence angle."""
    return np.maximum(
        -17.0 + 20.0 * np.log10(np.maximum(wind, 0.3) / 5.0) - 0.25 * (theta - 35.0), -32.0
    ).astype(np.float32)


def _date_weather(seed: int, i: int, doy: int, p: GlacierParams) -> dict[str, float]:
    r = _rng(seed, _S_WEATHER, i)
    wet = float(_wetness(doy))
    wet = float(
        np.clip(
            wet * (1.0 + 0.2 * r.standard_normal()) + (0.05 * r.random() if wet > 0 else 0), 0, 1
        )
    )
    if wet == 0.0 and r.random() < 0.03:  # rare winter rain-on-snow event
        wet = 0.5
    winter = float(doy < 120 or doy > 290)
    katabatic = bool(r.random() < (0.35 if winter else 0.08))
    wind = float(p.wind_mean_m_s * r.weibull(2.0) / 0.886)
    return {
        "wet": wet,
        "wind": wind,
        "katabatic": katabatic,
        "wind_dir": float(r.uniform(0, 360)),
        "gain": float(0.25 * r.standard_normal()),
    }


def _sigma0_mean(
    p: GlacierParams,
    st: _Static,
    seed: int,
    i: int,
    date: pd.Timestamp,
    t_years: float,
    glacier: np.ndarray,
    ocean: np.ndarray,
    f_pix: np.ndarray,
    weather: dict[str, Any],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Mean backscatter (linear) for one date, and the ocean sub-classes (for coherence)."""
    doy = date.day_of_year
    ny, nx = st.shape
    px = st.px
    theta = st.theta_deg
    wet = weather["wet"]
    r = _rng(seed, _S_WEATHER, i, 1)

    # ---- glacier ---------------------------------------------------------------------
    dist_g = np.clip(f_pix - st.s, 0.0, None)
    zg = st.floor
    firn = _smoothstep((zg - p.ela_m) / 150.0)
    snowline = p.ela_m * float(_smoothstep((doy - 170.0) / 70.0)) if 150 <= doy <= 270 else 0.0
    bare = 1.0 - _smoothstep((zg - snowline) / 60.0) if snowline > 0 else np.zeros_like(zg)
    base = p.ice_db + (p.firn_db - p.ice_db) * firn
    darkening = p.melt_darkening_db * wet * (1.0 - 0.55 * bare)
    # late-summer bare ice (after the wet snow is gone): slightly darker than winter ice
    late = float(_smoothstep((doy - 200.0) / 40.0) * (1 - _smoothstep((doy - 285.0) / 20.0)))
    base = base - 2.0 * late * bare
    adv = p.ice_velocity_m_per_yr * t_years
    # individual crevasses (tens of metres apart) are not resolved at 20 m: a crevasse
    # field is a brighter, rougher zone with transverse banding a few hundred metres apart
    lam = 420.0
    vis = float(_smoothstep((lam / px - 2.0) / 2.0))
    crest = (0.5 + 0.5 * np.sin(2 * np.pi * (st.s - adv) / lam + st.crev_phase)) ** 3
    envelope = np.exp(-dist_g / 1400.0) + 0.35 * st.crev_margin * np.exp(-dist_g / 5000.0)
    crev = (
        p.crevasse_db * vis * crest * envelope * (0.35 + 0.65 * st.crev_patch) * (1.0 - 0.4 * wet)
    )
    # the terminus zone is rough overall
    rough_front = 3.5 * np.exp(-dist_g / 1000.0) * (1.0 - 0.5 * wet) + 1.2 * st.ice_var
    streaks = p.streak_db * st.streak * (1.0 - 0.3 * wet) * (1.0 - 0.6 * np.exp(-dist_g / 1400.0))
    g_db = (
        base
        - darkening
        + streaks
        + crev
        + rough_front
        + 1.5 * st.moraine
        + st.interior_db
        - 0.12 * (theta - p.incidence_deg)
    )

    # ---- rock -------------------------------------------------------------------------
    r_db = (
        p.rock_db
        + st.terrain_db
        + 1.3 * st.rock_tex
        - 0.55 * p.melt_darkening_db * wet * st.snow_rock
        - 0.1 * (theta - p.incidence_deg)
    )
    # layover: the foreslope and the ground sharing its slant range add up (bright, but
    # the relief still shows through)
    r_db = np.where(
        st.layover,
        np.maximum(r_db, p.rock_db + 4.5 + 0.4 * st.terrain_db + 1.5 * st.rock_tex),
        r_db,
    )
    r_db = np.where(st.shadow, -40.0, r_db)

    # ---- water: wind, sheltering, streaks --------------------------------------------
    wind = weather["wind"]
    wfield = _field2d(r, st.shape, px, beta=3.5, l_max_m=6000.0, l_min_m=4 * px, pad=0.1)
    if weather["katabatic"]:
        factor = st.katabatic * (1.0 + 0.2 * wfield)
        wind = max(wind, 7.0)
        wdir = p.flow_azimuth_deg
    else:
        factor = st.shelter * (1.0 + 0.25 * wfield)
        wdir = weather["wind_dir"]
    w = wind * np.clip(factor, 0.05, None)
    o_db = _ocean_db(w, theta)
    streaks = _streak_field(r, st.shape, px, wdir, 1500.0, 180.0)
    o_db = o_db + 0.9 * float(_smoothstep((wind - 2.0) / 4.0)) * streaks

    # ---- mélange, icebergs, sea ice -----------------------------------------------------
    dist_o = np.clip(st.s - f_pix, 0.0, None)
    mel_len = p.melange_length_m * float(_melange(doy))
    dn_ = st.ngrid[1] - st.ngrid[0]
    edge_prof = (
        0.12 * _noise1d(r, st.ngrid.size, dn_, 4000.0, 0.6)
        + 0.035 * _noise1d(r, st.ngrid.size, dn_, 900.0, 0.6)
        + 0.012 * _noise1d(r, st.ngrid.size, dn_, 250.0, 0.6)
    )
    edge = mel_len * (1.0 + np.interp(st.n, st.ngrid, edge_prof))
    melange = ocean & (dist_o < edge) if mel_len > 0 else np.zeros_like(ocean)
    seaice = np.zeros_like(ocean)
    if p.sea_ice and _sea_ice(doy) > 0.05:
        ice_len = (0.5 + 0.6 * float(_sea_ice(doy))) * (st.s_mouth - p.front_offset_m + 1500.0)
        ice_edge = ice_len * (
            1.0
            + 0.15
            * np.interp(
                st.n, st.ngrid, _noise1d(r, st.ngrid.size, st.ngrid[1] - st.ngrid[0], 2500.0, 0.6)
            )
        )
        seaice = ocean & (dist_o < ice_edge) & ~melange
    if melange.any():
        # granular ice: floes and bergy bits, denser and bigger close to the terminus
        grain = ndimage.gaussian_filter(
            r.standard_normal(st.shape).astype(np.float32), max(0.6, 15.0 / px)
        )
        grain /= grain.std() + 1e-6
        floes = ndimage.gaussian_filter(
            r.standard_normal(st.shape).astype(np.float32), max(0.8, 50.0 / px)
        )
        floes /= floes.std() + 1e-6
        density = np.clip(1.0 - dist_o / np.maximum(edge, 1.0), 0.0, 1.0) ** 0.7
        m_db = (
            -15.0
            + 5.0 * density
            + 1.2 * grain
            + 1.0 * floes
            + 5.0 * (grain > 1.9 - 0.9 * density)
            + 3.0 * (floes > 1.6 - 0.6 * density)
        )
        o_db = np.where(melange, m_db, o_db)
    if seaice.any():
        si_db = -19.0 + 1.8 * st.seaice_tex
        o_db = np.where(seaice, si_db, o_db)
    # icebergs: bright point targets, most in summer and after calving events
    ri = _rng(seed, _S_ICEBERG, i)
    n_berg = int(ri.poisson(40.0 * (0.3 + float(_wetness(doy))) * (nx * ny * px * px / 1.0e8)))
    if n_berg:
        bs = f_pix.mean() + ri.exponential(1200.0, n_berg)
        bn = ri.uniform(-1.0, 1.0, n_berg) * (0.5 * (st.half_left + st.half_right))
        fe, fn = st.flow_unit
        re_, rn = st.right_unit
        cx, cy = st.centre_xy
        bx = cx + bs * fe + bn * re_
        by = cy + bs * fn + bn * rn
        col = np.floor((bx - (st.x[0] - px / 2)) / px).astype(int)
        row = np.floor(((st.y[0] + px / 2) - by) / px).astype(int)
        okb = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
        row, col = row[okb], col[okb]
        okb = ocean[row, col]
        row, col = row[okb], col[okb]
        o_db = o_db.copy()
        o_db[row, col] = np.maximum(o_db[row, col], ri.uniform(-6.0, 2.0, row.size))

    # ---- combine -------------------------------------------------------------------------
    db = np.where(glacier, g_db, np.where(ocean, o_db, r_db)) + weather["gain"]
    lin = np.power(np.float32(10.0), (db / 10.0).astype(np.float32)) + np.float32(
        10.0 ** (p.nesz_db / 10.0)
    )
    return lin.astype(np.float32), {"melange": melange, "seaice": seaice, "dist_g": dist_g}


def _coherence(
    p: GlacierParams,
    st: _Static,
    seed: int,
    i: int,
    doy: int,
    wet: float,
    glacier: np.ndarray,
    ocean: np.ndarray,
    sub: dict[str, np.ndarray],
) -> np.ndarray:
    r = _rng(seed, _S_COHERENCE, i)
    winter = float(1.0 - _wetness(doy))
    g_rock = (0.45 + 0.3 * winter) * (1.0 - 0.35 * wet * st.snow_rock) - 0.004 * np.clip(
        st.slope_deg - 30, 0, None
    )
    g_rock = np.where(st.shadow, 0.05, np.where(st.layover, 0.55, g_rock))
    speed = np.exp(-sub["dist_g"] / 4000.0)  # fast near the terminus
    g_glac = (0.08 + 0.3 * (1.0 - speed)) * (0.35 + 0.65 * winter) * (1.0 - 0.5 * wet)
    g_ocean = np.where(sub["melange"], 0.12 + 0.2 * float(_melange(doy)), 0.0)
    g_ocean = np.where(sub["seaice"], 0.45, g_ocean)
    gamma = np.where(glacier, g_glac, np.where(ocean, g_ocean, g_rock)).astype(np.float32)
    gamma = np.clip(gamma, 0.0, 0.98)
    L = _COHERENCE_LOOKS
    mean = np.sqrt(gamma**2 + (1.0 - gamma**2) * (math.pi / (4 * L)))
    sd = (1.0 - gamma**2) * math.sqrt((1.0 - math.pi / 4) / L)
    noise = ndimage.uniform_filter(r.standard_normal(st.shape).astype(np.float32), 3) * 3.0
    return np.clip(mean + sd * noise, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------
# optical
# --------------------------------------------------------------------------------------
def _optical(
    p: GlacierParams,
    st: _Static,
    seed: int,
    date: pd.Timestamp,
    glacier: np.ndarray,
    ocean: np.ndarray,
    f_pix: np.ndarray,
    sub: dict[str, np.ndarray],
    bands: Sequence[str],
) -> np.ndarray:
    r = _rng(seed, _S_OPTICAL)
    doy = _OPTICAL_DOY  # a cloud-free late-summer scene, whatever the SAR dates
    shape = st.shape
    px = st.px
    # snow cover: everything until June and from October, then a rising snow line
    melt_progress = float(_smoothstep((doy - 150.0) / 80.0)) if doy < 275 else 0.0
    snowline = 1.8 * p.ela_m * melt_progress
    dist_g = sub["dist_g"]
    zg = st.floor
    noise = _field2d(r, shape, px, beta=3.0, l_max_m=1500.0, l_min_m=3 * px)
    snow_g = _smoothstep((zg - 0.9 * snowline + 60.0 * noise) / 80.0)
    snow_r = _smoothstep((st.land_dem - snowline + 150.0 * st.aspect_north + 120.0 * noise) / 200.0)
    snow_r = np.clip(snow_r * (1.0 - 0.8 * _smoothstep((st.slope_deg - 38.0) / 15.0)), 0, 1)
    lam = 420.0
    crest = (0.5 + 0.5 * np.sin(2 * np.pi * st.s / lam + st.crev_phase)) ** 4
    crev = crest * np.exp(-dist_g / 1400.0) * (0.35 + 0.65 * st.crev_patch)
    debris_g = np.clip(0.6 * st.moraine + 0.15 * np.exp(-dist_g / 800.0) + 0.04 * st.streak, 0, 1)
    w = np.zeros((len(_SURFACES),) + shape, np.float32)
    # glacier
    gi = glacier.astype(np.float32)
    w[0] += gi * snow_g * (1 - debris_g * 0.5)
    w[1] += gi * (1 - snow_g) * (1 - debris_g) * (1.0 - 0.35 * crev)
    w[2] += gi * (1 - snow_g) * debris_g + gi * snow_g * debris_g * 0.5
    # rock (NA is rock on the ground)
    ri = (~glacier & ~ocean).astype(np.float32)
    lith = 1.0 + 0.25 * st.rock_tex
    w[0] += ri * snow_r
    w[3] += ri * (1 - snow_r) * lith
    # water: turbid meltwater plume near the terminus in summer, mélange/sea ice as ice/snow
    oi = ocean.astype(np.float32)
    dist_o = np.clip(st.s - f_pix, 0.0, None)
    plume = (
        np.exp(-dist_o / 2500.0) * float(_wetness(doy) + 0.3 * melt_progress) * (0.6 + 0.4 * noise)
    )
    plume = np.clip(plume, 0, 1)
    # (mélange and sea ice of a winter SAR date are gone by August: only icebergs remain)
    berg = (r.random(shape) < 0.01 * np.exp(-dist_o / 1500.0)).astype(np.float32)
    ice_frac = berg
    w[0] += oi * ice_frac * 0.5
    w[1] += oi * ice_frac * 0.5
    w[4] += oi * (1 - ice_frac) * (1 - plume)
    w[5] += oi * (1 - ice_frac) * plume
    refl = np.tensordot(_SPECTRA, w, axes=(1, 0))  # (13, y, x)
    # illumination: low Arctic sun from the south at S2 overpass, with cast shadows
    decl = 23.44 * math.sin(2 * math.pi * (284 + doy) / 365.0)
    elev = max(90.0 - 78.5 + decl - 1.0, 6.0)
    sun_az = 168.0
    zen = math.radians(90.0 - elev)
    gx, gy = st.dem_grad
    dh_e, dh_n = gx, -gy
    sa, ca = math.sin(math.radians(sun_az)), math.cos(math.radians(sun_az))
    # unit vector towards the sun: (e, n, up)
    se, sn, su = math.sin(zen) * sa, math.sin(zen) * ca, math.cos(zen)
    norm = np.sqrt(1.0 + gx * gx + gy * gy)
    cos_i = (-dh_e * se - dh_n * sn + su) / norm
    # cast shadows of the main relief (smoothed DEM: no shadows from pixel-scale roughness)
    smooth_dem = ndimage.gaussian_filter(st.geom_dem, max(1.0, 60.0 / px))
    shadow, _ = _hidden_and_folded(
        smooth_dem, px, (sun_az + 180.0) % 360.0, 90.0 - elev, want_layover=False
    )
    shadow = ndimage.gaussian_filter(shadow.astype(np.float32), 0.7)
    direct = np.clip(cos_i, 0.0, None) / math.cos(zen) * (1.0 - shadow)
    illum = np.clip(0.7 * direct + 0.3, 0.0, 2.0).astype(np.float32)
    refl = refl * illum[None]
    out = []
    for b in bands:
        if b in _DERIVED_BANDS:
            continue
        j = S2_BANDS.index(b)
        band = refl[j]
        res = _S2_RESOLUTION_M[b]
        if res > px:
            band = ndimage.gaussian_filter(band, 0.45 * res / px)
        band = band + 0.004 * r.standard_normal(shape).astype(np.float32)
        out.append((b, np.clip(band, 0.0, 1.6).astype(np.float32)))
    lookup = dict(out)

    def nd(a_name: str, b_name: str) -> np.ndarray:
        a = lookup.get(a_name, refl[S2_BANDS.index(a_name)])
        b_ = lookup.get(b_name, refl[S2_BANDS.index(b_name)])
        return ((a - b_) / np.maximum(a + b_, 1e-3)).astype(np.float32)

    derived = {
        "NDSI": lambda: nd("B3", "B11"),
        "NDWI": lambda: nd("B3", "B8"),
        "NDVI": lambda: nd("B8", "B4"),
    }
    return np.stack([lookup[b] if b in lookup else derived[b]() for b in bands]).astype(np.float32)


# --------------------------------------------------------------------------------------
# the simulator
# --------------------------------------------------------------------------------------
def _dates(start: Any, years: float, repeat_days: int) -> pd.DatetimeIndex:
    if not (isinstance(years, (int, float)) and years > 0 and math.isfinite(years)):
        raise ConfigError(f"is {years!r}", variable="years", expected="a positive number of years")
    if not isinstance(repeat_days, (int, np.integer)) or repeat_days < 1:
        raise ConfigError(
            f"is {repeat_days!r}",
            variable="repeat_days",
            expected="a positive whole number of days (Sentinel-1: 12)",
        )
    try:
        t0 = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as err:
        raise ConfigError(
            f"is {start!r}", variable="start", expected="a date such as '2019-01-01'"
        ) from err
    n = int(math.floor(years * 365.25 / repeat_days + 1e-9)) + 1
    return pd.date_range(t0, periods=n, freq=f"{int(repeat_days)}D")


def _sensors(dates: pd.DatetimeIndex) -> np.ndarray:
    out = []
    for i, d in enumerate(dates):
        both = _S1B_START <= d <= _S1B_END
        out.append("S1B" if both and i % 2 == 1 else "S1A")
    return np.asarray(out, dtype=object).astype(str)


def simulate_glacier(
    params: GlacierParams | None = None,
    *,
    seed: int = 0,
    start: Any = "2019-01-01",
    years: float = 1.0,
    repeat_days: int = 12,
    size: tuple[int, int] = (512, 512),
    pixel_size: float = 20.0,
    enl: float = 4.4,
    optical_bands: Sequence[str] = DEFAULT_OPTICAL_BANDS,
    progress: bool = False,
) -> SyntheticGlacier:
    """Simulate a Sentinel-1 time series of one tidewater glacier with exact ground truth.

    Parameters
    ----------
    params
        The glacier (default: ``GlacierParams()``, a mid-sized Svalbard-like glacier).
    seed
        Integer ≥ 0 driving every random field (terrain, front noise, calving, weather,
        speckle). Terrain and the first dates do not change when ``years`` grows.
    start
        Date of the first acquisition.
    years
        Length of the series; dates every ``repeat_days`` from ``start`` while
        ``< start + years`` (1 year at 12 days = 31 dates).
    repeat_days
        Revisit interval (Sentinel-1: 12 days per satellite).
    size
        ``(height, width)`` in pixels, i.e. ``(ny, nx)``.
    pixel_size
        Pixel size in metres. The landscape is defined in metres, so ``size × pixel_size``
        is the extent (default 10.24 km); keep it ≳ 6 km to see both fjord walls.
    enl
        Equivalent number of looks of the speckle (Sentinel-1 IW GRDH: 4.4).
    optical_bands
        Channels of the optical image: any of :data:`S2_BANDS` and ``"NDSI"``, ``"NDWI"``,
        ``"NDVI"`` (default: 13 bands + NDSI).
    progress
        Show a tqdm progress bar over the dates.

    Returns
    -------
    SyntheticGlacier
        ``.stack`` is an ``xarray.Dataset`` with dims ``(time, y, x)`` and coordinates
        ``x``/``y`` (pixel centres, metres, ``y`` descending), ``time`` (datetime64[ns]),
        ``sensor`` ("S1A"/"S1B" alternating while both flew, 2016-09-26..2021-12-23),
        ``orbit`` (relative orbit), ``band``; variables ``sigma0_db`` (float32, dB),
        ``coherence`` (float32, 0..1), ``optical`` (float32, ``(band, y, x)``,
        reflectance), ``dem`` (float32, m; the glacier surface of the first date),
        ``zones`` (uint8 class ids 0 NA, 1 rock, 2 glacier, 3 ocean), ``front`` (uint8
        0/1), ``outline`` (uint8 0/1); CRS EPSG:32633 and transform written with
        rioxarray; attrs ``glacier``, ``seed``, ``pixel_size``, ``enl`` and more.

    Raises
    ------
    ConfigError
        For invalid arguments, or when the front leaves the scene (too small a scene or
        too long a series for the glacier's retreat).

    Examples
    --------
    >>> g = simulate_glacier(seed=3, years=0.1, size=(64, 64), pixel_size=160.0)
    >>> ds = g.stack
    >>> ds.sigma0_db.dtype, ds.zones.dtype, ds.attrs["enl"]
    (dtype('float32'), dtype('uint8'), 4.4)
    >>> bool(((ds.zones == 2) == (ds.outline == 1)).all())
    True
    """
    import geopandas as gpd
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    from affine import Affine
    from rasterio.features import shapes as _shapes
    from shapely.geometry import LineString, Polygon
    from shapely.geometry import shape as _shape
    from shapely.ops import unary_union
    from tqdm.auto import tqdm

    p = (params if params is not None else GlacierParams()).validate()
    seed = _check_seed(seed)
    try:
        ny, nx = (int(v) for v in size)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"is {size!r}", variable="size", expected="(height, width) in pixels"
        ) from err
    if ny < 16 or nx < 16:
        raise ConfigError(f"is {size!r}", variable="size", expected="at least 16 × 16 pixels")
    if not (isinstance(pixel_size, (int, float)) and pixel_size > 0 and math.isfinite(pixel_size)):
        raise ConfigError(
            f"is {pixel_size!r}", variable="pixel_size", expected="a positive size in metres"
        )
    if not (isinstance(enl, (int, float)) and enl > 0 and math.isfinite(enl)):
        raise ConfigError(f"is {enl!r}", variable="enl", expected="a positive number of looks")
    bands = tuple(optical_bands)
    bad = [b for b in bands if b not in S2_BANDS and b not in _DERIVED_BANDS]
    if bad or not bands:
        raise ConfigError(
            f"holds {bad or 'nothing'}",
            variable="optical_bands",
            expected=f"names from {S2_BANDS + _DERIVED_BANDS}",
        )
    px = float(pixel_size)
    dates = _dates(start, years, repeat_days)
    nt = len(dates)

    st = _build_static(p, seed, (ny, nx), px)
    fm = _front_model(p, st, seed, dates)
    t0 = dates[0]
    opt_target = pd.Timestamp(year=t0.year, month=8, day=10)
    opt_index = int(np.argmin(np.abs((dates - opt_target).days)))

    sigma = np.empty((nt, ny, nx), np.float32)
    coh = np.empty((nt, ny, nx), np.float32)
    zones = np.empty((nt, ny, nx), np.uint8)
    front = np.empty((nt, ny, nx), np.uint8)
    static_zone = np.full((ny, nx), ROCK, np.uint8)
    static_zone[st.na] = NA
    transform = Affine(px, 0.0, float(st.x[0] - px / 2), 0.0, -px, float(st.y[0] + px / 2))
    fe, fn = st.flow_unit
    re_, rn = st.right_unit
    cx, cy = st.centre_xy
    lines, polys, lengths, areas = [], [], [], []
    dem = None
    optical = None
    for i in tqdm(range(nt), disable=not progress, desc=p.name, unit="date"):
        date = dates[i]
        prof = fm.profiles[i]
        glacier, ocean, fr = _masks(st, prof)
        if fr.sum() < 2:
            raise ConfigError(
                f"has no calving front on {date.date()} in a {ny}×{nx} scene at {px:g} m",
                variable="size",
                expected="a larger scene or a shorter series",
            )
        z = static_zone.copy()
        z[glacier] = GLACIER
        z[ocean] = OCEAN
        zones[i] = z
        front[i] = fr
        order = _order_front(glacier, ocean, fr)
        if len(order) != int(fr.sum()):
            raise RuntimeError("front chain and front raster disagree")  # pragma: no cover
        # orient from the left bank to the right bank (n increasing)
        if st.n[order[0, 0], order[0, 1]] > st.n[order[-1, 0], order[-1, 1]]:
            order = order[::-1]
        xs = st.x[order[:, 1]]
        ys = st.y[order[:, 0]]
        line = LineString(np.column_stack([xs, ys]))
        lines.append(line)
        lengths.append(line.length)
        geoms = [
            _shape(g)
            for g, v in _shapes(
                glacier.astype(np.uint8), mask=glacier, connectivity=4, transform=transform
            )
            if v == 1
        ]
        polys.append(unary_union(geoms) if len(geoms) != 1 else geoms[0])
        areas.append(float(glacier.sum()) * px * px / 1e6)
        f_pix = np.interp(st.n, st.ngrid, prof).astype(np.float32)
        if i == 0:
            zsurf = np.where(
                st.trib,
                st.floor,
                p.cliff_height_m + _SURFACE_A * np.sqrt(np.clip(f_pix - st.s, 0, None)),
            )
            dem = np.where(glacier, zsurf, np.where(ocean, 0.0, st.land_dem)).astype(np.float32)
        weather = _date_weather(seed, i, date.day_of_year, p)
        t_years = (date - t0).days / 365.25
        mean_lin, sub = _sigma0_mean(p, st, seed, i, date, t_years, glacier, ocean, f_pix, weather)
        inten = speckle(mean_lin, enl, _rng(seed, _S_SPECKLE, i))
        sigma[i] = 10.0 * np.log10(np.maximum(inten, np.float32(1e-6)))
        coh[i] = _coherence(p, st, seed, i, date.day_of_year, weather["wet"], glacier, ocean, sub)
        if i == opt_index:
            optical = _optical(p, st, seed, date, glacier, ocean, f_pix, sub, bands)

    outline = (zones == GLACIER).astype(np.uint8)
    ds = xr.Dataset(
        data_vars={
            "sigma0_db": (
                ("time", "y", "x"),
                sigma,
                {"units": "dB", "long_name": "backscatter coefficient sigma0 (VV, ellipsoid)"},
            ),
            "coherence": (
                ("time", "y", "x"),
                coh,
                {"units": "1", "long_name": f"interferometric coherence ({repeat_days}-day)"},
            ),
            "optical": (
                ("band", "y", "x"),
                optical,
                {
                    "units": "1",
                    "long_name": "Sentinel-2-like reflectance",
                    "date": str(dates[opt_index].date()),
                },
            ),
            "dem": (("y", "x"), dem, {"units": "m", "long_name": "surface height above sea level"}),
            "zones": (
                ("time", "y", "x"),
                zones,
                {
                    "long_name": "CaFFe zones",
                    "flag_values": "0 1 2 3",
                    "flag_meanings": "na rock glacier ocean",
                },
            ),
            "front": (("time", "y", "x"), front, {"long_name": "calving front (1 = front pixel)"}),
            "outline": (("time", "y", "x"), outline, {"long_name": "glacier mask (1 = glacier)"}),
        },
        coords={
            "time": ("time", dates.values.astype("datetime64[ns]")),
            "y": ("y", st.y.astype(np.float64), {"units": "m", "axis": "Y"}),
            "x": ("x", st.x.astype(np.float64), {"units": "m", "axis": "X"}),
            "band": ("band", np.asarray(bands, dtype=str)),
            "sensor": ("time", _sensors(dates)),
            "orbit": ("time", np.full(nt, int(p.relative_orbit), np.int32)),
        },
        attrs={
            "glacier": p.name,
            "seed": seed,
            "pixel_size": px,
            "enl": float(enl),
            "source": "workbench.data.synthetic",
            "pass_direction": p.pass_direction,
            "look_azimuth_deg": float(p.look_azimuth_deg),
            "incidence_deg": float(p.incidence_deg),
            "flow_azimuth_deg": float(p.flow_azimuth_deg),
            "repeat_days": int(repeat_days),
            "optical_date": str(dates[opt_index].date()),
        },
    )
    ds = ds.rio.write_crs(f"EPSG:{CRS_EPSG}").rio.write_transform(transform)

    crs = f"EPSG:{CRS_EPSG}"
    dt = pd.DatetimeIndex(dates, name="date")
    fronts = gpd.GeoDataFrame(
        {"date": dt, "glacier": p.name, "length_m": np.asarray(lengths)}, geometry=lines, crs=crs
    )
    outlines = gpd.GeoDataFrame(
        {"date": dt, "glacier": p.name, "area_km2": np.asarray(areas)}, geometry=polys, crs=crs
    )
    position = pd.Series(fm.position, index=dt, name="front_position_m")
    position.attrs.update(
        {
            "units": "m",
            "glacier": p.name,
            "definition": "width-averaged terminus position down flow from the box's upstream edge",
        }
    )

    def to_map(s_: float, n_: float) -> tuple[float, float]:
        v = n_ + float(st.bend(s_))
        return cx + s_ * fe + v * re_, cy + s_ * fn + v * rn

    b = st.box_half
    box = Polygon(
        [to_map(st.box_s0, -b), to_map(st.box_s1, -b), to_map(st.box_s1, b), to_map(st.box_s0, b)]
    )
    s_line = np.linspace(float(st.s.min()), float(st.s.max()), 60)
    centreline = LineString([to_map(float(q), 0.0) for q in s_line])
    return SyntheticGlacier(
        params=p,
        seed=seed,
        stack=ds,
        fronts=fronts,
        outlines=outlines,
        front_position_m=position,
        box=box,
        centreline=centreline,
        calving_events=fm.events,
    )


def simulate_world(
    n_glaciers: int = 3,
    *,
    seed: int = 0,
    years: float = 1.0,
    size: tuple[int, int] = (512, 512),
    pixel_size: float = 20.0,
    start: Any = "2019-01-01",
    repeat_days: int = 12,
    enl: float = 4.4,
    progress: bool = False,
) -> list[SyntheticGlacier]:
    """Simulate several distinct glaciers (``GlacierParams.random(seed, i)``, i = 0..n-1).

    Each glacier gets its own seed derived from ``(seed, i)`` (stored in
    ``stack.attrs["seed"]``), so a glacier is the same whatever ``n_glaciers`` is.

    Examples
    --------
    >>> world = simulate_world(2, seed=5, years=0.05, size=(64, 64), pixel_size=160.0)
    >>> [g.stack.attrs["world_index"] for g in world]
    [0, 1]
    >>> world[0].name != world[1].name
    True
    """
    seed = _check_seed(seed)
    if not isinstance(n_glaciers, (int, np.integer)) or n_glaciers < 1:
        raise ConfigError(f"is {n_glaciers!r}", variable="n_glaciers", expected="an integer ≥ 1")
    return [
        world_glacier(
            i,
            seed=seed,
            years=years,
            size=size,
            pixel_size=pixel_size,
            start=start,
            repeat_days=repeat_days,
            enl=enl,
            progress=progress,
        )
        for i in range(int(n_glaciers))
    ]


def world_glacier_seed(seed: int, index: int) -> int:
    """The simulation seed of glacier ``index`` of the world ``seed`` (``attrs["seed"]``)."""
    return int(
        np.random.SeedSequence([_check_seed(seed), 0xC0FFEE, int(index)]).generate_state(1)[0]
    )


def world_glacier(
    index: int,
    *,
    seed: int = 0,
    years: float = 1.0,
    size: tuple[int, int] = (512, 512),
    pixel_size: float = 20.0,
    start: Any = "2019-01-01",
    repeat_days: int = 12,
    enl: float = 4.4,
    progress: bool = False,
) -> SyntheticGlacier:
    """Glacier ``index`` of :func:`simulate_world` alone (identical to
    ``simulate_world(index + 1, ...)[index]``), without simulating the others.

    Examples
    --------
    >>> g = world_glacier(1, seed=5, years=0.05, size=(64, 64), pixel_size=160.0)
    >>> g.name == GlacierParams.random(5, 1).name, g.stack.attrs["world_index"]
    (True, 1)
    """
    seed = _check_seed(seed)
    g = simulate_glacier(
        GlacierParams.random(seed, index),
        seed=world_glacier_seed(seed, index),
        start=start,
        years=years,
        repeat_days=repeat_days,
        size=size,
        pixel_size=pixel_size,
        enl=enl,
        progress=progress,
    )
    g.stack.attrs["world_seed"] = seed
    g.stack.attrs["world_index"] = int(index)
    return g


# --------------------------------------------------------------------------------------
# preview
# --------------------------------------------------------------------------------------
_ZONE_COLOURS = ("#1a1a1a", "#9c7a54", "#bfe6f5", "#1f4e8c")


def preview_figure(glaciers: Sequence[SyntheticGlacier] | SyntheticGlacier) -> Figure:
    """A mosaic, one row per glacier: SAR in winter and summer, zones with the front,
    the optical image (RGB), and the front-position time series.

    Uses matplotlib's object API (no pyplot state), so it works with any backend.

    Examples
    --------
    >>> g = simulate_glacier(seed=2, years=0.2, size=(64, 64), pixel_size=160.0)
    >>> fig = preview_figure([g])
    >>> len(fig.axes)
    5
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    if isinstance(glaciers, SyntheticGlacier):
        glaciers = [glaciers]
    glaciers = list(glaciers)
    nrow = len(glaciers)
    fig = Figure(figsize=(17.5, 3.6 * nrow), layout="constrained")
    axes = fig.subplots(nrow, 5, squeeze=False, width_ratios=[1, 1, 1, 1, 1.5])
    zcmap = ListedColormap(_ZONE_COLOURS)
    for row, g in zip(axes, glaciers, strict=False):
        ds = g.stack
        times = pd.DatetimeIndex(ds.time.values)
        x, y = ds.x.values / 1000.0, ds.y.values / 1000.0
        ext = (
            x[0] - (x[1] - x[0]) / 2,
            x[-1] + (x[1] - x[0]) / 2,
            y[-1] - (y[0] - y[1]) / 2,
            y[0] + (y[0] - y[1]) / 2,
        )
        winter = int(np.argmin(np.abs((times.month - 3) + 0.0)))
        winter = (
            int(np.nonzero(times.month.isin([2, 3, 4]))[0][0])
            if times.month.isin([2, 3, 4]).any()
            else 0
        )
        summer_idx = np.nonzero(times.month.isin([7, 8]))[0]
        summer = int(summer_idx[0]) if summer_idx.size else len(times) - 1
        for ax, k, label in ((row[0], winter, "winter"), (row[1], summer, "summer")):
            ax.imshow(
                ds.sigma0_db.values[k],
                cmap="gray",
                vmin=-25,
                vmax=0,
                extent=ext,
                interpolation="nearest",
            )
            ax.set_title(f"{g.name} σ0 {str(times[k].date())} ({label})", fontsize=9)
        k = winter
        ax = row[2]
        ax.imshow(
            ds.zones.values[k], cmap=zcmap, vmin=-0.5, vmax=3.5, extent=ext, interpolation="nearest"
        )
        line = np.asarray(g.fronts.geometry.iloc[k].coords) / 1000.0
        ax.plot(line[:, 0], line[:, 1], color="#ff3b30", lw=1.2)
        bx = np.asarray(g.box.exterior.coords) / 1000.0
        ax.plot(bx[:, 0], bx[:, 1], color="#ffd60a", lw=0.8, ls="--")
        ax.set_xlim(ext[0], ext[1])
        ax.set_ylim(ext[2], ext[3])
        ax.set_title("zones (NA, rock, glacier, ocean), front, box", fontsize=9)
        ax = row[3]
        names = list(ds.band.values)
        if all(b in names for b in ("B4", "B3", "B2")):
            rgb = np.stack([ds.optical.sel(band=b).values for b in ("B4", "B3", "B2")], axis=-1)
            ax.imshow(np.clip(rgb / 1.0, 0, 1) ** 0.8, extent=ext, interpolation="nearest")
        else:
            ax.imshow(ds.optical.values[0], cmap="gray", extent=ext)
        ax.set_title(f"optical RGB {ds.attrs['optical_date']}", fontsize=9)
        for a in row[:4]:
            a.set_xlabel("x (km)", fontsize=8)
            a.tick_params(labelsize=7)
        row[0].set_ylabel("y (km, UTM 33N)", fontsize=8)
        ax = row[4]
        pos = g.front_position_m
        ax.plot(pos.index, pos.values, "o-", ms=3, lw=1, color="#1f4e8c", label="front position")
        ev = g.calving_events
        if len(ev):
            yy = np.interp(
                ev["date"].values.astype("int64"), pos.index.values.astype("int64"), pos.values
            )
            ax.plot(ev["date"], yy, "v", color="#ff3b30", ms=5, label="calving events")
        ax.set_ylabel("m down flow from box edge", fontsize=8)
        ax.set_title(f"{g.name}: terminus position", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    return fig


def _main() -> None:  # pragma: no cover - used to regenerate docs/preview.png
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "docs/preview.png"
    t = _time.perf_counter()
    world = simulate_world(3, seed=0, years=1.0)
    fig = preview_figure(world)
    fig.savefig(out, dpi=80)
    print(f"wrote {out} in {_time.perf_counter() - t:.1f} s")


if __name__ == "__main__":  # pragma: no cover
    _main()
