"""The final answer (``diagnosis/answer.json``) as a program reads it: plain text beside the
markdown, the check against its JSON Schema (``workflow/schemas/answer.schema.json``), and the
``fail_on`` gate that ends a run non-zero on chosen answers.

Pure Python (no NumPy, no pandas): the gate job imports it and stays cheap. ``jsonschema`` (a
dependency of Snakemake, and declared) is imported only by :func:`check`.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from .errors import DataError

# Markdown the answer's sentences use: code spans (`feature`) and bold (**text**).
_MARKUP = re.compile(r"\*\*|`")

# fail_on value -> the answer kinds it fails on. Both "suspect not confirmed" kinds have a
# headline reading "Suspect not confirmed": removing the suspect did not help, or the
# confirmation rows could not tell (inconclusive).
FAIL_ON = {
    "shortcut": ("shortcut",),
    "suspect not confirmed": ("suspect not confirmed", "suspect inconclusive"),
    "insufficient evidence": ("insufficient evidence",),
    # a test file without labels: a relied-on input moved beyond the class mix (shortcut.unlabeled)
    "suspect unconfirmed": ("suspect unconfirmed",),
}


def plain(text: str) -> str:
    """``text`` without its markdown: code-span backticks and ``**`` removed."""
    return _MARKUP.sub("", text)


def with_plain_text(answer: Mapping) -> dict:
    """``answer`` with ``headline_plain``, ``sentences_plain`` and ``text_plain``: its markdown
    fields ``headline``, ``sentences`` and ``text`` as plain text."""
    out = dict(answer)
    out["headline_plain"] = plain(answer["headline"])
    out["sentences_plain"] = [plain(s) for s in answer["sentences"]]
    out["text_plain"] = plain(answer["text"])
    return out


def check(answer: Mapping, schema: Mapping, source: str = "answer.json") -> None:
    """Raise :class:`DataError` with one line if ``answer`` does not match ``schema`` (a bug guard:
    the answer is the pipeline's own output). ``source`` names it in the message."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(answer))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        message = " ".join(error.message.split())
        message = message if len(message) <= 200 else message[:199] + "…"
        raise DataError(f"{source} does not match its schema (workflow/schemas/answer.schema.json) at "
                        f"{where}: {message} (a bug in shortcut-audit: please report it)")


def gate_failures(answer: Mapping, fail_on: Iterable[str]) -> list[str]:
    """The entries of ``fail_on`` that the answer's ``kind`` meets (see :data:`FAIL_ON`), in
    ``fail_on``'s order; empty when the run passes."""
    kind = answer.get("kind")
    unknown = [f for f in fail_on if f not in FAIL_ON]
    if unknown:
        raise DataError(f"fail_on: unknown value {unknown[0]!r}; use any of {', '.join(FAIL_ON)}")
    return [f for f in fail_on if kind in FAIL_ON[f]]


def gate_reason(answer: Mapping, failed: Iterable[str], source: str = "answer.json") -> str:
    """The one line that says why the run fails: the matched ``fail_on`` entries and the answer's
    headline, with the answer's file (``source``)."""
    headline = answer.get("headline_plain") or plain(str(answer.get("headline", "")))
    return f"fail_on: {', '.join(failed)} — {headline} ({source})"


def gate_passed(answer: Mapping, fail_on: Iterable[str]) -> str:
    """The line the gate writes when the run passes: what was checked and the answer's kind and
    headline."""
    headline = answer.get("headline_plain") or plain(str(answer.get("headline", "")))
    return f"pass: fail_on [{', '.join(fail_on)}] not met; the answer is {answer.get('kind')}: {headline}\n"
