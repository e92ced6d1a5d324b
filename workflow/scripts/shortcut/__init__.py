"""Shared library of the shortcut-audit pipeline: every rule script calls into it."""
