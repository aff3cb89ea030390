"""Fixtures for the dashboard tests; they and their helpers live in _dashboard_helpers.py
(a uniquely named module, so test files can import the helpers in a whole-suite run)."""

from _dashboard_helpers import *  # noqa: F401,F403  (fixtures are found by name)
