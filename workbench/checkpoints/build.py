"""Rebuild the packaged demo models from scratch: train, calibrate, evaluate, package.

``python -m workbench.checkpoints.build`` runs these jobs (two at a time by default, one torch
thread each, so they fill 2 CPU cores):

``zones``
    :func:`workbench.training.fit` with the packaged config ``demo_zones`` (a small CaFFe
    U-Net on the synthetic demo world simulated in memory: 4 glaciers, 2 for training, 1 for
    validation, 1 held out for test, the training and validation glaciers each at 80 m and
    simulated at 40 m and 20 m and resampled to 80 m as ``predict`` does,
    ``data.resample_factors``; seeded, so reproducible on the CPU), then a
    :class:`~workbench.evaluation.CalibrationMap` fitted on the validation glacier
    (:func:`~workbench.evaluation.evaluate.fit_calibration`) and stored in the checkpoint's
    ``metrics["calibration"]``, then :func:`~workbench.evaluation.evaluate.evaluate` on the
    held-out glacier, at the model's 80 m and at :data:`FINE_FACTOR` times finer pixels
    (20 m, the pixel size of ``workbench demo``'s world, which ``evaluate`` resamples to
    80 m); the checkpoint (with the evaluation summaries in ``metrics["evaluation"]``, the
    finer one under ``"fine"``) becomes ``workbench/checkpoints/demo_zones.pt``.
``outlines``
    The same with ``demo_outlines`` (a small IceMapper3D trained on the last 8 acquisitions of
    random windows) → ``demo_outlines.pt``; evaluated with its 8 acquisitions per year and,
    with the same model, with the last 1, 3, 5 and all acquisitions of each year.
``outlines_t1``, ``outlines_t3``, ``outlines_t5``, ``outlines_tall``
    The acquisition ablation as the Svalbard study ran it: ``demo_outlines`` retrained with
    ``data.time_steps`` 1, 3, 5 and all (every date of the year), each evaluated with that many
    acquisitions. Not packaged (``OUT/<job>/run/best.pt``).

Evaluation uses :data:`EVAL_YEARS` years of the held-out glacier (2019, the year of the
training world, and the two following years of the same never-seen glacier: three times the
images and yearly inputs of one year; a simulated glacier's first years do not depend on
how many years are simulated). ``OUT/demo_models.md`` gets the tables and timings that
docs/demo_models.md quotes; ``OUT/<job>/report`` the full evaluation reports.

Examples
--------
::

    python -m workbench.checkpoints.build                       # everything, into the package
    python -m workbench.checkpoints.build --only zones --dest /tmp/demo --out /tmp/demo
    python -m workbench.checkpoints.build --no-ablation-training  # the two packaged models only
    python -m workbench.checkpoints.build --only zones --resume   # after an interruption
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "build_demo_models",
    "results_markdown",
    "main",
    "MAX_BYTES",
    "ABLATION",
    "EVAL_YEARS",
    "FINE_FACTOR",
    "JOBS",
]

MAX_BYTES = 10 * 1024 * 1024
"""The packaged checkpoints must stay below this size."""

ABLATION: tuple[Any, ...] = (1, 3, 5, "all")
"""Acquisitions per yearly input of the outline ablation (the Svalbard study: 1, 3, 5, 15)."""

EVAL_YEARS = 3
"""Years of the held-out glacier the demo models are evaluated on."""

FINE_FACTOR = 4
"""The packaged models are also evaluated on the held-out glacier simulated at pixels this
many times finer over the same extent (80 m models: 20 m, 512 × 512 px, as the world of
``workbench demo``), which ``evaluate`` resamples to the model's pixel size."""

JOBS: dict[str, dict[str, Any]] = {
    "zones": {"config": "demo_zones", "package": True},
    "outlines": {"config": "demo_outlines", "package": True, "ablation": ABLATION},
    **{
        f"outlines_t{s}": {
            "config": "demo_outlines",
            "package": False,
            "overrides": [f"data.time_steps={'null' if s == 'all' else s}"],
            "steps": s,
        }
        for s in ABLATION
    },
}
"""Every job of the build: packaged models and the retrained ablation models."""

