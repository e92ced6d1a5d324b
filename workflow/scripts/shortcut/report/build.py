"""The whole report as a :class:`Document`: the subtitle, then every section in order."""

from __future__ import annotations

from . import facts
from .fmt import count, join_words, plural
from .load import Inputs
from .names import method_name
from .render import Document
from .sections import attribution, cost, data, generalization, label_free, remedy, shift, studies, training, verdict
from ..version import __version__

SECTIONS = [verdict, data, training, generalization, attribution, shift, label_free, remedy, studies, cost]


def build_report(inp: Inputs) -> Document:
    """Every number, table and caption of the report; figures are drawn when they are written."""
    s = inp.settings
    classes = s.get("class_names") or s.get("classes") or []
    ts = inp.test_split
    split = (f"; test rows: {count(ts.get('audit'))} audit, {count(ts.get('confirm'))} confirmation"
             if ts else "")
    subtitle = (f"Dataset `{s.get('dataset')}`: target `{s.get('target')}` with "
                f"{plural(len(classes), 'class', 'classes')} "
                f"({', '.join(str(c) for c in classes)}); grid models "
                f"{join_words([f'`{m}`' for m in facts.models(inp)])} "
                f"× seeds {', '.join(str(x) for x in s.get('seeds', []))}{split}; reliance: permutation "
                f"importance; attribution method "
                f"{method_name(s.get('method') or inp.diagnosis.get('method') or 'integrated_gradients')}; "
                f"shortcut-audit {__version__}.")
    sections = [module.section(inp) for module in SECTIONS]
    return Document(f"Generalization report: {s.get('dataset')}", subtitle, sections)
