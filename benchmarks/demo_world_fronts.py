r"""How the demo zone model does on a world written by ``workbench demo``, the way the
dashboard uses it (Markdown table).

The packaged ``demo_zones`` model works at 80 m; the world that ``make serve`` writes is
512² px at 20 m, which ``predict`` resamples to 80 m (anti-aliased, so the speckle is
averaged over 4 × 4 pixels). For each checkpoint and glacier of the world this runs the
model exactly as the dashboard's "Run model" button does
(:meth:`workbench.viz.ExplorerState.run_model`), then reports:

- the pooled MDE (m) of the predicted fronts against the world's reference fronts and the
  number of images without a predicted front (:func:`workbench.evaluation.evaluate`,
  ``split="all"``, the same predictions' definition as the CaFFe benchmark);
- the retreat curve (box method, the dashboard's terminus-position plot): how many dated
  predicted positions carry a flag (unreliable: the line does not separate the box, crosses
  an edge…), and the mean absolute difference between predicted and reference positions on
  the unflagged dates.

Compare checkpoints in one run (same world, same process)::

    python benchmarks/demo_world_fronts.py demo_data                       # packaged model
    python benchmarks/demo_world_fronts.py demo_data --checkpoints old.pt new.pt

Not a test: nothing is asserted. Takes about 1 min per checkpoint and glacier on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(
    world: Path, checkpoint: Path, glaciers: list[str] | None = None
) -> list[dict[str, Any]]:
    """One row per glacier: MDE, no-front count, flagged retreat positions, position error."""
    from workbench.evaluation.evaluate import evaluate
    from workbench.viz.state import ExplorerState, clear_predictions

    state = ExplorerState.from_paths([world], checkpoints=[checkpoint])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        summary = evaluate(checkpoint, world, out=tmp, split="all", device="cpu", figures=False)
        per_glacier = summary.get("mde_by_glacier") or {}
    for name in glaciers or list(state.param.glacier.objects):
        state.glacier = name
        t0 = time.perf_counter()
        state.run_model()
        run_s = time.perf_counter() - t0
        df = state.retreat()
        pred = df[df.source == "predicted"].set_index("date")
        ref = df[df.source == "reference"].set_index("date")
        flagged = int((pred["flags"].fillna("") != "").sum())
        clean = pred[pred["flags"].fillna("") == ""]
        both = clean.index.intersection(ref.index)
        err = (clean.loc[both, "position_m"] - ref.loc[both, "position_m"]).abs()
        g = per_glacier.get(name, {})
        rows.append(
            {
                "checkpoint": checkpoint.name,
                "glacier": name,
                "dates": len(state.series),
                "mde_m": g.get("mde_m"),
                "no_front": g.get("n_no_front"),
                "flagged": flagged,
                "positions": len(pred),
                "position_mae_m": float(err.mean()) if len(err) else float("nan"),
                "run_s": run_s,
            }
        )
        clear_predictions()
    rows.append(
        {
            "checkpoint": checkpoint.name,
            "glacier": "all",
            "dates": None,
            "mde_m": summary.get("mde_m"),
            "no_front": summary.get("n_no_front"),
            "flagged": sum(r["flagged"] for r in rows),
            "positions": sum(r["positions"] for r in rows),
            "position_mae_m": float(np.nanmean([r["position_mae_m"] for r in rows])),
            "run_s": sum(r["run_s"] for r in rows),
        }
    )
    return rows


def _fmt(v: Any, d: int = 0) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    return f"{v:.{d}f}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    from workbench.checkpoints import demo_checkpoint

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("world", type=Path, help="a folder written by `workbench demo`, e.g. demo_data")
    p.add_argument(
        "--checkpoints",
        type=Path,
        nargs="+",
        default=None,
        help="zone checkpoints (default: the packaged demo_zones)",
    )
    p.add_argument("--glaciers", nargs="+", default=None, help="default: every glacier")
    a = p.parse_args(argv)
    cks = a.checkpoints or [Path(demo_checkpoint("zones"))]
    print(
        "| checkpoint | glacier | dates | MDE (m) | no front | flagged positions | "
        "position error (m, unflagged) | model run (s) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for ck in cks:
        for r in measure(a.world, ck, a.glaciers):
            print(
                f"| {r['checkpoint']} | {r['glacier']} | {_fmt(r['dates'])} | "
                f"{_fmt(r['mde_m'])} | {_fmt(r['no_front'])} | {r['flagged']}/{r['positions']} | "
                f"{_fmt(r['position_mae_m'])} | {_fmt(r['run_s'], 1)} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
