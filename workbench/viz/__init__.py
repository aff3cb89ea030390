"""HoloViews/matplotlib views and the explorer's state, shared by notebooks and dashboards.

* :mod:`workbench.viz.sources` — data roots (the only paths a server may read), dataset
  discovery and :class:`~workbench.viz.sources.SceneSeries` (one glacier's dated images).
* :mod:`workbench.viz.state` — :class:`~workbench.viz.state.ExplorerState`, the param-based
  state and logic of ``dashboards/explorer.py`` (model runs, fronts, retreat, exports).
* :mod:`workbench.viz.app` — the explorer's layout; its plots are Bokeh figures updated in
  place: :mod:`workbench.viz.mapview` (the map) and :mod:`workbench.viz.plots` (retreat curve,
  point time series); :mod:`workbench.viz.lonlat` — latitude/longitude for the hover.
* :mod:`workbench.viz.views` — HoloViews elements for notebooks; :mod:`workbench.viz.figures` —
  matplotlib (the PNG export).
"""

from workbench.viz.sources import DataRoots, SceneSeries, discover, open_series
from workbench.viz.state import OVERLAYS, ExplorerState, predict_series

__all__ = [
    "DataRoots",
    "SceneSeries",
    "discover",
    "open_series",
    "ExplorerState",
    "OVERLAYS",
    "predict_series",
]
