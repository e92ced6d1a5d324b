"""The release of shortcut-audit this library belongs to; the wheel's version is read from here
(``pyproject.toml``: ``dynamic = ["version"]``).

A module of its own, imported only by the code that writes the version into an output: every job
imports ``shortcut/__init__.py``, so a version kept there would make each release rerun every job
of a finished pipeline (a rule's library inputs are its script's import closure).
"""

__version__ = "0.3.0"
