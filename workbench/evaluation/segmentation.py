"""Moved to :mod:`workbench.metrics.segmentation` (pure metrics, no training or inference).

This name stays for old imports: it is the very same module object, so
``from workbench.evaluation.segmentation import ...`` (private names included) keeps working.
"""

import sys

from workbench.metrics import segmentation as _moved

sys.modules[__name__] = _moved
