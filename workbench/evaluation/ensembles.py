"""Moved to :mod:`workbench.metrics.ensembles` (pure metrics, no training or inference).

This name stays for old imports: it is the very same module object, so
``from workbench.evaluation.ensembles import ...`` (private names included) keeps working.
"""

import sys

from workbench.metrics import ensembles as _moved

sys.modules[__name__] = _moved
