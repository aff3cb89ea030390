"""Synthetic Sentinel-1 scenes of tidewater glaciers: the workbench's built-in demo world.

Nobody can download Sentinel-1 in every environment, so the workbench carries a simulator
that produces scene stacks following the workbench conventions (see ``docs/design.md`` §3.1),
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

Layout: :mod:`~.params` (:class:`GlacierParams`), :mod:`~.terrain`, :mod:`~.front`,
:mod:`~.sar`, :mod:`~.coherence`, :mod:`~.optical`, :mod:`~.world` (the simulator) and
:mod:`~.preview`; every public name is importable from here.

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

from workbench.data.synthetic.optical import DEFAULT_OPTICAL_BANDS, S2_BANDS
from workbench.data.synthetic.params import CRS_EPSG, GLACIER_NAMES, GlacierParams
from workbench.data.synthetic.preview import preview_figure
from workbench.data.synthetic.sar import speckle
from workbench.data.synthetic.world import (
    SyntheticGlacier,
    simulate_glacier,
    simulate_world,
    world_glacier,
    world_glacier_seed,
)

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
