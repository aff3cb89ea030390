"""Scene stacks, readers and writers, the CaFFe reader, synthetic scenes and patch datasets.

The names most code needs are importable from here::

    >>> from workbench.data import open_stack, simulate_glacier, write_stack
"""

from workbench.data.caffe import CaffeDataset, parse_caffe_name, read_bbox
from workbench.data.demo import load_manifest, make_demo_world
from workbench.data.stack import SIGMA0, open_stack, validate_stack, write_stack
from workbench.data.synthetic import simulate_glacier, simulate_world

__all__ = [
    "SIGMA0",
    "CaffeDataset",
    "load_manifest",
    "make_demo_world",
    "open_stack",
    "parse_caffe_name",
    "read_bbox",
    "simulate_glacier",
    "simulate_world",
    "validate_stack",
    "write_stack",
]
