"""HoloViews/matplotlib views and the explorer's state, shared by notebooks and dashboards.

* :mod:`workbench.viz.sources` — data roots (the only paths a server may read), dataset
  discovery and :class:`~workbench.viz.sources.SceneSeries` (one glacier's dated images).
* :mod:`workbench.viz.state` — :class:`~workbench.viz.state.ExplorerState`, the param-based
  state and logic of ``dashboards/explorer.py`` (model runs, fronts, retreat, exports).
* :mod:`workbench.viz.views` — HoloViews elements; :mod:`workbench.viz.figures` — matplotlib.
"""

from workbench.viz.sources import DataRoots, SceneSeries, discover, open_series
from workbench.viz.state import OVERLAYS, ExplorerState, predict_series

__all__ = ["DataRoots", "SceneSeries", "discover", "open_series", "ExplorerState", "OVERLAYS",
           "predict_series"]
