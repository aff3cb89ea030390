"""Rasters → vectors (fronts, outlines), retreat curves and CRS handling.

Raster products (:mod:`workbench.geo.rasters`): Cloud-Optimized GeoTIFFs of zones (CaFFe
values), glacier masks, confidence and uncertainty, written atomically.

Vector products (:mod:`workbench.geo.vectors`): calving-front lines traced from the CaFFe
front pixels (ice on the right of each line), glacier outlines with holes and RGI-style
attributes, one row per date and glacier; GeoPackage / GeoJSON writer.

Retreat curves (:mod:`workbench.geo.retreat`): rectilinear-box (Moon & Joughin 2008) and
centre-line terminus positions with explicit flags for the edge cases, seasonal summaries,
tables (CSV/Parquet) and a figure that shows the seasonal cycle.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString, box
>>> from workbench.geo import retreat_box
>>> fronts = gpd.GeoDataFrame({"date": ["2020-03-01", "2020-09-01"]}, crs=32633,
...     geometry=[LineString([(3000, -100), (3000, 2100)]), LineString([(2500, -100), (2500, 2100)])])
>>> retreat_box(fronts, box(0, 0, 6000, 2000), upstream=(0, 1000), metres="map").change_m.tolist()
[0.0, -500.0]
>>> retreat_box(fronts, box(0, 0, 6000, 2000), upstream=(0, 1000)).change_m.round(1).tolist()
[0.0, -498.7]

(ground metres by default: 500 km from UTM zone 33's central meridian a map metre is
0.27 % longer than a ground metre)
"""

from workbench.geo.crs import (
    as_crs,
    geodesic_length_area,
    is_metric,
    local_equal_area_crs,
    metric_crs,
)
from workbench.geo.rasters import (
    write_cog,
    write_confidence_cog,
    write_mask_cog,
    write_uncertainty_cog,
    write_zones_cog,
)
from workbench.geo.retreat import (
    FLAGS,
    AnnualCycle,
    BoxFrame,
    box_frame,
    fit_annual_cycle,
    plot_retreat,
    read_front_lines,
    read_retreat_table,
    retreat_box,
    retreat_centreline,
    retreat_products,
    seasonal_summary,
    summarize_retreat,
    write_retreat_table,
)
from workbench.geo.vectors import (
    TERM_TYPES,
    fronts_from_stack,
    fronts_from_zones,
    outlines_from_mask,
    outlines_from_stack,
    trace_front_pixels,
    write_vectors,
)

__all__ = [
    # crs
    "as_crs",
    "is_metric",
    "local_equal_area_crs",
    "metric_crs",
    "geodesic_length_area",
    # rasters
    "write_cog",
    "write_zones_cog",
    "write_mask_cog",
    "write_confidence_cog",
    "write_uncertainty_cog",
    # vectors
    "TERM_TYPES",
    "trace_front_pixels",
    "fronts_from_zones",
    "fronts_from_stack",
    "outlines_from_mask",
    "outlines_from_stack",
    "write_vectors",
    # retreat
    "FLAGS",
    "read_front_lines",
    "BoxFrame",
    "box_frame",
    "retreat_box",
    "retreat_centreline",
    "seasonal_summary",
    "AnnualCycle",
    "fit_annual_cycle",
    "summarize_retreat",
    "retreat_products",
    "write_retreat_table",
    "read_retreat_table",
    "plot_retreat",
]
