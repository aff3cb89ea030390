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
            "  workbench demo --size 256 --pixel-size 40 --glaciers 2 --years 1   # small, quick"
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("demo_data"),
        help="output folder (default: ./demo_data); replaced atomically if --force",
    )
    p.add_argument(
        "--glaciers", type=int, default=3, help="number of distinct glaciers (default: 3)"
    )
    p.add_argument(
        "--years",
        type=float,
        default=2.0,
        help="length of each time series in years, 12-day repeat (default: 2)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="random seed; same seed, same world (default: 0)"
    )
    p.add_argument(
        "--size", type=int, default=512, help="scene size in pixels, square (default: 512)"
    )
    p.add_argument(
        "--pixel-size", type=float, default=20.0, help="pixel size in metres (default: 20)"
    )
    p.add_argument(
        "--start", default="2019-01-01", help="first acquisition date (default: 2019-01-01)"
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing demo world")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from workbench.data.demo import make_demo_world

    manifest = make_demo_world(
        args.out,
        n_glaciers=args.glaciers,
        years=args.years,
        seed=args.seed,
        size=args.size,
        pixel_size=args.pixel_size,
        start=args.start,
        overwrite=args.force,
        progress=True,
    )
    print(
        f"demo world written to {args.out}: {len(manifest['glaciers'])} glaciers, "
        f"{sum(g['n_dates'] for g in manifest['glaciers'])} dates "
        f"in {manifest['seconds']:.1f} s"
    )
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
            "  workbench info demo_data/stacks/Isbjornkloa.zarr\n"
            "  workbench info ../shared/data/caffe256"
        ),
    )
    p.add_argument("path", nargs="?", type=Path, help="dataset to describe (optional)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    from workbench.info import describe_environment, describe_path

    print(describe_path(args.path) if args.path is not None else describe_environment())
    return 0


def _add_run_parser(
    sub: argparse._SubParsersAction,
    name: str,
    *,
    help: str,
    description: str,
    examples: str,
    what: str,
    example_config: str,
    example_overrides: str,
    func: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    """The parser of ``workbench train`` and ``workbench pretrain``: CONFIG, dotted KEY=VALUE
    overrides (anywhere on the line: :func:`main` adds the words argparse leaves over), and
    the run options ``--resume``, ``--overwrite``, ``--run-dir``, ``--print-config``, ``--list``."""
    p = sub.add_parser(
        name, help=help, formatter_class=_Formatter, description=description, epilog=examples
    )
    p.add_argument("config", nargs="?", help=f"YAML config file or {what}, e.g. {example_config}")
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help=f"dotted overrides, e.g. {example_overrides} (options may come before, between "
        "or after them)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUTPUT_DIR/NAME/checkpoints/last.ckpt (starts from scratch "
        f"if there is none), e.g. workbench {name} {example_config} --resume",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"delete an existing run folder first, e.g. workbench {name} {example_config} "
        "--overwrite",
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="run folder instead of OUTPUT_DIR/NAME, e.g. --run-dir runs/exp1",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config (every option, as YAML) and exit, e.g. "
        f"workbench {name} {example_config} --print-config",
    )
    p.add_argument(
        "--list",
        action="store_true",
        help=f"list the packaged {what}s and exit, e.g. workbench {name} --list",
    )
    p.set_defaults(func=func, _overrides_anywhere=True)
    return p


def _config_and_overrides(args: argparse.Namespace, packaged: list[str]) -> None:
    from workbench.errors import ConfigError

    if args.config is None:
        raise ConfigError(
            "is missing", variable="CONFIG", expected=f"a YAML file or one of {packaged}"
        )
    if "=" in args.config:
        raise ConfigError(
            f"is {args.config!r}, an override",
            variable="CONFIG",
            expected="the config first, then KEY=VALUE overrides",
        )


def _add_train(sub: argparse._SubParsersAction) -> None:
    _add_run_parser(
        sub,
        "train",
        help="train a model from a YAML config (Lightning; resumable; exports best.pt)",
        description=(
            "Train a segmentation model from a config: a YAML file or the name of a packaged\n"
            "config (ssl4sar_hybrid_caffe, caffe_unet_caffe, icemapper3d_s1, convlstm_unet_s1,\n"
            "glavitu, demo_zones, demo_outlines). Any option can be overridden with dotted\n"
            "KEY=VALUE pairs (values are YAML: 3, 1e-3, null, [4, 8]). The run folder\n"
            "OUTPUT_DIR/NAME gets config.yaml, checkpoints/last.ckpt (for --resume),\n"
            "checkpoints/best-*.ckpt, best.pt (the best model in the workbench format, for\n"
            "load_model and inference), CSV logs and TensorBoard logs when installed."
        ),
        examples=(
            "examples:\n"
            "  workbench train demo_zones                              # CPU demo, a few minutes\n"
            "  workbench train demo_outlines trainer.max_epochs=3 name=quick\n"
            "  workbench train ssl4sar_hybrid_caffe data.root=/data/CaFFe trainer.devices=4 \\\n"
            "      trainer.strategy=ddp\n"
            "  workbench train my_config.yaml optimizer.lr=1e-3 model.kwargs.front_head=true\n"
            "  workbench train demo_zones --resume                     # continue after a crash\n"
            "  workbench train demo_zones --overwrite                  # start the run again\n"
            "  workbench train demo_zones --run-dir /tmp/run1          # explicit run folder\n"
            "  workbench train demo_zones --print-config               # show every option\n"
            "  workbench train --list                                  # the packaged configs"
        ),
        what="packaged config",
        example_config="demo_zones",
        example_overrides="trainer.max_epochs=3 data.root=/data/CaFFe optimizer.lr=1e-3 name=run2",
        func=_run_train,
    )


def _run_train(args: argparse.Namespace) -> int:
    from workbench.training.config import dump_config, list_configs, load_config

    if args.list:
        print("\n".join(list_configs()))
        return 0
    _config_and_overrides(args, list_configs())
    if args.print_config:
        print(dump_config(load_config(args.config, args.overrides)), end="")
        return 0
    from workbench.training.fit import fit

    result = fit(
        args.config,
        overrides=args.overrides,
        resume=args.resume,
        overwrite=args.overwrite,
        run_dir=args.run_dir,
    )
    score = "n/a" if result.best_score is None else f"{result.best_score:.4g}"
    print(
        f"{'interrupted' if result.interrupted else 'done'}: {result.epochs} epoch(s) in "
        f"{result.seconds:.0f} s; best {result.monitor} = {score}; model: {result.best_checkpoint}"
    )
    if result.interrupted:
        print("resume with: workbench train ... --resume", file=sys.stderr)
        return 130
    return 0


def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    _add_run_parser(
        sub,
        "pretrain",
        help="SSL4SAR self-supervised pretraining of the Swin V2 encoder (OptSimMIM, "
        "OptTranslator)",
        description=(
            "Pretrain the encoder of ssl4sar_hybrid without labels, as SSL4SAR does: every SAR\n"
            "crop is paired with the same window of its glacier's one optical image, and the\n"
            "network learns to predict the optical values of masked SAR tokens (method:\n"
            "optsimmim, 30 % of the 4x4 px tokens masked, L1 on the masked tokens) or to\n"
            "translate the whole SAR crop into the optical image (method: opttranslator).\n"
            "CONFIG is a YAML file or a packaged pretraining config (demo_pretrain,\n"
            "pretrain_optsimmim, pretrain_opttranslator); KEY=VALUE pairs override it. The run\n"
            "folder OUTPUT_DIR/NAME gets config.yaml, encoder.pt (the encoder of the best\n"
            "epoch, by validation loss), checkpoints/last.ckpt (for --resume) and CSV logs.\n"
            "Fine-tune from it with\n"
            "`workbench train CONFIG init.encoder=OUTPUT_DIR/NAME/encoder.pt`."
        ),
        examples=(
            "examples:\n"
            "  workbench pretrain demo_pretrain                        # CPU demo, ~2 minutes\n"
            "  workbench pretrain demo_pretrain method=opttranslator optimizer.lr=0.05\n"
            "  workbench pretrain pretrain_optsimmim data.root=/data/ssl4sar_stacks \\\n"
            "      trainer.devices=4 trainer.strategy=ddp\n"
            "  workbench pretrain demo_pretrain --resume               # continue after a crash\n"
            "  workbench pretrain demo_pretrain --overwrite            # start the run again\n"
            "  workbench pretrain demo_pretrain --run-dir /tmp/ssl1    # explicit run folder\n"
            "  workbench pretrain demo_pretrain --print-config         # show every option\n"
            "  workbench pretrain --list                               # the packaged configs\n"
            "  workbench train demo_zones model.name=ssl4sar_hybrid model.preset=small \\\n"
            "      'model.kwargs={}' init.encoder=runs/demo_pretrain/encoder.pt   # fine-tune"
        ),
        what="packaged pretraining config",
        example_config="demo_pretrain",
        example_overrides="method=opttranslator trainer.max_epochs=3 data.root=/data/stacks",
        func=_run_pretrain,
    )


def _run_pretrain(args: argparse.Namespace) -> int:
    from workbench.training.config import (
        dump_pretrain_config,
        list_pretrain_configs,
        load_pretrain_config,
    )

    if args.list:
        print("\n".join(list_pretrain_configs()))
        return 0
    _config_and_overrides(args, list_pretrain_configs())
    if args.print_config:
        print(dump_pretrain_config(load_pretrain_config(args.config, args.overrides)), end="")
        return 0
    from workbench.training.pretrain import pretrain

    result = pretrain(
        args.config,
        overrides=args.overrides,
        resume=args.resume,
        overwrite=args.overwrite,
        run_dir=args.run_dir,
    )
    score = "n/a" if result.best_score is None else f"{result.best_score:.4g}"
    print(
        f"{'interrupted' if result.interrupted else 'done'}: {result.epochs} epoch(s) in "
        f"{result.seconds:.0f} s; best {result.monitor} = {score}; encoder: "
        f"{result.best_checkpoint}"
    )
    print(f"fine-tune with: workbench train CONFIG init.encoder={result.best_checkpoint}")
    if result.interrupted:
        print("resume with: workbench pretrain ... --resume", file=sys.stderr)
        return 130
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict many scenes in parallel on Dask (zones/mask, confidence, fronts, outlines)",
        formatter_class=_Formatter,
        description=(
            "Predict every scene stack of an archive with a trained model (or an ensemble)\n"
            "and write per-scene products into OUT/<scene>/: zones.tif or mask.tif,\n"
            "confidence.tif, uncertainty.tif (with --tta or several checkpoints) as COGs,\n"
            "fronts.gpkg and outlines.gpkg, and a _SUCCESS manifest written last.\n"
            "INPUTS are scene stacks (.zarr, .nc, .tif, folders of per-date GeoTIFFs),\n"
            "folders of stacks, or glob patterns. Scenes run in parallel on a local Dask\n"
            "cluster, or on an existing one with --scheduler. Runs are resumable: complete\n"
            "scenes made with the same checkpoint and options are skipped, and a killed run\n"
            "leaves no half-written scene. A failing scene does not stop the others; the\n"
            "exit status is 1 when any scene failed."
        ),
        epilog=(
            "examples:\n"
            "  workbench predict demo_data/stacks --checkpoint runs/demo_zones/best.pt --out preds\n"
            "  workbench predict '/data/s1/*.zarr' --checkpoint best.pt --out preds --workers 4\n"
            "  workbench predict a.zarr b.zarr --checkpoint m1.pt --checkpoint m2.pt --tta --out ens\n"
            "  workbench predict /data/s1 --checkpoint best.pt --out preds \\\n"
            "      --scheduler tcp://10.0.0.5:8786          # an existing Dask cluster\n"
            "  workbench predict tiles/ --checkpoint ice.pt --out masks --temporal window --steps 15\n"
            "  workbench predict tiles/ --checkpoint best.pt --out preds --window 384 --overlap 0.5"
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUTS",
        help="scene stacks, folders of stacks or glob patterns, e.g. demo_data/stacks "
        "or '/data/*.zarr'",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        type=Path,
        metavar="CKPT",
        help="model checkpoint (save_checkpoint / best.pt); repeat for an ensemble, "
        "e.g. --checkpoint m1.pt --checkpoint m2.pt",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder, one sub-folder per scene, e.g. --out preds",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running Dask scheduler instead of a local cluster, "
        "e.g. --scheduler tcp://10.0.0.5:8786",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="workers of the local cluster, each with its own model copy "
        "(default: 2), e.g. --workers 4",
    )
    p.add_argument(
        "--threads-per-worker",
        type=int,
        default=1,
        metavar="N",
        help="threads per local worker (default: 1), e.g. --threads-per-worker 2",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the local workers as threads of this process (lighter start, one "
        "model copy), e.g. --in-process --workers 2",
    )
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation with the 4 rotations; adds uncertainty.tif, e.g. --tta",
    )
    p.add_argument(
        "--window",
        type=int,
        default=None,
        metavar="PX",
        help="window side in model pixels (default: the checkpoint's validation "
        "window, else 384), e.g. --window 384",
    )
    p.add_argument(
        "--overlap",
        type=float,
        default=0.5,
        help="overlap of neighbouring windows, 0 ≤ overlap < 1 (default: 0.5, "
        "stride = half a window), e.g. --overlap 0.5",
    )
    p.add_argument(
        "--weighting",
        choices=("gaussian", "cosine", "uniform"),
        default="gaussian",
        help="blending weights of overlapping windows (default: gaussian), e.g. --weighting cosine",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=8,
        metavar="N",
        help="windows per forward pass (default: 8), e.g. --batch-size 32 on a GPU",
    )
    p.add_argument(
        "--temporal",
        choices=("year", "window", "all"),
        default="year",
        help="time-series models: one map per calendar year (default), per date from "
        "the last --steps acquisitions, or one from all; e.g. --temporal window",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="N",
        help="acquisitions per time-series prediction (default: the checkpoint's "
        "time_steps), e.g. --steps 15",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="device of each worker: auto (its GPU if any), cpu, cuda, cuda:1 "
        "(default: auto), e.g. --device cpu",
    )
    p.add_argument(
        "--products",
        default="labels,confidence,uncertainty,fronts,outlines",
        metavar="LIST",
        help="comma-separated products: labels, confidence, uncertainty, fronts, "
        "outlines, probabilities (keeps prediction.zarr); e.g. "
        "--products labels,confidence",
    )
    p.add_argument(
        "--max-memory-mb",
        type=float,
        default=1024.0,
        metavar="MB",
        help="working-memory budget per scene tile (default: 1024), e.g. --max-memory-mb 4096",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="predict complete scenes again instead of skipping them, e.g. --overwrite",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (e.g. in batch jobs), e.g. --no-progress",
    )
    p.set_defaults(func=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from workbench.inference import predict_archive

    summary = predict_archive(
        args.inputs,
        args.checkpoint,
        args.out,
        scheduler=args.scheduler,
        n_workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        processes=not args.in_process,
        tta=args.tta,
        window=args.window,
        overlap=args.overlap,
        weighting=args.weighting,
        batch_size=args.batch_size,
        temporal=args.temporal,
        steps=args.steps,
        device=args.device,
        products=[s.strip() for s in args.products.split(",") if s.strip()],
        max_memory_mb=args.max_memory_mb,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(summary.report())
    return 0 if summary.ok else 1


def _add_retreat(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retreat",
        help="terminus retreat curve from dated front lines (box or centre-line method)",
        formatter_class=_Formatter,
        description=(
            "Measure the terminus position of every dated front line with the rectilinear-box\n"
            "method (Moon & Joughin 2008, --box) or along a centre line (--centerline) and\n"
            "write OUT/retreat_<method>.csv (date, position_m, change_m, method, flags,\n"
            "n_parts) and OUT/retreat_<method>.png (the curve and its seasonal cycle), each\n"
            "atomically. FRONTS is a folder of dated files (lines/<name>/<YYYYMMDD>/\n"
            "<name>_<YYYYMMDD>.shp) or one GeoPackage/GeoJSON with a date column. Lines that\n"
            "split the box into more than two parts, lines extended to cross it and lines\n"
            "that miss it are flagged, not dropped. The upstream end of the box is never\n"
            "assumed (no rule on the lines' shapes is reliable): give --upstream; without\n"
            "it the error lists the exact values for your box (see workbench.geo.retreat).\n"
            "Distances are ground metres (on the ellipsoid) unless --metres map; the CSV\n"
            "header says which, in which CRS, and how they were measured."
        ),
        epilog=(
            "examples:\n"
            "  workbench retreat ../shared/data/harald-moltke-brae/lines \\\n"
            "      --box ../shared/data/harald-moltke-brae/box/harald_moltke_brae.shp \\\n"
            "      --upstream right --out retreat_hmb\n"
            "  workbench retreat fronts.gpkg --box box.gpkg --upstream=-561932,-1346904\n"
            "  workbench retreat fronts.gpkg --centerline centreline.gpkg --out results\n"
            "  workbench retreat fronts.gpkg --box box.gpkg --upstream right --metres map"
        ),
    )
    p.add_argument(
        "fronts",
        type=Path,
        metavar="FRONTS",
        help="folder of dated front-line files or one vector file with a date "
        "column, e.g. ../shared/data/harald-moltke-brae/lines or fronts.gpkg",
    )
    method = p.add_mutually_exclusive_group(required=True)
    method.add_argument(
        "--box",
        type=Path,
        default=None,
        help="box polygon file (one four-cornered polygon), e.g. --box box/harald_moltke_brae.shp",
    )
    method.add_argument(
        "--centerline",
        "--centreline",
        dest="centreline",
        type=Path,
        default=None,
        help="centre-line file (one line drawn from upstream), e.g. --centerline centreline.gpkg",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("retreat"),
        help="output folder (default: ./retreat), e.g. --out results/hmb",
    )
    p.add_argument(
        "--upstream",
        default=None,
        metavar="X,Y|right|left|convex|EDGE",
        help="upstream end of the box: a point X,Y near the upstream edge in the "
        "box's CRS (--upstream=-561932,-1346904; use '=' for negative numbers), "
        "'right'/'left' (the ice lies on that side of the lines; workbench "
        "fronts: right), an edge index 0..3, or 'convex' (heuristic). Required "
        "with --box (left out, the error names the values that fit the box); "
        "with --centerline an optional X,Y that orients the line",
    )
    p.add_argument(
        "--crs",
        default=None,
        help="working CRS the box is split and drawn in (default: the box's or "
        "line's CRS if projected in metres, else a local equal-area one); it "
        "does not change the units, e.g. --crs EPSG:3413 or --crs laea",
    )
    p.add_argument(
        "--metres",
        choices=("ground", "map"),
        default="ground",
        help="units of the distances: 'ground' metres on the ellipsoid (default) or "
        "'map' metres of the working CRS (EPSG:3413's are 1.7 %% short of "
        "ground metres at 76.6° N), e.g. --metres map",
    )
    p.add_argument(
        "--title",
        default=None,
        help="figure title (default: the glacier name), e.g. --title 'Harald Moltke Bræ'",
    )
    p.set_defaults(func=_run_retreat)


def _run_retreat(args: argparse.Namespace) -> int:
    from workbench.geo.retreat import retreat_products

    res = retreat_products(
        args.fronts,
        args.out,
        box=args.box,
        centreline=args.centreline,
        upstream=args.upstream,
        crs=args.crs,
        title=args.title,
        metres=args.metres,
    )
    print(res["summary"])
    print(f"wrote {res['table']} and {res['figure']}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a checkpoint on labelled data: MDE, zone/outline IoU, calibration, report",
        formatter_class=_Formatter,
        description=(
            "Predict a labelled data set with a checkpoint (sliding window of its training run,\n"
            "optional TTA) and write a report into --out: metrics.json (everything; the headline\n"
            "numbers under extra.summary), metrics.md, CSV tables and figures/.\n"
            "Zone models: predicted zones -> fronts (CaFFe post-processing) -> pooled mean\n"
            "distance error in m and px (px only when the pixel size is unknown), images without\n"
            "a predicted front, breakdowns by glacier/season/sensor/resolution, zone IoU.\n"
            "Outline models (time series): one input per calendar year from its last --steps\n"
            "acquisitions; pooled precision, recall, F1, IoU (--ablation: several --steps).\n"
            "Both: ECE of the entropy confidence, before and after the checkpoint's calibration\n"
            "map (metrics['calibration']) when it has one.\n"
            "DATA: 'demo' (the synthetic world the checkpoint was trained on), a demo world\n"
            "folder, a CaFFe-layout folder, a scene stack or a folder of stacks."
        ),
        epilog=(
            "examples:\n"
            "  workbench evaluate demo_zones demo                     # the packaged demo model\n"
            "  workbench evaluate demo_outlines demo --ablation 1,3,5,all --demo-years 3\n"
            "  workbench evaluate runs/demo_zones/best.pt demo_data --out reports/zones\n"
            "  workbench evaluate best.pt /data/CaFFe --split test --tta --out reports/caffe\n"
            "  workbench evaluate best.pt ../shared/data/caffe256 --split all \\\n"
            "      --resolution none --min-cluster-px 10 --thin-fronts   # resized: MDE in px\n"
            "  workbench evaluate best.pt demo_data/stacks/Isbjornkloa.zarr --resolution 20"
        ),
    )
    p.add_argument(
        "checkpoint",
        metavar="CHECKPOINT",
        help="workbench checkpoint (best.pt), or demo_zones / demo_outlines for the "
        "packaged demo models, e.g. runs/demo_zones/best.pt",
    )
    p.add_argument(
        "data",
        metavar="DATA",
        help="'demo', a demo world folder, a CaFFe-layout folder, a scene stack or a "
        "folder of stacks, e.g. demo_data or /data/CaFFe",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="report folder (default: outputs/evaluate/<checkpoint>_<split>), "
        "e.g. --out reports/zones",
    )
    p.add_argument(
        "--split",
        choices=("test", "val", "train", "all"),
        default="test",
        help="which part of DATA (default: test = the held-out glaciers/images of "
        "the training run, or the folder's test split), e.g. --split all",
    )
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: 4 rotations, probabilities averaged, e.g. --tta",
    )
    p.add_argument(
        "--resolution",
        default="auto",
        metavar="M",
        help="pixel size for the MDE: auto (default: as in training, else each "
        "image's own), meta, a number of metres, or none (unknown: pixels "
        "only), e.g. --resolution 7 or --resolution none",
    )
    p.add_argument(
        "--min-cluster-px",
        type=float,
        default=None,
        metavar="N",
        help="drop predicted front clusters of at most N pixels (default: CaFFe's "
        "750 m in pixels; needed with --resolution none), e.g. --min-cluster-px 10",
    )
    p.add_argument(
        "--bbox-mode",
        choices=("auto", "caffe", "polygon", "box"),
        default="auto",
        help="how bounding boxes mask predicted fronts: auto (CaFFe folders: caffe, "
        "exactly the benchmark's code), caffe, polygon or box, "
        "e.g. --bbox-mode polygon",
    )
    p.add_argument(
        "--thin-fronts",
        action="store_true",
        default=None,
        help="skeletonise wide reference fronts (resized sets such as caffe256), "
        "e.g. --thin-fronts",
    )
    p.add_argument(
        "--steps",
        default=None,
        metavar="N|all",
        help="outline models: the last N acquisitions of each year as input "
        "(default: as trained), or all, e.g. --steps all",
    )
    p.add_argument(
        "--ablation",
        default=None,
        metavar="LIST",
        help="outline models: also evaluate these --steps settings with the same "
        "model, e.g. --ablation 1,3,5,all",
    )
    p.add_argument(
        "--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps, e.g. --device cpu"
    )
    p.add_argument(
        "--window",
        type=int,
        default=None,
        metavar="PX",
        help="sliding-window size (default: the checkpoint's), e.g. --window 256",
    )
    p.add_argument(
        "--max-images",
        type=int,
        default=None,
        metavar="N",
        help="evaluate at most N images / yearly inputs (a quick look), e.g. --max-images 20",
    )
    p.add_argument(
        "--demo-years",
        type=float,
        default=None,
        metavar="Y",
        help="DATA demo: simulate Y years of the checkpoint's world (default: as "
        "trained; the first years are the same), e.g. --demo-years 3",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="write the tables only, no PNG figures, e.g. --no-figures",
    )
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from workbench.evaluation.evaluate import evaluate

    out = args.out or Path("outputs") / "evaluate" / f"{Path(args.checkpoint).stem}_{args.split}"
    ablation = [s.strip() for s in args.ablation.split(",") if s.strip()] if args.ablation else None
    s = evaluate(
        args.checkpoint,
        args.data,
        out=out,
        split=args.split,
        tta=args.tta,
        resolution=args.resolution,
        min_cluster_px=args.min_cluster_px,
        thin_fronts=args.thin_fronts,
        steps=args.steps,
        ablation=ablation,
        device=args.device,
        window=args.window,
        max_images=args.max_images,
        demo_options={"years": args.demo_years} if args.demo_years else None,
        figures=not args.no_figures,
        progress=True,
        bbox_mode=args.bbox_mode,
    )
    if s["task"] == "zones":
        mde = (
            f"{s['mde_m']:.1f} m ({s['mde_px']:.2f} px)"
            if s["mde_m"] is not None
            else (f"{s['mde_px']:.2f} px" if s["mde_px"] is not None else "n/a")
        )
        print(
            f"MDE {mde} over {s['n_evaluated']} of {s['n_images']} images, "
            f"{s['n_no_front']} without a predicted front; zone IoU {s['zone_iou']:.3f}"
        )
        if s.get("fixed_front_mde") is not None:
            u = s["unit"]
            print(
                f"complete MDE {s['complete_mde']:.2f} {u} against the fixed-front baseline's "
                f"{s['fixed_front_mde']:.2f} {u} (ratio {s['model_vs_fixed_front']:.2f}; "
                "below 1 beats the model-free guess)"
            )
    else:
        print(
            f"{s['n_images']} yearly input(s) of {s['steps']} acquisitions: precision "
            f"{s['precision']:.3f}, recall {s['recall']:.3f}, F1 {s['f1']:.3f}, "
            f"IoU {s['iou']:.3f}"
        )
        for row in s.get("ablation", []):
            print(f"  steps {row['steps']}: IoU {row['iou']:.3f}, F1 {row['f1']:.3f}")
    cal = f", calibrated {s['ece_calibrated']:.4f}" if s["ece_calibrated"] is not None else ""
    print(f"ECE {s['ece']:.4f}{cal}; report: {s['paths']['markdown']}")
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="open the Panel explorer (dashboards/explorer.py) on a demo world or other data",
        formatter_class=_Formatter,
        description=(
            "Start the explorer: scrub SAR time series, overlay predicted and reference\n"
            "fronts, zones and outlines, run a model, see retreat curves, export products.\n"
            "A thin wrapper over `panel serve dashboards/explorer.py --args DATA...`; works\n"
            "offline. The server reads only inside the DATA folders. --allow-websocket-origin\n"
            "and --panel-arg go to panel serve. Secrets never go on a command line (ps shows\n"
            "it): a users file with --basic-auth, or $WORKBENCH_BASIC_AUTH (one password,\n"
            "any user name) and $WORKBENCH_COOKIE_SECRET / --cookie-secret-file."
        ),
        epilog=(
            "examples:\n"
            "  workbench serve demo_data\n"
            "  workbench serve demo_data ../shared/data --checkpoint runs/best.pt --port 5007\n"
            "  workbench serve demo_data --address 0.0.0.0 --allow-websocket-origin=host:5006 \\\n"
            "      --basic-auth users.json --cookie-secret-file ~/.workbench_secret\n"
            "  workbench serve demo_data --edits outputs/corrected_fronts"
        ),
    )
    p.add_argument(
        "data",
        nargs="*",
        type=Path,
        metavar="DATA",
        help="data roots: a demo world, folders of scene stacks, CaFFe-layout folders or "
        "../shared/data (default: ./demo_data and ../shared/data when present)",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        help="checkpoint file or folder of .pt files; repeatable (default: the demo models)",
    )
    p.add_argument("--port", type=int, default=5006, help="port (default: 5006)")
    p.add_argument("--address", default=None, help="address to listen on (default: localhost)")
    p.add_argument("--show", action="store_true", help="open a browser tab")
    p.add_argument(
        "--basic-auth",
        default=None,
        type=Path,
        metavar="USERS.json",
        help="password protection: a JSON file of user names and passwords (a path is "
        "safe on the command line; a password is not: put a single password in "
        "$WORKBENCH_BASIC_AUTH instead), e.g. --basic-auth users.json",
    )
    p.add_argument(
        "--cookie-secret-file",
        default=None,
        type=Path,
        metavar="FILE",
        help="file holding the cookie secret (or set $WORKBENCH_COOKIE_SECRET; never "
        "on the command line), e.g. --cookie-secret-file ~/.workbench_secret",
    )
    p.add_argument(
        "--allow-websocket-origin",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="panel serve --allow-websocket-origin; repeatable",
    )
    p.add_argument(
        "--panel-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="any other panel serve argument, e.g. --panel-arg=--num-procs=2; repeatable",
    )
    p.add_argument(
        "--no-shared",
        action="store_true",
        help="leave out the real examples in $WORKBENCH_SHARED_DATA or ../shared/data",
    )
    p.add_argument(
        "--edits",
        default=None,
        type=Path,
        metavar="DIR",
        help="writable folder (outside DATA) where fronts corrected by hand are saved "
        "(DIR/corrected_fronts.gpkg); without it the explorer cannot edit fronts",
    )
    p.add_argument("--dry-run", action="store_true", help="print the panel serve command and exit")
    p.set_defaults(func=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    import json
    import os
    import subprocess
    import tempfile

    from workbench.errors import ConfigError

    app = Path(__file__).resolve().parent.parent / "dashboards" / "explorer.py"
    if not app.is_file():
        raise WorkbenchError(f"dashboard not found: {app} (a source checkout is needed)")
    for d in args.data:
        if not d.exists():
            raise WorkbenchError(f"{d}: does not exist (expected: a data folder)")
    cmd = [sys.executable, "-m", "panel", "serve", str(app), "--port", str(args.port)]
    if args.address:
        cmd += ["--address", args.address]
    if args.show:
        cmd.append("--show")
    env = dict(os.environ)
    for var in ("PANEL_BASIC_AUTH", "PANEL_COOKIE_SECRET", "BOKEH_COOKIE_SECRET"):
        env.pop(var, None)  # only what is given here reaches panel
    password = os.environ.get("WORKBENCH_BASIC_AUTH")
    if args.basic_auth is not None and password:
        raise ConfigError(
            "and $WORKBENCH_BASIC_AUTH are both set",
            variable="--basic-auth",
            expected="one of them",
        )
    if args.basic_auth is not None:
        if not args.basic_auth.is_file():
            raise ConfigError(
                "is not a file (the value is not repeated here: if it is a "
                "password, every user of this machine can read it with ps)",
                variable="--basic-auth",
                expected='a JSON file {"user": "password", ...}; a single password '
                "goes in $WORKBENCH_BASIC_AUTH, not on the command line",
            )
        cmd += ["--basic-auth", str(args.basic_auth.resolve())]
    elif password:  # a private file (0600) that panel reads; the password never reaches argv
        users = Path(tempfile.mkdtemp(prefix="workbench-auth-")) / "users.json"
        fd = os.open(users, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({os.environ.get("WORKBENCH_BASIC_AUTH_USER", "workbench"): password}, f)
        cmd += ["--basic-auth", str(users)]
    secret = os.environ.get("WORKBENCH_COOKIE_SECRET")
    if args.cookie_secret_file is not None:
        try:
            secret = args.cookie_secret_file.read_text().strip()
        except OSError as err:
            raise ConfigError(
                f"cannot be read ({err.strerror})",
                path=args.cookie_secret_file,
                variable="--cookie-secret-file",
            ) from None
    if secret:
        env["PANEL_COOKIE_SECRET"] = secret  # by environment, not argv
    for origin in args.allow_websocket_origin:
        cmd += ["--allow-websocket-origin", origin]
    cmd += list(args.panel_arg)
    app_args = [str(d.resolve()) for d in args.data]
    for c in args.checkpoint:
        app_args += ["--checkpoint", str(c.resolve())]
    if args.no_shared:
        app_args.append("--no-shared")
    if args.edits is not None:  # checked here: a folder inside DATA or not writable fails now
        from workbench.viz.edits import FrontCorrections
        from workbench.viz.sources import DataRoots

        roots = DataRoots(args.data) if args.data else None
        app_args += ["--edits", str(FrontCorrections(args.edits, roots).folder)]
    if app_args:
        cmd += ["--args", *app_args]
    print("$ " + " ".join(cmd), flush=True)
    if args.dry_run:
        return 0
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def _add_loo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loo",
        help="leave-one-glacier-out: train and evaluate a recipe once per held-out glacier",
        formatter_class=_Formatter,
        description="Train CONFIG once per glacier of a CaFFe-layout folder with that glacier "
        "held out, evaluate each fold against the model-free baselines "
        "(fixed front, persistence; complete MDE) and write OUT/results.{md,json}. "
        "Resumable: finished folds are not trained again.",
        epilog=(
            "examples:\n"
            "  workbench loo caffe256_caffe_unet --data ../shared/data/caffe256 --out outputs/loo\n"
            "  workbench loo caffe256_caffe_unet trainer.max_epochs=20 --data "
            "../shared/data/caffe256 --out outputs/loo20 --glaciers SI,JAC\n"
            "  workbench loo my_recipe.yaml --data CaFFe_flat --out outputs/loo --select image"
        ),
    )
    p.add_argument(
        "config", help="zones training config (packaged name or YAML), e.g. caffe256_caffe_unet"
    )
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="dotted config overrides, right after CONFIG, e.g. trainer.max_epochs=20",
    )
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="flat CaFFe-layout folder, e.g. --data ../shared/data/caffe256",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder (runs, reports, results table), e.g. --out outputs/loo",
    )
    p.add_argument(
        "--glaciers",
        default=None,
        metavar="A,B",
        help="only these folds, comma-separated (default: every glacier), e.g. --glaciers SI,JAC",
    )
    p.add_argument(
        "--select",
        choices=("glacier", "image", "none"),
        default="glacier",
        help="model selection inside a fold: on a whole unseen glacier (default), "
        "on 10 %% of the training images, or none (train on every other "
        "glacier, keep the last epoch), e.g. --select none",
    )
    p.add_argument(
        "--no-figures", action="store_true", help="skip the report figures, e.g. --no-figures"
    )
    p.set_defaults(func=_run_loo)


