"""The ``workbench`` command line: thin subcommands over the package's functions.

Run ``workbench --help`` or ``workbench SUBCOMMAND --help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = ["main", "build_parser"]

_Formatter = argparse.RawDescriptionHelpFormatter


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="generate the built-in synthetic demo world",
        formatter_class=_Formatter,
        description=(
            "Generate the demo world: synthetic Sentinel-1-like time series of tidewater\n"
            "glaciers with exact ground truth. Writes per glacier a GeoTIFF stack of\n"
            "sigma0 in dB (one band per date, with a band->date table) and a Zarr store with\n"
            "every variable; a CaFFe-layout PNG export; ground-truth fronts and outlines\n"
            "as GeoPackage; a preview mosaic (preview.png) and manifest.json.\n"
            "The folder is written atomically: it is complete or absent."
        ),
        epilog=(
            "examples:\n"
            "  workbench demo                          # 3 glaciers, 2 years into ./demo_data\n"
            "  workbench demo --out /tmp/world --glaciers 5 --years 3 --seed 7\n"
            "  workbench demo --size 256 --pixel-size 40   # smaller, faster world"
        ),
    )
    p.add_argument("--out", type=Path, default=Path("demo_data"),
                   help="output folder (default: ./demo_data); replaced atomically if --force")
    p.add_argument("--glaciers", type=int, default=3, help="number of distinct glaciers (default: 3)")
    p.add_argument("--years", type=float, default=2.0,
                   help="length of each time series in years, 12-day repeat (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same world (default: 0)")
    p.add_argument("--size", type=int, default=512, help="scene size in pixels, square (default: 512)")
    p.add_argument("--pixel-size", type=float, default=20.0, help="pixel size in metres (default: 20)")
    p.add_argument("--start", default="2019-01-01", help="first acquisition date (default: 2019-01-01)")
    p.add_argument("--force", action="store_true", help="overwrite an existing demo world")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from workbench.data.demo import make_demo_world

    manifest = make_demo_world(
        args.out, n_glaciers=args.glaciers, years=args.years, seed=args.seed, size=args.size,
        pixel_size=args.pixel_size, start=args.start, overwrite=args.force, progress=True,
    )
    print(f"demo world written to {args.out}: {len(manifest['glaciers'])} glaciers, "
          f"{sum(g['n_dates'] for g in manifest['glaciers'])} dates "
          f"in {manifest['seconds']:.1f} s")
    return 0


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="describe the installation, or a dataset (demo world, stack, CaFFe folder)",
        formatter_class=_Formatter,
        description=(
            "Without PATH: versions of the workbench and its key libraries and the compute\n"
            "device 'auto' would pick. With PATH: a summary of what is there: a demo world\n"
            "(manifest.json), a scene stack (Zarr, NetCDF, GeoTIFF or a folder of GeoTIFFs)\n"
            "or a CaFFe-layout folder (sar_images/, zones/, fronts/)."
        ),
        epilog=(
            "examples:\n"
            "  workbench info\n"
            "  workbench info demo_data\n"
            "  workbench info demo_data/stacks/kongsbreen.zarr\n"
            "  workbench info ../shared/data/caffe256"
        ),
    )
    p.add_argument("path", nargs="?", type=Path, help="dataset to describe (optional)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from workbench.info import describe_environment, describe_path

    print(describe_path(args.path) if args.path is not None else describe_environment())
    return 0


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (_add_demo, _add_info)


def build_parser() -> argparse.ArgumentParser:
    """The ``workbench`` argument parser with every subcommand."""
    from workbench import __version__

    parser = argparse.ArgumentParser(
        prog="workbench",
        formatter_class=_Formatter,
        description="Glacier Workbench: calving fronts, glacier outlines and retreat curves from SAR.",
        epilog="examples:\n  workbench demo --out demo_data\n  workbench info demo_data",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workbench`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as err:
        print(f"workbench {args.func.__name__.removeprefix('_run_')}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
