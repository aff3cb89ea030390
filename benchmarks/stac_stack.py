"""Time to build a scene stack of 30 dates at 512² px from a local static STAC catalogue.

    .venv/bin/python benchmarks/stac_stack.py                 # 30 dates, 512², 2 items per date
    .venv/bin/python benchmarks/stac_stack.py --dates 60 --size 1024

The catalogue (written first, not timed) holds per date two overlapping COG strips of one
pass (so every date is a mosaic), 20 m pixels in UTM 33N, linear γ0 power with nodata
-32768, like Planetary Computer's ``sentinel-1-rtc``. The timed part is what
``workbench stack CATALOGUE --aoi ... --datetime ... --out DIR`` does: read and filter the
items (pystac), group them, load them lazily (odc-stac, Dask threads), convert to dB,
measure coverage, write the temporary and the final Zarr, validate. Reported: the wall time
of build_stack (best and median of --repeat runs) and the MB/s of float32 output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyproj
from affine import Affine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workbench.ingest.local_catalogue import Scene, write_catalogue  # noqa: E402
from workbench.ingest.stac import build_stack  # noqa: E402

X0, Y0, PX = 500000.0, 8760000.0, 20.0


def catalogue(root: Path, dates: int, size: int) -> tuple[Path, str]:
    rng = np.random.default_rng(0)
    half, overlap = size // 2, 16
    scenes = []
    for i in range(dates):
        when = dt.datetime(2019, 1, 1, 7, 12) + dt.timedelta(days=12 * i)
        power = (10 ** (rng.normal(-14, 4, (size, size)) / 10)).astype(np.float32)
        for part, (c0, c1) in enumerate(((0, half + overlap), (half - overlap, size))):
            scenes.append(
                Scene(
                    id=f"S1A_{when:%Y%m%dT%H%M%S}_{part}",
                    datetime=when + dt.timedelta(seconds=20 * part),
                    crs="EPSG:32633",
                    transform=Affine(PX, 0, X0 + c0 * PX, 0, -PX, Y0),
                    bands={"vv": power[:, c0:c1]},
                )
            )
    root = write_catalogue(root, scenes)
    # the AOI: the lon/lat box just inside the size² px square
    t = pyproj.Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    xs, ys = t.transform([X0, X0 + size * PX] * 2, [Y0, Y0, Y0 - size * PX, Y0 - size * PX])
    aoi = f"{sorted(xs)[1]:.6f},{sorted(ys)[1]:.6f},{sorted(xs)[2]:.6f},{sorted(ys)[2]:.6f}"
    return root, aoi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dates", type=int, default=30)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        root, aoi = catalogue(Path(tmp) / "cat", args.dates, args.size)
        print(
            f"catalogue: {args.dates} dates x 2 items of {args.size}x{args.size // 2 + 16} px, "
            f"written in {time.perf_counter() - t0:.1f} s (not timed below)"
        )
        times = []
        for r in range(args.repeat):
            t0 = time.perf_counter()
            result = build_stack(
                str(root),
                Path(tmp) / f"out{r}",
                aoi=aoi,
                datetime="2019-01-01/2021-12-31",
                progress=False,
            )
            times.append(time.perf_counter() - t0)
        mb = len(result.dates) * result.shape[0] * result.shape[1] * 4 / 1e6
        print(
            f"stack: {len(result.dates)} dates, {result.shape[0]} x {result.shape[1]} px, "
            f"{mb:.0f} MB float32"
        )
        print(
            f"build_stack: best {min(times):.2f} s, median {statistics.median(times):.2f} s "
            f"over {args.repeat} runs ({mb / min(times):.0f} MB/s)"
        )


if __name__ == "__main__":
    main()