def _run_loo(args: argparse.Namespace) -> int:
    from workbench.evaluation.crossval import leave_one_glacier_out

    glaciers = [g.strip() for g in args.glaciers.split(",") if g.strip()] if args.glaciers else None
    res = leave_one_glacier_out(
        args.config,
        args.data,
        args.out,
        glaciers=glaciers,
        select=args.select,
        overrides=args.overrides,
        figures=not args.no_figures,
    )
    print((args.out / "results.md").read_text())
    m = res["mean"]
    print(
        f"mean complete MDE {m['complete_mde']} vs fixed-front baseline "
        f"{m['fixed_front_mde']}; table: {args.out / 'results.md'}"
    )
    return 0


def _add_stack(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stack",
        help="build a scene stack of real Sentinel-1 from a STAC catalogue or a SAFE product",
        formatter_class=_Formatter,
        description=(
            "Search a STAC API (pystac-client) or a static catalogue / ItemCollection file\n"
            "(pystac) for the AOI and dates, load the chosen polarisation lazily with odc-stac\n"
            "onto one metric grid (UTM from the AOI centre, polar stereographic beyond 84 N /\n"
            "80 S, or --crs), convert linear power to dB, mosaic the items of one pass, skip\n"
            "dates covering less than --min-coverage of the AOI (reported), and write\n"
            "OUT/NAME.zarr atomically with per-date platform, orbit direction, relative\n"
            "orbit, polarisation and product id. OUT then opens in 'workbench serve OUT' and\n"
            "'workbench predict OUT' takes it. Known collections: OPERA_L2_RTC-S1_V1,\n"
            "Planetary Computer sentinel-1-rtc; Level-1 GRD collections are refused (use\n"
            "--safe). Authentication only from the environment: STAC_API_TOKEN (API),\n"
            "EARTHDATA_TOKEN (OPERA), PC_SDK_SUBSCRIPTION_KEY (Planetary Computer, with the\n"
            "planetary-computer package), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /\n"
            "AWS_S3_ENDPOINT (s3:// assets, e.g. Copernicus Data Space).\n"
            "With --safe: calibrate and terrain-correct one raw SAFE product (xarray-sentinel,\n"
            "sarsen) with a DEM instead."
        ),
        epilog=(
            "examples:\n"
            "  workbench stack https://planetarycomputer.microsoft.com/api/stac/v1 \\\n"
            "      --collection sentinel-1-rtc --aoi 11.9,78.8,12.6,79.0 \\\n"
            "      --datetime 2022-01-01/2022-12-31 --polarisation HH --out stacks\n"
            "  workbench stack catalog/catalog.json --aoi 12.2,78.9,5 --datetime 2019-01-01/2019-06-30 \\\n"
            "      --orbit descending --resolution 40 --out stacks\n"
            "  workbench stack items.json --aoi rgi_svalbard.gpkg --where \"glac_name = 'Kronebreen'\" \\\n"
            "      --datetime 2020-01-01/2020-12-31 --min-coverage 0.9 --crs EPSG:32633 --out stacks\n"
            "  workbench stack --safe S1B_IW_GRDH_1SDV_20190412T051502.SAFE --dem dem.tif --out stacks"
        ),
    )
    p.add_argument(
        "source",
        nargs="?",
        metavar="SOURCE",
        help="STAC API URL or a static catalog.json / collection.json / ItemCollection "
        "file, e.g. https://planetarycomputer.microsoft.com/api/stac/v1",
    )
    p.add_argument(
        "--aoi",
        metavar="AOI",
        help="W,S,E,N in degrees, LON,LAT,KM (a circle), or a polygon file "
        "(GeoPackage/GeoJSON/shapefile), e.g. --aoi 11.9,78.8,12.6,79.0; write "
        "--aoi=-50.1,69.1,-49.5,69.3 when it starts with a minus",
    )
    p.add_argument(
        "--where",
        metavar="SQL",
        default=None,
        help="pick outlines of a polygon --aoi file, e.g. --where \"glac_name = 'Kronebreen'\"",
    )
    p.add_argument(
        "--datetime",
        metavar="START/END",
        help="date range, END inclusive, e.g. --datetime 2019-01-01/2019-12-31",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder; the stack is DIR/NAME.zarr, e.g. --out stacks",
    )
    p.add_argument(
        "--name",
        default=None,
        help="stack name (default: the outline's name, the AOI file's stem, or 'aoi'), "
        "e.g. --name kronebreen",
    )
    p.add_argument(
        "--collection",
        default=None,
        metavar="ID",
        help="collection to search, e.g. --collection sentinel-1-rtc",
    )
    p.add_argument(
        "--polarisation",
        "--polarization",
        dest="polarisation",
        default=None,
        metavar="POL",
        help="HH, VV, HV or VH (default: the co-polarisation all items have), "
        "e.g. --polarisation HH",
    )
    p.add_argument(
        "--orbit",
        default=None,
        metavar="ascending|descending|N",
        help="keep one orbit direction or relative orbit, e.g. --orbit descending",
    )
    p.add_argument(
        "--resolution",
        type=float,
        default=None,
        metavar="M",
        help="pixel size in metres (default: the collection's native), e.g. --resolution 20",
    )
    p.add_argument(
        "--crs",
        default="auto",
        help="grid CRS: auto (UTM / polar stereographic from the AOI centre) or a "
        "metric EPSG code, e.g. --crs EPSG:3413",
    )
    p.add_argument(
        "--min-coverage",
        type=float,
        default=0.8,
        metavar="F",
        help="skip dates whose valid pixels cover less than this fraction of the AOI "
        "(default: 0.8), e.g. --min-coverage 0.9",
    )
    p.add_argument(
        "--asset",
        default=None,
        metavar="KEY",
        help="asset key to read (default: the polarisation's asset in the collection's "
        "convention), e.g. --asset vv",
    )
    p.add_argument(
        "--scale",
        default=None,
        choices=("power", "amplitude", "dB"),
        help="what the asset values are when the catalogue does not say "
        "(default: from the collection / asset metadata), e.g. --scale power",
    )
    p.add_argument(
        "--safe",
        type=Path,
        default=None,
        metavar="SAFE_DIR",
        help="a raw Sentinel-1 SAFE product instead of SOURCE, e.g. "
        "--safe S1B_IW_GRDH_1SDV_20190412T051502.SAFE",
    )
    p.add_argument(
        "--dem",
        type=Path,
        default=None,
        help="with --safe: DEM GeoTIFF for terrain correction, e.g. --dem dem.tif",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress messages or bar, e.g. --no-progress"
    )
    p.set_defaults(func=_run_stack)


