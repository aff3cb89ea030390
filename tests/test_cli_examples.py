"""Every example in every ``workbench SUBCOMMAND --help`` parses: the options exist, values have
the right types, positional arguments are in an order argparse accepts (an example with
KEY=VALUE overrides after the options once failed to parse).

Then each example either runs verbatim (``shlex``-split, no edits) in a sandbox laid out as the
README's quick start leaves it — a demo world in ``demo_data`` (made by the ``workbench demo
--size 256 --pixel-size 40 --glaciers 2 --years 1`` example itself), the packaged demo model at
``runs/demo_zones/best.pt`` and ``best.pt``, the real data at ``../shared/data`` — and must exit
0, or it is listed in ``NOT_RUN`` with the reason it cannot run here (network, several GPUs,
files only the user has, long work). An example added to a help text without a decision fails
``test_every_example_is_classified``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.checkpoints import resolve_checkpoint
from workbench.cli import build_parser

PARSER = build_parser()
SUBPARSERS = PARSER._subparsers._group_actions[0].choices


def _examples(sub: str) -> list[str]:
    epilog = SUBPARSERS[sub].epilog or ""
    text = epilog.replace("\\\n", " ")
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("workbench "):
            lines.append(" ".join(line.split("  #")[0].split(" # ")[0].split()))
    return lines


CASES = [(sub, ex) for sub in sorted(SUBPARSERS) for ex in _examples(sub)]


def test_every_subcommand_has_examples():
    assert {sub for sub, _ in CASES} == set(SUBPARSERS)


@pytest.mark.parametrize("sub, example", CASES, ids=[e for _, e in CASES])
def test_help_example_parses(sub, example):
    argv = shlex.split(example)[1:]
    assert argv[0] in SUBPARSERS  # a help may show another subcommand (pretrain → train)
    args = PARSER.parse_args(argv)
    assert args.func.__name__ == f"_run_{argv[0]}"


EXAMPLES = [ex for _, ex in CASES]

# Run in this order: the demo example makes the sandbox's demo world.
RUN = [
    "workbench demo --size 256 --pixel-size 40 --glaciers 2 --years 1",
    "workbench info",
    "workbench info demo_data",
    "workbench info demo_data/stacks/Isbjornkloa.zarr",
    "workbench info ../shared/data/caffe256",
    "workbench datasets list",
    "workbench train --list",
    "workbench pretrain --list",
    "workbench train demo_zones --print-config",
    "workbench pretrain demo_pretrain --print-config",
    "workbench evaluate demo_zones demo",
    "workbench evaluate best.pt demo_data/stacks/Isbjornkloa.zarr --resolution 20",
    "workbench predict demo_data/stacks --checkpoint runs/demo_zones/best.pt --out preds",
    "workbench retreat ../shared/data/harald-moltke-brae/lines "
    "--box ../shared/data/harald-moltke-brae/box/harald_moltke_brae.shp --upstream right "
    "--out retreat_hmb",
]

_NET = "needs a remote server (no network here; the code is tested against a local one)"
_GPUS = "needs several GPUs (trainer.devices=4)"
_USER = "names files only the user has; the same code runs in another example here"
_LONG = "trains or evaluates for many minutes; the suite runs the same command on small data"
_SERVE = "starts a server that runs until stopped; tests/dashboard starts it in a browser"
NOT_RUN = {
    "workbench datasets fetch caffe --dest data": _NET,
    "workbench datasets fetch ssl4sar --dest /scratch/data --keep-archive": _NET,
    "workbench datasets fetch caffe --dest data --archive ~/Downloads/data_raw.zip": _USER,
    "workbench demo": _LONG + " (the default 512² world; the 256² example runs)",
    "workbench demo --out /tmp/world --glaciers 5 --years 3 --seed 7": _LONG,
    "workbench evaluate demo_outlines demo --ablation 1,3,5,all --demo-years 3": _LONG,
    "workbench evaluate runs/demo_zones/best.pt demo_data --out reports/zones": _LONG
    + " (the same model is evaluated by name on demo_data here)",
    "workbench evaluate best.pt /data/CaFFe --split test --tta --out reports/caffe": _USER,
    "workbench evaluate best.pt ../shared/data/caffe256 --split all --resolution none "
    "--min-cluster-px 10 --thin-fronts": _LONG,
    "workbench loo caffe256_caffe_unet --data ../shared/data/caffe256 --out outputs/loo": _LONG,
    "workbench loo caffe256_caffe_unet trainer.max_epochs=20 --data ../shared/data/caffe256 "
    "--out outputs/loo20 --glaciers SI,JAC": _LONG,
    "workbench loo my_recipe.yaml --data CaFFe_flat --out outputs/loo --select image": _USER,
    "workbench predict '/data/s1/*.zarr' --checkpoint best.pt --out preds --workers 4": _USER,
    "workbench predict a.zarr b.zarr --checkpoint m1.pt --checkpoint m2.pt --tta --out ens": _USER,
    "workbench predict /data/s1 --checkpoint best.pt --out preds --scheduler "
    "tcp://10.0.0.5:8786": _NET,
    "workbench predict tiles/ --checkpoint ice.pt --out masks --temporal window --steps 15": _USER,
    "workbench predict tiles/ --checkpoint best.pt --out preds --window 384 --overlap 0.5": _USER,
    "workbench pretrain demo_pretrain": _LONG,
    "workbench pretrain demo_pretrain method=opttranslator optimizer.lr=0.05": _LONG,
    "workbench pretrain pretrain_optsimmim data.root=/data/ssl4sar_stacks trainer.devices=4 "
    "trainer.strategy=ddp": _GPUS,
    "workbench pretrain demo_pretrain --resume": _LONG,
    "workbench pretrain demo_pretrain --overwrite": _LONG,
    "workbench pretrain demo_pretrain --run-dir /tmp/ssl1": _LONG,
    "workbench train demo_zones model.name=ssl4sar_hybrid model.preset=small 'model.kwargs={}' "
    "init.encoder=runs/demo_pretrain/encoder.pt": _LONG,
    "workbench retreat fronts.gpkg --box box.gpkg --upstream=-561932,-1346904": _USER,
    "workbench retreat fronts.gpkg --centerline centreline.gpkg --out results": _USER,
    "workbench retreat fronts.gpkg --box box.gpkg --upstream right --metres map": _USER,
    "workbench serve demo_data": _SERVE,
    "workbench serve demo_data ../shared/data --checkpoint runs/best.pt --port 5007": _SERVE,
    "workbench serve demo_data --address 0.0.0.0 --allow-websocket-origin=host:5006 "
    "--basic-auth users.json --cookie-secret-file ~/.workbench_secret": _SERVE,
    "workbench serve demo_data --edits outputs/corrected_fronts": _SERVE,
    "workbench stack https://planetarycomputer.microsoft.com/api/stac/v1 --collection "
    "sentinel-1-rtc --aoi 11.9,78.8,12.6,79.0 --datetime 2022-01-01/2022-12-31 "
    "--polarisation HH --out stacks": _NET,
    "workbench stack catalog/catalog.json --aoi 12.2,78.9,5 --datetime 2019-01-01/2019-06-30 "
    "--orbit descending --resolution 40 --out stacks": _USER,
    "workbench stack items.json --aoi rgi_svalbard.gpkg --where \"glac_name = 'Kronebreen'\" "
    "--datetime 2020-01-01/2020-12-31 --min-coverage 0.9 --crs EPSG:32633 --out stacks": _USER,
    "workbench stack --safe S1B_IW_GRDH_1SDV_20190412T051502.SAFE --dem dem.tif --out stacks": _USER,
    "workbench train demo_zones": _LONG,
    "workbench train demo_outlines trainer.max_epochs=3 name=quick": _LONG,
    "workbench train ssl4sar_hybrid_caffe data.root=/data/CaFFe trainer.devices=4 "
    "trainer.strategy=ddp": _GPUS,
    "workbench train my_config.yaml optimizer.lr=1e-3 model.kwargs.front_head=true": _USER,
    "workbench train demo_zones --resume": _LONG,
    "workbench train demo_zones --overwrite": _LONG,
    "workbench train demo_zones --run-dir /tmp/run1": _LONG,
}


def test_every_example_is_classified():
    """Each help example is run here or has a reason not to be; no stale entries either."""
    run, not_run, examples = set(RUN), set(NOT_RUN), set(EXAMPLES)
    assert not run & not_run
    assert examples - run - not_run == set(), "new help examples: add them to RUN or NOT_RUN"
    assert (run | not_run) - examples == set(), "examples no longer in any help text"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, shared_root) -> Path:
    """A folder as the quick start leaves it, with ``../shared`` beside it when present."""
    top = tmp_path_factory.mktemp("quickstart")
    work = top / "work"
    (work / "runs" / "demo_zones").mkdir(parents=True)
    demo_zones = resolve_checkpoint("demo_zones")
    shutil.copy(demo_zones, work / "runs" / "demo_zones" / "best.pt")
    shutil.copy(demo_zones, work / "best.pt")
    if shared_root.is_dir():
        (top / "shared").symlink_to(shared_root.parent.resolve())
    return work


@pytest.mark.slow
@pytest.mark.parametrize("example", RUN, ids=[e[10:60] for e in RUN])
def test_help_example_runs(example, sandbox, shared_root):
    if "../shared/data" in example and not shared_root.is_dir():
        pytest.skip(f"real data folder {shared_root} is absent (set WORKBENCH_SHARED_DATA)")
    argv = shlex.split(example)
    exe = Path(sys.executable).with_name("workbench")
    cmd = [str(exe) if exe.exists() else "workbench", *argv[1:]]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    res = subprocess.run(cmd, cwd=sandbox, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, (
        f"{example}\nexit {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    )
