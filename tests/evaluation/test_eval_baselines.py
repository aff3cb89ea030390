"""Model-free baselines (docs/science.md §4): the fixed-front baseline against a hand-computed case
and an independent re-implementation, the complete MDE, the persistence baseline, and the
baselines in ``evaluate``'s summary and report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.data.caffe import write_caffe_sample
from workbench.errors import DataError
from workbench.evaluation import zones_to_front
from workbench.evaluation.baselines import FixedFront, previous_acquisition
from workbench.evaluation.evaluate import evaluate
from workbench.evaluation.fronts import front_distances
from workbench.models import SegmentationOutput, create_model, read_checkpoint_info, save_checkpoint


def _reference_fixed_front(fronts: list[np.ndarray]) -> np.ndarray:
    """docs/science.md §4.1 written out plainly: count every front pixel over the training masks, take
    the N most frequent (N = median length), ties to the lower row-major index."""
    h, w = fronts[0].shape
    counts: dict[int, int] = {}
    lengths = []
    for f in fronts:
        idx = [int(i) for i in np.flatnonzero(f)]
        if not idx:
            continue
        lengths.append(len(idx))
        for i in idx:
            counts[i] = counts.get(i, 0) + 1
    n = int(round(float(np.median(lengths))))
    chosen = sorted(counts, key=lambda i: (-counts[i], i))[:n]
    out = np.zeros(h * w, bool)
    out[chosen] = True
    return out.reshape(h, w)


def test_fixed_front_hand_computed():
    a, b, c = (np.zeros((5, 5), bool) for _ in range(3))
    a[:, 1] = True  # 5 px at column 1
    b[:3, 1] = True  # 3 px at column 1
    b[3:, 2] = True  # 2 px at column 2  → length 5
    c[1:4, 3] = True  # 3 px at column 3  → lengths 5, 5, 3: median 5
    base = FixedFront.from_fronts([a, b, c, np.zeros((5, 5), bool)])
    assert base.length == 5 and base.n_images == 3
    m = base.mask((5, 5))
    # counts: (0..2, 1) = 2, (3..4, 1) = 1, (3..4, 2) = 1, (1..3, 3) = 1; the 5 most frequent:
    # the three 2s, then the two lowest row-major indices among the 1s: (1, 3) and (2, 3)
    assert sorted(map(tuple, np.argwhere(m).tolist())) == [(0, 1), (1, 1), (1, 3), (2, 1), (2, 3)]
    with pytest.raises(DataError, match="no training image has a front"):
        FixedFront.from_fronts([np.zeros((4, 4), bool)])


def test_fixed_front_matches_an_independent_reimplementation():
    rng = np.random.default_rng(0)
    for trial in range(20):
        h, w = rng.integers(8, 40, 2)
        fronts = []
        for _ in range(rng.integers(1, 12)):
            f = np.zeros((h, w), bool)
            col = rng.integers(0, w)
            rows = rng.integers(0, h, rng.integers(0, h))
            f[rows, np.clip(col + rng.integers(-2, 3, len(rows)), 0, w - 1)] = True
            fronts.append(f)
        if not any(f.any() for f in fronts):
            continue
        got = FixedFront.from_fronts(fronts).mask((h, w))
        np.testing.assert_array_equal(got, _reference_fixed_front(fronts), err_msg=str(trial))


def test_fixed_front_round_trips_through_a_checkpoint(tmp_path):
    f = np.zeros((16, 16), bool)
    f[2:14, 7] = True
    base = FixedFront.from_fronts([f, np.roll(f, 1, axis=1)])
    path = save_checkpoint(
        create_model("caffe_unet", preset="small"),
        tmp_path / "m.pt",
        baselines={"fixed_front": base.to_dict()},
    )
    info = read_checkpoint_info(path)
    assert FixedFront.from_dict(info.baselines["fixed_front"]) == base


def test_persistence_pairs_follow_dates_per_glacier_and_size():
    metas = [
        {"glacier": "A", "date": "2020-03-01"},
        {"glacier": "A", "date": "2020-01-01"},
        {"glacier": "A", "date": "2020-02-01"},
        {"glacier": "B", "date": "2020-01-01"},
    ]
    assert previous_acquisition(metas, [(8, 8)] * 4) == [2, None, 1, None]
    # an image of another size is another crop: no persistence across it
    assert previous_acquisition(metas, [(8, 8), (8, 8), (9, 9), (8, 8)]) == [1, None, None, None]


# --------------------------------------------------------------------------- in evaluate


def _zones(col: int) -> np.ndarray:
    z = np.full((48, 48), 2, np.int64)
    z[:, col:] = 3
    z[:8, :] = 1
    return z


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
    """CaFFe layout: train/ (JAC, fronts at column 20), test/ (SI, columns 30, 32, 34)."""
    root = tmp_path_factory.mktemp("caffe-split")
    for split, glacier, cols in (("train", "JAC", (20, 20, 20)), ("test", "SI", (30, 32, 34))):
        for k, col in enumerate(cols):
            z = _zones(col)
            stem = f"{glacier}_2010-0{k + 1}-01_TSX_7_1_005"
            write_caffe_sample(
                root / split,
                stem,
                (z * 80).astype(np.uint8),
                z,
                zones_to_front(z, 7.0, min_cluster_px=0),
            )
    return root


class AllGlacier(torch.nn.Module):
    """Never predicts ocean, so never a front."""

    def forward(self, x):
        logits = torch.full((x.shape[0], 4, *x.shape[-2:]), -5.0)
        logits[:, 2] = 5.0
        return SegmentationOutput(logits)


class Oracle(torch.nn.Module):
    def forward(self, x):
        cls = torch.round(x[:, :1] * 255 / 80).clamp(0, 3)
        return SegmentationOutput(-20.0 * (cls - torch.arange(4.0).view(1, 4, 1, 1)) ** 2)


def test_a_model_that_finds_no_front_scores_exactly_the_baseline(split_folder, tmp_path):
    s = evaluate(
        AllGlacier(),
        split_folder,
        out=tmp_path,
        split="test",
        resolution="meta",
        min_cluster_px=0,
        device="cpu",
        window=32,
        figures=False,
    )
    assert s["n_no_front"] == 3 and s["mde"] is None
    assert s["fixed_front_source"] == "the data's training split"
    # by hand: training fronts at column 20 → the fixed front is column 20 (40 rows);
    # the test fronts at 30, 32, 34 are 10, 12, 14 px away: pooled both ways, × 7 m
    expected = np.mean(np.concatenate([np.full(80, d) for d in (10, 12, 14)])) * 7.0
    assert s["fixed_front_mde"] == pytest.approx(expected)
    assert s["complete_mde"] == pytest.approx(s["fixed_front_mde"])
    assert s["model_vs_fixed_front"] == pytest.approx(1.0)
    # persistence: 2nd and 3rd test images predicted by the previous reference (2 px off)
    assert s["persistence_mde"] == pytest.approx(2 * 7.0) and s["persistence_n_images"] == 2
    md = (tmp_path / "metrics.md").read_text()
    assert "fixed-front baseline" in md and "persistence baseline" in md
    assert "NOT better than the model-free guess" in md


def test_a_perfect_model_beats_the_baseline_and_says_so(split_folder, tmp_path):
    s = evaluate(
        Oracle(),
        split_folder,
        out=tmp_path,
        split="test",
        resolution="meta",
        min_cluster_px=0,
        device="cpu",
        window=32,
        figures=False,
    )
    assert s["mde"] == 0.0 and s["complete_mde"] == 0.0 and s["fixed_front_mde"] > 50
    assert s["model_vs_fixed_front"] == 0.0
    assert "better than the model-free guess" in (tmp_path / "metrics.md").read_text()


def test_complete_mde_mixes_model_and_baseline_distances(split_folder):
    """Pooled by hand: model distances where it found a front, baseline distances elsewhere."""

    class FirstOnly(torch.nn.Module):  # the oracle on the first test image, nothing after
        calls = 0

        def forward(self, x):
            FirstOnly.calls += 1
            return (Oracle() if FirstOnly.calls == 1 else AllGlacier())(x)

    s = evaluate(
        FirstOnly(),
        split_folder,
        split="test",
        resolution="meta",
        min_cluster_px=0,
        device="cpu",
        window=48,
        overlap=0.0,
        figures=False,
    )
    assert s["n_no_front"] == 2 and s["mde"] == 0.0
    base = np.zeros((48, 48), bool)
    base[8:, 20] = True
    d = [np.zeros(80)] + [
        front_distances(base, zones_to_front(_zones(c), 7.0, min_cluster_px=0)) for c in (32, 34)
    ]
    assert s["complete_mde"] == pytest.approx(np.concatenate(d).mean() * 7.0)


def test_the_packaged_demo_zone_model_carries_its_fixed_front():
    from workbench.checkpoints import demo_checkpoint

    stored = read_checkpoint_info(demo_checkpoint("zones")).baselines["fixed_front"]
    base = FixedFront.from_dict(stored)
    assert base.shape == (128, 128) and base.length == 40 and base.n_images == 310