_S1_EXTRA = "the optional extra s1: pip install 'glacier-workbench[s1]'"


def _run_stack(args: argparse.Namespace) -> int:
    from workbench.errors import ConfigError

    if args.safe is not None:
        if args.source is not None or args.aoi is not None or args.datetime is not None:
            raise ConfigError(
                "is given with SOURCE/--aoi/--datetime",
                variable="--safe",
                expected="either --safe SAFE_DIR [--dem DEM] or SOURCE --aoi --datetime",
            )
        try:
            from workbench.ingest.safe import stack_from_safe
        except ImportError as err:
            raise ConfigError(
                f"needs a module that cannot be imported ({err})",
                variable="--safe",
                expected=f"{_S1_EXTRA} (xarray-sentinel, sarsen)",
            ) from None
        crs = None if str(args.crs).lower() == "auto" else args.crs
        path = stack_from_safe(
            args.safe,
            args.out,
            dem=args.dem,
            polarisation=args.polarisation,
            resolution=args.resolution,
            crs=crs,
        )
        print(f"wrote {path}")
        return 0
    missing = [
        name
        for name, value in (
            ("SOURCE", args.source),
            ("--aoi", args.aoi),
            ("--datetime", args.datetime),
        )
        if value is None
    ]
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} missing",
            variable="stack",
            expected="SOURCE --aoi AOI --datetime START/END --out DIR (or --safe)",
        )
    if args.dem is not None:
        raise ConfigError(
            "applies only to --safe", variable="--dem", expected="--safe SAFE_DIR --dem DEM"
        )
    try:
        from workbench.ingest.stac import build_stack
    except ImportError as err:
        raise ConfigError(
            f"needs a module that cannot be imported ({err})", variable="stack", expected=_S1_EXTRA
        ) from None
    result = build_stack(
        args.source,
        args.out,
        aoi=args.aoi,
        datetime=args.datetime,
        collection=args.collection,
        polarisation=args.polarisation,
        orbit=args.orbit,
        resolution=args.resolution,
        crs=args.crs,
        min_coverage=args.min_coverage,
        where=args.where,
        asset=args.asset,
        scale=args.scale,
        name=args.name,
        progress=not args.no_progress,
    )
    print(result.report())
    return 0


