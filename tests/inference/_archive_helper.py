"""``workbench predict`` with a pause after each scene's products are written (before its
``_SUCCESS`` and rename), so the kill-and-resume test can kill a run in mid-scene.

Usage: ``python _archive_helper.py SECONDS predict ARGS...`` (use ``--in-process`` so the
patched function is the one the workers run).
"""

from __future__ import annotations

import sys
import time

from workbench.inference import archive

_real = archive._write_products
_delay = float(sys.argv[1])


def _slow(*args, **kwargs):
    written = _real(*args, **kwargs)
    time.sleep(_delay)
    return written


archive._write_products = _slow

if __name__ == "__main__":
    from workbench.cli import main

    sys.exit(main(sys.argv[2:]))