_ORDER = ("outlines_tall", "zones", "outlines", "outlines_t5", "outlines_t3", "outlines_t1")
_SUMMARY_KEYS = (
    "split",
    "n_images",
    "mde_m",
    "mde_px",
    "unit",
    "n_evaluated",
    "n_no_front",
    "zone_iou",
    "zone_iou_per_class",
    "steps",
    "trained_steps",
    "precision",
    "recall",
    "f1",
    "iou",
    "ablation",
    "ece",
    "ece_calibrated",
    "mde_by_season",
)


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def _run_job(
    name: str,
    out: str,
    dest: str,
    overrides: Sequence[str],
    threads: int,
    figures: bool,
    eval_years: float | None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train one job, then calibrate / evaluate / package it (runs in a worker process)."""
    import torch

    from workbench.evaluation.evaluate import evaluate, fit_calibration, save_calibration
    from workbench.training import fit

    job = JOBS[name]
    work = Path(out) / name
    print(f"[{name}] training {job['config']} {' '.join(job.get('overrides', []))}", flush=True)
    t0 = time.perf_counter()
    res = fit(
        job["config"],
        overrides=[
            "trainer.enable_progress_bar=false",
            f"trainer.num_threads={int(threads)}",
            *overrides,
            *job.get("overrides", []),
        ],
        run_dir=work / "run",
        resume=resume,
        overwrite=not resume,
    )
    train_s = time.perf_counter() - t0
    torch.set_num_threads(int(threads))
    t1 = time.perf_counter()
    demo_options = {"years": eval_years} if eval_years else None
    target = res.best_checkpoint
    cmap = None
    if job["package"]:
        cmap = fit_calibration(res.best_checkpoint, "demo", split="val", device="cpu")
        target = Path(dest) / f"demo_{name}.pt"
        save_calibration(res.best_checkpoint, cmap, out=target)
    summary = evaluate(
        target,
        "demo",
        out=work / "report",
        split="test",
        device="cpu",
        steps=job.get("steps"),
        ablation=job.get("ablation"),
        figures=figures,
        demo_options=demo_options,
    )
    compact = {k: summary[k] for k in _SUMMARY_KEYS if k in summary}
    compact["eval_years"] = eval_years
    if job["package"] and FINE_FACTOR:
        compact["fine"] = _evaluate_fine(target, job, work, figures, demo_options)
    if cmap is not None:
        save_calibration(target, cmap, out=target, metrics={"evaluation": compact})
    eval_s = time.perf_counter() - t1
    size = Path(target).stat().st_size
    if job["package"] and size > MAX_BYTES:
        raise RuntimeError(
            f"{target} is {size / 1e6:.1f} MB, over the {MAX_BYTES / 2**20:.0f} MB limit"
        )
    trained = "resumed and finished" if resume else "trained"  # resume: only the rest ran
    print(
        f"[{name}] {trained} in {train_s:.0f} s ({res.epochs} epochs), evaluated in "
        f"{eval_s:.0f} s → {target} ({size / 1e6:.2f} MB)",
        flush=True,
    )
    return {
        "checkpoint": str(target),
        "bytes": size,
        "train_s": train_s,
        "eval_s": eval_s,
        "epochs": res.epochs,
        "best_score": res.best_score,
        "monitor": res.monitor,
        "eval_years": eval_years,
        "summary": summary,
        "report": str(work / "report"),
        "fine": compact.get("fine"),
        "pixel_size": _model_pixel_size(target),
    }


def _model_pixel_size(checkpoint: Path) -> float | None:
    from workbench.models import read_checkpoint_info

    px = (read_checkpoint_info(checkpoint).train_config.get("data") or {}).get("pixel_size")
    return float(px) if px else None


def _evaluate_fine(
    target: Path,
    job: dict[str, Any],
    work: Path,
    figures: bool,
    demo_options: dict[str, Any] | None,
) -> dict[str, Any]:
    """Evaluate a packaged model on its held-out glacier at :data:`FINE_FACTOR` times finer
    pixels (same extent), which ``evaluate`` resamples to the model's pixel size."""
    from workbench.evaluation.evaluate import evaluate
    from workbench.models import read_checkpoint_info

    data = read_checkpoint_info(target).train_config["data"]
    fine = {
        **(demo_options or {}),
        "pixel_size": float(data["pixel_size"]) / FINE_FACTOR,
        "size": int(data["size"]) * FINE_FACTOR,
    }
    summary = evaluate(
        target,
        "demo",
        out=work / "report_fine",
        split="test",
        device="cpu",
        steps=job.get("steps"),
        figures=figures,
        demo_options=fine,
    )
    out = {k: summary[k] for k in _SUMMARY_KEYS if k in summary and k != "ablation"}
    out.update(pixel_size=fine["pixel_size"], size=fine["size"])
    return out


def _fmt(v: Any, d: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{d}f}" if isinstance(v, float) else str(v)


def _years(r: dict[str, Any]) -> str:
    y = r.get("eval_years")
    return f", {y:g} years" if y else ""


def _pixels(r: dict[str, Any], fine: dict[str, Any] | None = None) -> str:
    """``80 m`` (the model's pixels) or ``20 m → 80 m`` (a finer scene, resampled)."""
    px = r.get("pixel_size")
    if not px:
        return "finer" if fine else "model"
    return f"{fine['pixel_size']:g} m → {px:g} m" if fine else f"{px:g} m"


def _steps_key(s: Any) -> float:
    return math.inf if s == "all" else float(s)


def results_markdown(results: dict[str, dict[str, Any]]) -> str:
    """Markdown tables of :func:`build_demo_models` results."""
    lines: list[str] = []
    z = results.get("zones")
    if z:
        s = z["summary"]
        lines += [
            f"### Calving-front zones (`demo_zones`, held-out glacier{_years(z)})",
            "",
            "| pixels | images | evaluated | no front | MDE (m) | MDE (px) | zone IoU | "
            "ECE raw | ECE calibrated |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for label, t in (
            (_pixels(z), s),
            *(((_pixels(z, z["fine"]), z["fine"]),) if z.get("fine") else ()),
        ):
            lines.append(
                f"| {label} | {t['n_images']} | {t['n_evaluated']} | "
                f"{t['n_no_front']} | {_fmt(t['mde_m'], 1)} | {_fmt(t['mde_px'], 2)} | "
                f"{_fmt(t['zone_iou'])} | {_fmt(t['ece'], 4)} | "
                f"{_fmt(t['ece_calibrated'], 4)} |"
            )
        lines.append("")
        per = s.get("zone_iou_per_class") or {}
        if per:
            lines += [
                "| zone IoU per class | " + " | ".join(per) + " |",
                "| --- | " + " | ".join("---" for _ in per) + " |",
                "| held-out glacier | " + " | ".join(_fmt(v) for v in per.values()) + " |",
                "",
            ]
        seasons = s.get("mde_by_season") or {}
        if seasons:
            lines += [
                "| season | images | no front | MDE (m) | MDE (px) |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines += [
                f"| {k} | {v['n_images']} | {v['n_no_front']} | {_fmt(v['mde_m'], 1)} | "
                f"{_fmt(v['mde_px'], 2)} |"
                for k, v in seasons.items()
            ]
            lines.append("")
    o = results.get("outlines")
    retrained = {k: v for k, v in results.items() if k.startswith("outlines_t")}
    if o or retrained:
        ref = o or next(iter(retrained.values()))
        lines += [
            f"### Glacier outlines (`demo_outlines`, held-out glacier{_years(ref)})",
            "",
            "Pooled over every yearly input of the held-out glacier; the input is the "
            "last N acquisitions of each calendar year.",
            "",
            "| acquisitions | model | yearly inputs | precision | recall | F1 | IoU |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        rows = []
        for r in retrained.values():
            s = r["summary"]
            rows.append(
                (
                    _steps_key(s["steps"]),
                    0,
                    f"| {s['steps']} | trained with "
                    f"{s['steps']} | {s['n_images']} | {_fmt(s['precision'])} | "
                    f"{_fmt(s['recall'])} | {_fmt(s['f1'])} | {_fmt(s['iou'])} |",
                )
            )
        if o:
            s = o["summary"]
            for row in s.get("ablation") or []:
                tag = (
                    "**packaged** (trained with 8)"
                    if row["steps"] == s.get("trained_steps")
                    else "packaged (trained with 8)"
                )
                rows.append(
                    (
                        _steps_key(row["steps"]),
                        1,
                        f"| {row['steps']} | {tag} | "
                        f"{row['n_windows']} | {_fmt(row['precision'])} | "
                        f"{_fmt(row['recall'])} | {_fmt(row['f1'])} | {_fmt(row['iou'])} |",
                    )
                )
        lines += [r[2] for r in sorted(rows)]
        if o:
            s = o["summary"]
            lines += [
                "",
                f"ECE of the packaged model's entropy confidence ({s['steps']} "
                f"acquisitions): raw {_fmt(s['ece'], 4)}, calibrated "
                f"{_fmt(s['ece_calibrated'], 4)}.",
            ]
            f = o.get("fine")
            if f:
                lines += [
                    "",
                    f"The packaged model on the held-out glacier at "
                    f"{_pixels(o, f)} ({f['steps']} acquisitions): precision "
                    f"{_fmt(f['precision'])}, recall {_fmt(f['recall'])}, F1 "
                    f"{_fmt(f['f1'])}, IoU **{_fmt(f['iou'])}** (ECE raw "
                    f"{_fmt(f['ece'], 4)}, calibrated {_fmt(f['ece_calibrated'], 4)}).",
                ]
        lines.append("")
    lines += [
        "| job | checkpoint | size | training | calibration + evaluation |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | `{Path(r['checkpoint']).name}` | {r['bytes'] / 1e6:.2f} MB | "
            f"{r['train_s']:.0f} s ({r['epochs']} epochs) | {r['eval_s']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def build_demo_models(
    out: str | os.PathLike[str] = "outputs/demo_models",
    dest: str | os.PathLike[str] | None = None,
    jobs: Sequence[str] | None = None,
    overrides: Sequence[str] = (),
    threads: int = 1,
    workers: int = 2,
    figures: bool = True,
    eval_years: float | None = EVAL_YEARS,
    resume: bool = False,
) -> dict[str, dict[str, Any]]:
    """Run the build jobs (see the module docstring); return their results.

    Parameters
    ----------
    out
        Work folder: ``<job>/run`` (training runs), ``<job>/report`` (evaluation reports),
        ``demo_models.md`` and ``results.json``.
    dest
        Where ``demo_zones.pt`` / ``demo_outlines.pt`` go (default: the ``workbench/
        checkpoints`` package folder).
    jobs
        Names from :data:`JOBS` (default: all of them).
    overrides
        Extra ``key=value`` config overrides for every training (e.g. a tiny test run).
    threads
        torch threads per job.
    workers
        Jobs run at the same time (separate processes); 1 runs them here, one after another.
    figures
        Draw the report figures.
    eval_years
        Years of the held-out glacier to evaluate on (None: the training world's).
    resume
        Continue each job's training run in ``out/<job>/run`` from its last checkpoint (after
        an interruption; a finished run is only re-tested) instead of starting it afresh.
    """
    out = Path(out)
    dest = Path(dest) if dest is not None else _package_dir()
    names = list(jobs) if jobs is not None else list(JOBS)
    unknown = [n for n in names if n not in JOBS]
    if unknown:
        raise ValueError(f"unknown build jobs {unknown}; expected some of {list(JOBS)}")
    names = sorted(names, key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER))
    dest.mkdir(parents=True, exist_ok=True)
    args = (
        str(out),
        str(dest),
        list(overrides),
        int(threads),
        bool(figures),
        eval_years,
        bool(resume),
    )
    t0 = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    if workers <= 1 or len(names) == 1:
        for n in names:
            results[n] = _run_job(n, *args)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(
            max_workers=int(workers), mp_context=mp.get_context("spawn")
        ) as pool:
            futures = {n: pool.submit(_run_job, n, *args) for n in names}
            for n in names:
                results[n] = futures[n].result()
    total = time.perf_counter() - t0
    ordered = {n: results[n] for n in JOBS if n in results}
    md = (
        f"# Demo models\n\nBuilt in {total / 60:.1f} min ({len(names)} jobs, {workers} at a "
        f"time, {threads} torch thread each).\n\n" + results_markdown(ordered)
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo_models.md").write_text(md)
    (out / "results.json").write_text(
        json.dumps({"total_s": total, **ordered}, indent=2, default=str)
    )
    print(md, flush=True)
    return ordered


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``python -m workbench.checkpoints.build``."""
    p = argparse.ArgumentParser(
        prog="python -m workbench.checkpoints.build",
        description="Train, calibrate, evaluate and package the demo models "
        "(workbench/checkpoints/demo_zones.pt and demo_outlines.pt), and train the "
        "outline models of the acquisition ablation.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/demo_models"),
        help="work folder for runs and reports (default: outputs/demo_models)",
    )
    p.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="where the checkpoints go (default: the workbench/checkpoints package)",
    )
    p.add_argument(
        "--only",
        choices=list(JOBS),
        action="append",
        default=None,
        help="run only this job (repeatable)",
    )
    p.add_argument(
        "--no-ablation-training",
        action="store_true",
        help="only the two packaged models (no retrained ablation models)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="jobs at the same time, one process each (default: 2)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads per job (default: 1)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config override for every training (repeatable), e.g. "
        "--set trainer.max_epochs=2",
    )
    p.add_argument("--no-figures", action="store_true", help="reports without figures")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the training runs in --out from their last checkpoints "
        "(after an interruption) instead of starting afresh",
    )
    args = p.parse_args(argv)
    jobs = args.only or (["zones", "outlines"] if args.no_ablation_training else list(JOBS))
    t0 = time.perf_counter()
    build_demo_models(
        args.out,
        args.dest,
        jobs=jobs,
        overrides=args.overrides,
        threads=args.threads,
        workers=args.workers,
        figures=not args.no_figures,
        resume=args.resume,
    )
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
