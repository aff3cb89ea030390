"""The retreat curve's uncertainty band (model runs with TTA) and its flagged dates explained
on hover (issue 15 §3), without a browser."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.checkpoints import packaged_checkpoints
from workbench.viz.plots import RetreatView, explain_flags
from workbench.viz.state import ExplorerState, clear_predictions


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    from workbench.data.demo import make_demo_world

    root = tmp_path_factory.mktemp("band") / "world"
    make_demo_world(root, n_glaciers=1, years=0.2, size=128, pixel_size=40)
    return root


def test_band_around_predicted_positions_with_tta_only(small_world):
    clear_predictions()
    ck = packaged_checkpoints()["demo_zones"]
    plain = ExplorerState.from_paths([small_world], checkpoints=[ck])
    plain.run_model()
    df = plain.retreat()
    assert df[["low_m", "high_m"]].isna().all().all()  # one member: no spread, no band
    tta = ExplorerState.from_paths([small_world], checkpoints=[ck], tta=True)
    tta.run_model()
    df = tta.retreat()
    pred = df[(df["source"] == "predicted") & np.isfinite(df["position_m"])]
    assert len(pred) and pred["low_m"].notna().all()
    assert (pred["low_m"] <= pred["position_m"] + 1e-6).all()
    assert (pred["position_m"] <= pred["high_m"] + 1e-6).all()
    assert (pred["high_m"] - pred["low_m"]).max() > 0  # the demo model's members disagree somewhere
    assert df.loc[df["source"] == "reference", ["low_m", "high_m"]].isna().all().all()
    view = RetreatView(tta)
    assert len(view.band.data["date"]) == len(pred)
    assert view.legend_items["predicted: TTA/ensemble spread"].visible
    assert not RetreatView(plain).legend_items["predicted: TTA/ensemble spread"].visible
    clear_predictions()


def test_flagged_dates_explained():
    assert explain_flags("") == ""
    text = explain_flags("multipart:6;crosses_downstream_edge")
    assert "into 6 pieces" in text and "downstream of the box" in text
    assert explain_flags("not_a_flag") == "not_a_flag"


@pytest.mark.browser
def test_band_and_flag_explanations_in_the_browser(page, server):
    from _dashboard_helpers import renderer_data, wait_plot, wait_until

    page.set_default_timeout(60_000)
    page.goto(server, timeout=60_000)
    wait_plot(page, "wb-retreat")
    page.get_by_label("Checkpoint").select_option("demo_zones.pt")
    page.locator(".wb-tta input").check()
    page.get_by_role("button", name="Run model on this glacier").click()
    page.wait_for_selector("text=predictions (zones)", timeout=120_000)
    band = wait_until(lambda: (d := renderer_data(page, "band", "wb-retreat")) and d["date"] and d)
    assert band and all(lo <= hi for lo, hi in zip(band["low"], band["high"], strict=True))
    flagged = renderer_data(page, "flagged", "wb-retreat")
    assert "why" in flagged  # the hover's explanation column
    assert all(w for w in flagged["why"])  # every flagged date is explained
