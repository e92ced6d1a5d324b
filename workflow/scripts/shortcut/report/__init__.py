"""The generalization report: every number, table, figure and caption, from the pipeline's outputs.

The package takes contents, never paths (the rule script ``workflow/scripts/report.py`` reads the
inputs and writes the outputs). Three steps, each testable on its own:

* :func:`make_inputs` gathers what the report rule's inputs hold (cell audits, the test split,
  encoder, EDA, training histories, metrics, saliency, permutation importance, the shift evidence,
  the verdict, its confirmation and the final answer, studies, :func:`benchmark_table` of the job
  timings) into an :class:`Inputs`.
* :func:`build_report` turns them into a :class:`Document`: sections (one module each under
  ``sections/``) of paragraphs, tables and figures. Every number in it is computed from the
  inputs; no dataset column is named here, the names come from the inputs and the config. The
  answer at the top is ``answer.json``'s headline and sentences, shown verbatim.
* :func:`draw` makes each figure the report draws (a figure made by another rule is copied, its
  PNG bytes are the figure's ``source``); :func:`render_html` and :func:`render_markdown` render
  the same document twice (see :mod:`.render`).

Splits: ``train`` (training partition), ``val`` (validation, the training distribution),
``audit`` (the part of the test rows every decision sees) and ``confirm`` (the part held back to
judge the remedy); the report calls the last two "test (audit)" and "test (confirmation)".
"""

from .build import build_report
from .load import Inputs, benchmark_table, make_inputs
from .names import FIGURES
from .plots import draw
from .render import (
    COST_END, COST_START, Bullets, Document, Figure, Heading, Para, Section, Table, render_html, render_markdown,
    strip_cost,
)

__all__ = [
    "COST_END", "COST_START", "FIGURES", "Bullets", "Document", "Figure", "Heading", "Inputs", "Para", "Section",
    "Table", "benchmark_table", "build_report", "draw", "make_inputs", "render_html", "render_markdown",
    "strip_cost",
]
