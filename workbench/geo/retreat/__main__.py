"""``python -m workbench.geo.retreat [LINES_ROOT] [OUT.png]`` regenerates docs/retreat_harald_moltke.png."""

from workbench.geo.retreat.products import _main

if __name__ == "__main__":  # pragma: no cover
    _main()
