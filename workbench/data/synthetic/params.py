"""The parameters of a synthetic tidewater glacier (:class:`GlacierParams`), the CRS of
every synthetic scene and the names of the demo world's glaciers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.data.synthetic._numerics import _S_PARAMS, _check_seed, _rng
from workbench.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["GlacierParams", "GLACIER_NAMES", "CRS_EPSG"]


CRS_EPSG = 32633
"""The CRS of every synthetic scene: WGS 84 / UTM zone 33N (Svalbard)."""

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
