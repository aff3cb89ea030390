"""One detector of what a folder is (workbench.data.kinds), and the commands that use it."""

from __future__ import annotations

import pytest

from workbench.data.demo import MANIFEST
from workbench.data.kinds import DATASET_KINDS, detect_dataset_kind, is_stack_path
from workbench.errors import DataError
from workbench.info import describe_path


def _make(root, files=(), dirs=()):
    root.mkdir(parents=True, exist_ok=True)
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("x")
    return root


@pytest.mark.parametrize(
    ("files", "dirs", "kind", "reason"),
    [
        ([MANIFEST], ["sar_images", "stacks/a.zarr"], "demo_world", MANIFEST),
        (["_summary.json"], [], "products", "_summary.json"),
        (["scene_a/_SUCCESS", "scene_a/zones.tif"], [], "products", "1 scene folder"),
        ([], ["sar_images", "zones"], "caffe", "sar_images/"),
        ([], ["train/sar_images", "test/sar_images"], "caffe", "test/sar_images/"),
        ([], ["lines/kangerlussuaq", "box"], "lines", "lines/ and box/"),
        (["b.nc"], ["a.zarr"], "stacks", "2 scene stack(s)"),
        (["s.tif", "s.dates.csv"], [], "stacks", "1 scene stack(s)"),
        (["s1_2020-01-01.tif", "s1_2020-01-13.tif"], [], "stack", "2 GeoTIFF(s)"),
        (["notes.txt"], [], "unknown", "['notes.txt']"),
    ],
)
def test_every_kind_is_detected_with_its_reason(tmp_path, files, dirs, kind, reason):
    found = detect_dataset_kind(_make(tmp_path / "d", files, dirs))
    assert (found.kind, found.path) == (kind, tmp_path / "d") and kind in DATASET_KINDS
    assert reason in found.reason


def test_single_stacks_and_missing_paths(tmp_path):
    zarr = _make(tmp_path / "k.zarr", ["zarr.json"])
    assert detect_dataset_kind(zarr).kind == "stack"
    assert detect_dataset_kind(_make(tmp_path / "plain", [".zgroup"])).kind == "stack"
    assert detect_dataset_kind(_make(tmp_path, ["scene.nc"]) / "scene.nc").kind == "stack"
    assert detect_dataset_kind(_make(tmp_path, ["a.csv"]) / "a.csv").kind == "unknown"
    assert is_stack_path(tmp_path / "x.zarr") and not is_stack_path(tmp_path / ".x.zarr")
    with pytest.raises(DataError, match="nowhere: does not exist"):
        detect_dataset_kind(tmp_path / "nowhere")


def test_info_says_what_a_folder_is(tmp_path):
    out = describe_path(_make(tmp_path / "out", ["scene_a/_SUCCESS"]))
    assert out.startswith("`workbench predict` products at") and "_SUCCESS" in out
    out = describe_path(_make(tmp_path / "many", ["a.nc", "b.nc"]))
    assert "a folder of scene stacks" in out and "2 scene stack(s)" in out
