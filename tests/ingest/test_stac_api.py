"""``workbench stack URL``: the API path, against a real STAC API server (``rustac serve``, an
in-memory STAC API from the rustac package) on 127.0.0.1 over the test catalogue, searched
with pystac-client. The stack equals the one built from the static catalogue, and an empty
search or an AOI outside the items say so."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _stac_helpers import EXPECTED, StacServer, aoi_box, build_catalogue, item_collection

from workbench.cli import main
from workbench.data.stack import open_stack

DATES = "2019-04-01/2019-05-31"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("stac")
    catalogue = build_catalogue(root / "catalogue")
    items, collection = item_collection(catalogue, root / "api")
    with StacServer(collection, items) as server:
        yield catalogue, server.url


def test_api_search_builds_the_same_stack_as_the_static_catalogue(served, tmp_path, capsys):
    catalogue, url = served
    common = ["--aoi", aoi_box(), "--datetime", DATES, "--no-progress"]
    assert (
        main(
            [
                "stack",
                url,
                "--collection",
                "sentinel-1-rtc",
                *common,
                "--out",
                str(tmp_path / "api"),
            ]
        )
        == 0
    )
    assert "from sentinel-1-rtc" in capsys.readouterr().out
    assert main(["stack", str(catalogue), *common, "--out", str(tmp_path / "static")]) == 0
    api = open_stack(tmp_path / "api" / "aoi.zarr")
    static = open_stack(tmp_path / "static" / "aoi.zarr")
    assert list(api.time.values) == sorted(EXPECTED)
    assert api.rio.crs == static.rio.crs and api.sizes == static.sizes
    xr.testing.assert_identical(api.sigma0_db.drop_attrs(), static.sigma0_db.drop_attrs())
    assert api.attrs["source"] == url
    assert list(api.product_id.values) == list(static.product_id.values)


def test_api_search_without_collection_and_with_orbit(served, tmp_path):
    _, url = served
    assert (
        main(
            [
                "stack",
                url,
                "--aoi",
                aoi_box(),
                "--datetime",
                DATES,
                "--orbit",
                "15",
                "--out",
                str(tmp_path),
                "--no-progress",
            ]
        )
        == 0
    )
    stack = open_stack(tmp_path / "aoi.zarr")
    assert [str(t)[:10] for t in stack.time.values] == ["2019-04-01", "2019-04-13", "2019-04-25"]
    np.testing.assert_allclose(stack.sigma0_db.isel(time=2).values, 10 * np.log10(0.2), atol=1e-4)


def test_api_empty_search_and_aoi_outside(served, tmp_path, capsys):
    _, url = served
    code = main(
        [
            "stack",
            url,
            "--collection",
            "sentinel-1-rtc",
            "--aoi",
            aoi_box(),
            "--datetime",
            "2020-01-01/2020-03-01",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"{url}: has no items of collection 'sentinel-1-rtc' between 2020-01-01 and 2020-03-01: "
        "the search is empty (items found span 2019-04-01..2019-05-07)"
    ) in err
    code = main(
        [
            "stack",
            url,
            "--collection",
            "sentinel-1-rtc",
            "--aoi=-20.0,64.0,-19.9,64.1",
            "--datetime",
            DATES,
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "the AOI -20.0,64.0,-19.9,64.1 lies outside all items of collection" in err
    assert list(tmp_path.iterdir()) == []


def test_unreachable_api_is_a_clear_error(tmp_path, capsys):
    from _stac_helpers import free_port

    url = f"http://127.0.0.1:{free_port()}/stac"
    code = main(
        [
            "stack",
            url,
            "--aoi",
            aoi_box(),
            "--datetime",
            DATES,
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and f"{url}: cannot be opened as a STAC API or catalogue" in err
