"""Glacier Workbench explorer: scrub SAR time series, overlay fronts/zones/outlines, retreat curves.

Serve it with ``workbench serve [DATA ...] [--checkpoint CKPT ...]`` or directly::

    panel serve dashboards/explorer.py --args demo_data ../shared/data --checkpoint model.pt

Arguments after ``--args``: data roots (folders; default: ./demo_data and, when present,
$WORKBENCH_SHARED_DATA or ../shared/data) and ``--checkpoint`` files or folders (default: every
packaged model; each dataset offers those that apply). The server reads only inside the data roots. All logic lives in
:mod:`workbench.viz` (the layout in :mod:`workbench.viz.app`); this file only reads its arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import holoviews as hv
import panel as pn

from workbench.viz.app import explorer_app, session_params
from workbench.viz.edits import FrontCorrections
from workbench.viz.sources import DataRoots, checkpoints_in, discover
from workbench.viz.state import ExplorerState

hv.extension("bokeh", logo=False)
pn.extension(notifications=True, sizing_mode="stretch_width")

REPO = Path(__file__).resolve().parent.parent


def _parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="explorer.py")
    p.add_argument("data", nargs="*", type=Path)
    p.add_argument("--checkpoint", action="append", default=[], type=Path)
    p.add_argument("--no-shared", action="store_true", help="leave out ../shared/data")
    p.add_argument(
        "--edits", type=Path, default=None, help="writable folder for fronts corrected by hand"
    )
    args, _ = p.parse_known_args(argv)
    shared = Path(os.environ.get("WORKBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not args.data:
        args.data = [d for d in (REPO / "demo_data",) if d.is_dir()]
    if not args.no_shared and shared.is_dir():  # the real examples, when this machine has them
        args.data.append(shared)
    if not args.checkpoint:  # every packaged model (demo_zones, demo_outlines, caffe256_zones);
        from workbench.checkpoints import (
            packaged_checkpoints,
        )  # each dataset offers those that apply

        args.checkpoint.extend(packaged_checkpoints().values())
    return args


@pn.cache
def _setup(argv: tuple[str, ...]) -> tuple[DataRoots, dict, dict, FrontCorrections | None]:
    """Roots, catalogue, checkpoints and the corrected-fronts folder: once per server process."""
    args = _parse_args(list(argv))
    roots = DataRoots([d for d in args.data if Path(d).exists()])
    corrections = FrontCorrections(args.edits, roots) if args.edits is not None else None
    return roots, discover(roots), checkpoints_in(args.checkpoint), corrections


def create_app(state: ExplorerState | None = None) -> pn.template.BaseTemplate:
    """The page of one session: the view its URL asks for (else the default view)."""
    if state is None:
        roots, catalogue, checkpoints, corrections = _setup(tuple(sys.argv[1:]))
        try:
            state = ExplorerState(
                roots, catalogue, checkpoints, corrections=corrections, **session_params()
            )
        except Exception:  # noqa: BLE001 - a crafted URL falls back to the default view
            state = ExplorerState(roots, catalogue, checkpoints, corrections=corrections)
    return explorer_app(state)


if __name__.startswith("bokeh"):
    create_app().servable()