def _add_datasets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "datasets",
        help="list or download the benchmark datasets (CaFFe, SSL4SAR), verified and unpacked",
        formatter_class=_Formatter,
        description=(
            "list: the datasets the workbench can fetch, with their DOI and layout.\n"
            "fetch NAME --dest DIR: download into DIR/.downloads (resumed after an\n"
            "interruption: run the same command again), verify the size, the published\n"
            "checksum and the archive's own CRCs, and unpack atomically into DIR/NAME in the\n"
            "layout the readers open (CaFFe: sar_images/, zones/, fronts/). A damaged download\n"
            "is deleted and refused. Offline: download the archive by hand, --archive FILE.\n"
            "Hosts: $WORKBENCH_PANGAEA_URL, $WORKBENCH_ZENODO_URL (mirrors)."
        ),
        epilog=(
            "examples:\n"
            "  workbench datasets list\n"
            "  workbench datasets fetch caffe --dest data\n"
            "  workbench datasets fetch ssl4sar --dest /scratch/data --keep-archive\n"
            "  workbench datasets fetch caffe --dest data --archive ~/Downloads/data_raw.zip"
        ),
    )
    p.add_argument("action", choices=("list", "fetch"), help="list the datasets, or fetch one")
    p.add_argument(
        "name", nargs="?", metavar="NAME", help="with fetch: caffe or ssl4sar, e.g. caffe"
    )
    p.add_argument(
        "--dest",
        type=Path,
        default=None,
        metavar="DIR",
        help="with fetch: the folder to unpack into (as DIR/NAME), e.g. --dest data",
    )
    p.add_argument(
        "--archive",
        type=Path,
        default=None,
        metavar="FILE",
        help="an archive downloaded by hand instead of the download, e.g. --archive data_raw.zip",
    )
    p.add_argument(
        "--keep-archive",
        action="store_true",
        help="keep DIR/.downloads after unpacking, e.g. --keep-archive",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar, e.g. --no-progress")
    p.set_defaults(func=_run_datasets)


def _run_datasets(args: argparse.Namespace) -> int:
    from workbench.errors import ConfigError
    from workbench.ingest.datasets import fetch, get_dataset, list_datasets

    if args.action == "list":
        for d in list_datasets():
            print(
                f"{d.name:9s} {d.title}\n          doi:{d.doi} ({d.licence}); {d.citation}\n"
                f"          layout: {d.layout}"
            )
        return 0
    if args.name is None or args.dest is None:
        raise ConfigError(
            "needs NAME and --dest",
            variable="fetch",
            expected="workbench datasets fetch caffe --dest data",
        )
    get_dataset(args.name)
    folder, summary = fetch(
        args.name,
        args.dest,
        archive=args.archive,
        keep_archive=args.keep_archive,
        progress=not args.no_progress,
    )
    print(f"{args.name} in {folder}: {summary}")
    return 0


_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_demo,
    _add_info,
    _add_train,
    _add_pretrain,
    _add_predict,
    _add_retreat,
    _add_evaluate,
    _add_loo,
    _add_serve,
    _add_stack,
    _add_datasets,
)


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
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # words after the options: more overrides for train/pretrain, else an error
        unknown = [w for w in extra if w.startswith("-")]
        if unknown or not getattr(args, "_overrides_anywhere", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown or extra)}")
        args.overrides = [*args.overrides, *extra]
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as err:
        print(
            f"workbench {args.func.__name__.removeprefix('_run_')}: error: {err}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
