"""The retreat curve of Harald Moltke Bræ 2019–2021 from 159 real front lines.

Skips cleanly when ../shared/data is absent (the ``harald_moltke`` fixture).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from _geo_helpers import HM_UPSTREAM_XY
from shapely.geometry import LineString
from shapely.ops import split

from workbench.cli import main
from workbench.geo.retreat import (
    box_frame,
    fit_annual_cycle,
    read_retreat_table,
    retreat_centreline,
    seasonal_summary,
)

pytestmark = pytest.mark.shared_data


def test_all_159_lines_are_read(hm_fronts):
    assert len(hm_fronts) == 159
    assert hm_fronts.date.is_unique and hm_fronts.date.is_monotonic_increasing
    assert hm_fronts.date.iloc[0] == pd.Timestamp("2019-02-28")
    assert hm_fronts.date.iloc[-1] == pd.Timestamp("2021-09-27")
    assert hm_fronts.crs.to_epsg() == 3413
    assert (hm_fronts.glacier == "harald_moltke_brae").all()
    assert (hm_fronts.geometry.geom_type == "LineString").all()


def test_upstream_edge_agrees_with_the_basemap_and_the_line_convention(
    harald_moltke, hm_box, hm_fronts
):
    given = box_frame(hm_box, hm_fronts, upstream=HM_UPSTREAM_XY)
    by_lines = box_frame(hm_box, hm_fronts, upstream="right")
    assert by_lines.upstream_index == given.upstream_index
    assert "159 of 159" in by_lines.upstream_source
    # independent: the basemap is bright ice at the upstream edge, dark water downstream
    to_utm = pyproj.Transformer.from_crs(3413, 32620, always_xy=True)
    with rasterio.open(harald_moltke / "basemap" / "harald_moltke_brae.tif") as src:
        img = src.read(1).astype(float)

        def brightness(edge):
            vals = []
            for q in np.linspace(0.1, 0.9, 9):
                p = edge.interpolate(q, normalized=True)
                r, c = src.index(*to_utm.transform(p.x, p.y))
                vals.append(np.median(img[r - 2 : r + 3, c - 2 : c + 3]))
            return np.median(vals)

        assert brightness(given.upstream_edge) > 1.3 * brightness(given.downstream_edge)
    # why "convex" is never a default: these fronts are concave seawards, it picks the sea
    convex = box_frame(hm_box, hm_fronts, upstream="convex")
    assert convex.upstream_index == (given.upstream_index + 2) % 4
    assert "132 of 155" in convex.upstream_source


def test_without_upstream_the_error_names_the_basemap_edge(hm_box, hm_fronts):
    from workbench.errors import DataError

    given = box_frame(hm_box, hm_fronts, upstream=HM_UPSTREAM_XY)
    with pytest.raises(DataError) as err:
        box_frame(hm_box, hm_fronts)
    text = str(err.value)
    assert f"picks edge {given.upstream_index} here: 159 of 159 lines agree" in text
    x, y = HM_UPSTREAM_XY  # the midpoint of the upstream edge read off the basemap
    assert f"'{x:.0f},{y:.0f}' (edge {given.upstream_index})" in text
    assert f"--upstream={x:.0f},{y:.0f}" in text


def test_no_rule_on_the_line_shapes_finds_the_upstream_end(hm_box, hm_fronts):
    """Why ``upstream`` has no default: rules that hold on the synthetic glacier fail here."""
    import shapely

    given = box_frame(hm_box, hm_fronts, upstream=HM_UPSTREAM_XY)
    fronts = hm_fronts.to_crs(given.crs)
    # no front crosses or lies beyond either end of the box: "the end no front reaches" is
    # undecidable
    for g in fronts.geometry:
        along = given.along(shapely.get_coordinates(g))
        assert along.min() > 0 and along.max() < given.length_m
    # 2021: concave fronts in the up-glacier half of the box; "the end they bulge away from"
    # and "the end farthest from the fronts" both pick the fjord, unanimously
    late = fronts[fronts.date >= "2021-01-01"]
    convex = box_frame(hm_box, late, upstream="convex")
    assert convex.upstream_index == (given.upstream_index + 2) % 4
    assert "50 of 50" in convex.upstream_source
    for g in late.geometry:
        inside = shapely.segmentize(g.intersection(given.polygon), 20.0)
        assert given.along(shapely.get_coordinates(inside)).mean() < given.length_m / 2


def test_every_multipart_line_is_flagged(hm_fronts, hm_box, hm_retreat):
    import geopandas as gpd

    box = gpd.read_file(hm_box).geometry.iloc[0]
    independent = np.array([len(split(box, line).geoms) for line in hm_fronts.geometry])
    assert (independent >= 2).all()
    n_multi = int((independent > 2).sum())
    flagged = hm_retreat["flags"].str.contains("multipart").to_numpy()
    assert flagged.sum() == n_multi == 12
    assert (hm_retreat.n_parts.to_numpy() == independent).all()
    for n, f in zip(independent[independent > 2], hm_retreat["flags"][flagged], strict=False):
        assert f"multipart:{n}" in f.split(";")
    # multipart slivers are tiny: their positions stay on the curve
    smooth = hm_retreat.position_m.rolling(7, center=True, min_periods=1).median()
    assert (np.abs(hm_retreat.position_m - smooth)[flagged] < 150).all()


def test_retreat_curve_2019_2021(hm_retreat):
    df = hm_retreat
    assert len(df) == 159 and df.columns.tolist()[:3] == ["date", "glacier", "position_m"]
    clean = df["flags"] == ""
    assert np.isfinite(df.position_m[clean]).all() and clean.sum() == 147
    assert np.isfinite(df.position_m).all()  # multipart positions are measured too
    assert (df.position_m > 0).all() and (df.position_m < df.attrs["box_length_m"]).all()
    assert df.change_m.iloc[0] == 0.0
    net = df.position_m.iloc[-1] - df.position_m.iloc[0]
    assert -2100 < net < -1600  # about 1.9 km of retreat
    # ground metres (default): 5212 m wide on the ground, 5125 m in EPSG:3413's map metres
    assert df.attrs["metres"] == "ground"
    assert df.attrs["box_width_m"] == pytest.approx(5212, abs=5)


def test_seasonal_cycle_is_visible(hm_retreat):
    df = hm_retreat
    # independent of seasonal_summary: spring fronts lie down-flow of autumn fronts each year
    for year, g in df.groupby(df.date.dt.year):
        spring = g.position_m[g.date.dt.month.isin([3, 4, 5])].median()
        autumn = g.position_m[g.date.dt.month.isin([9, 10])].median()
        assert spring - autumn > 250, year
    s = seasonal_summary(df)
    assert list(s.index) == [2019, 2020, 2021]
    assert (s.max_date < s.min_date).all()
    assert (s.max_date.dt.month <= 6).all() and (s.min_date.dt.month >= 9).all()
    assert (s.amplitude_m > 400).all()
    fit = fit_annual_cycle(df)
    assert fit.amplitude_m > 3 * fit.amplitude_se_m and fit.amplitude_m > 100
    assert 60 < fit.peak_doy < 200  # most advanced in spring
    assert fit.trend_m_per_yr < -500


def test_centreline_along_the_box_axis_agrees(hm_fronts, hm_box, hm_retreat):
    frame = box_frame(hm_box, upstream=HM_UPSTREAM_XY)
    axis = LineString(
        [
            frame.upstream_edge.interpolate(0.5, normalized=True),
            frame.downstream_edge.interpolate(0.5, normalized=True),
        ]
    )
    import geopandas as gpd

    cl = retreat_centreline(hm_fronts, gpd.GeoSeries([axis], crs=3413))
    ok = cl["flags"] == ""
    assert ok.mean() > 0.9
    r = np.corrcoef(cl.position_m[ok], hm_retreat.position_m[ok])[0, 1]
    assert r > 0.95
    net_cl = cl.position_m.iloc[-1] - cl.position_m.iloc[0]
    net_box = hm_retreat.position_m.iloc[-1] - hm_retreat.position_m.iloc[0]
    # the fronts are concave seawards: the centre retreats more than the width average
    assert net_cl < net_box < -1500 and net_cl - net_box > -700


def test_cli_writes_the_curve_and_figure(tmp_path, harald_moltke, hm_box, hm_retreat, capsys):
    out = tmp_path / "cli"
    assert (
        main(
            [
                "retreat",
                str(harald_moltke / "lines"),
                "--box",
                str(hm_box),
                "--upstream",
                "right",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "159 dates 2019-02-28..2021-09-27" in text and "multipart: 12" in text
    table = read_retreat_table(out / "retreat_box.csv")
    assert np.allclose(table.position_m, hm_retreat.position_m)
    assert (out / "retreat_box.png").read_bytes()[:4] == b"\x89PNG"
