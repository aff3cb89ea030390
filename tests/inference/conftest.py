"""Fixtures for the inference tests; they and their helpers live in _inference_helpers.py
(a uniquely named module, so test files can import the helpers in a whole-suite run)."""

from _inference_helpers import *  # noqa: F401,F403  (fixtures are found by name)
from _inference_helpers import _one_torch_thread  # noqa: F401  (autouse fixture)
