"""``python -m workbench.data.synthetic [OUT.png]`` regenerates the preview mosaic (docs/preview.png)."""

from workbench.data.synthetic.preview import _main

if __name__ == "__main__":  # pragma: no cover
    _main()
