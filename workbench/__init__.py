"""Glacier Workbench."""
