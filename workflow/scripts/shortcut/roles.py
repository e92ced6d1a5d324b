"""The roles of a dataset's columns (target, classes, numeric and categorical features), resolved
once from the training CSV by the ``roles`` job and written to ``results/<dataset>/config.yaml``.

A key the config gives is kept (classes written as YAML booleans are matched to the CSV's text);
a key it leaves out is inferred: the classes are the training file's labels in sorted order, the
features every other column, numeric when it parses as numbers the way the clean job parses
them, else categorical. A text column unique per row (an identifier) and a constant column are
left out, with a warning. Every job that needs the roles reads that file
(``files.read_yaml``)."""

from __future__ import annotations

import logging
import re

from .errors import DataError
from .spec import NUMBER_PATTERN

log = logging.getLogger("shortcut")

# What YAML 1.1 reads as a boolean, by value: `classes: [no, yes]` arrives as [False, True].
YAML_BOOLEANS = {False: ("no", "false", "off", "n"), True: ("yes", "true", "on", "y")}
NUMBER = re.compile(NUMBER_PATTERN)  # the clean job's pattern

IDENTIFIER = "text unique per row (an identifier)"
CONSTANT = "constant (one value or none)"


def infer_classes(labels: list[str]) -> list[str]:
    """The distinct labels, sorted: by value when every one parses as a number, else as text.
    They stay the CSV's text (``"01"`` matches only ``01``), as the clean job compares them."""
    distinct = sorted(set(labels))
    if distinct and all(NUMBER.match(x) for x in distinct):
        return sorted(distinct, key=lambda x: (float(x), x))
    return distinct


def match_booleans(classes: list, labels: list[str]) -> list:
    """``classes`` with YAML booleans replaced by the CSV's own spelling of them (``no``/``yes``,
    ``false``/``true``, ``off``/``on``, ``n``/``y`` in any case), when the training labels are
    exactly such spellings; else a one-line error that shows the quoted form."""
    if not any(isinstance(c, bool) for c in classes):
        return list(classes)
    distinct = sorted(set(labels))
    spelled = {}
    for text in distinct:
        for value, words in YAML_BOOLEANS.items():
            if text.lower() in words:
                spelled.setdefault(value, []).append(text)
    resolved = []
    for c in classes:
        found = spelled.get(c, []) if isinstance(c, bool) else None
        if found is None:
            resolved.append(c)
        elif len(found) == 1 and all(any(t in v for v in spelled.values()) for t in distinct):
            resolved.append(found[0])
        else:
            quoted = ", ".join(f'"{t}"' for t in distinct[:6])
            raise DataError(
                f"config: classes {list(classes)} were read by YAML as booleans and the training labels "
                f"are {distinct[:6]}; quote the labels, e.g. classes: [{quoted}]"
            )
    return resolved


def summarize(cells: list) -> dict:
    """What resolving needs of one column of text cells (None for empty): rows, present cells,
    present cells that are not numbers (the clean job's pattern), distinct present values."""
    present = [x for x in cells if x is not None]
    return {"rows": len(cells), "present": len(present),
            "not_numeric": sum(1 for x in present if not NUMBER.match(x)), "distinct": len(set(present))}


def summarize_table(table, target: str) -> tuple[dict, list[str]]:
    """:func:`summarize` of every column of a pyarrow table of strings (as ``files.read_raw_csv``
    reads a CSV), computed by pyarrow without a Python object per cell; and the target's distinct
    labels (trimmed; empty text is missing, as in the clean job)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    summaries, labels = {}, []
    for name in table.column_names:
        text = pc.utf8_trim_whitespace(table.column(name).combine_chunks())
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text).drop_null()
        numeric = pc.sum(pc.match_substring_regex(text, NUMBER.pattern)).as_py() or 0
        summaries[name] = {"rows": table.num_rows, "present": len(text), "not_numeric": len(text) - numeric,
                           "distinct": pc.count_distinct(text).as_py()}
        if name == target:
            labels = pc.unique(text).to_pylist()
    return summaries, labels


def _kind(summary: dict, max_coerced_fraction: float) -> str:
    """numeric when at most ``max_coerced_fraction`` of the present cells is not a number (what
    the clean job tolerates), else categorical."""
    return "numeric" if summary["not_numeric"] <= max_coerced_fraction * summary["present"] else "categorical"


def resolve_cells(columns: dict[str, list], given: dict, max_coerced_fraction: float) -> dict:
    """:func:`resolve` of a table given as column -> text cells (None for empty)."""
    labels = [x for x in columns.get(given["target"], []) if x is not None]
    return resolve({name: summarize(cells) for name, cells in columns.items()}, labels, given, max_coerced_fraction)


def resolve(summaries: dict[str, dict], labels: list[str], given: dict, max_coerced_fraction: float) -> dict:
    """The roles of a table from its columns' summaries (:func:`summarize`) and the target's
    labels, ``given`` the config's keys (target, classes, features: None when left out). Returns
    the roles file's content: target, classes, features (categorical, numeric), left_out
    (column, reason) and source (which keys came from the config, which were inferred)."""
    target = given["target"]
    if target not in summaries:
        raise DataError(f"config: target '{target}' is not a column of the training CSV "
                        f"(columns: {', '.join(list(summaries)[:12])})")
    if given.get("classes"):
        classes, how = match_booleans(list(given["classes"]), labels), "config"
    else:
        classes, how = infer_classes(labels), "inferred from the training labels"
        if len(classes) < 2:
            raise DataError(f"target '{target}': the training CSV has {len(classes)} distinct label(s); "
                            "a classifier needs at least two")
    source = {"target": "config", "classes": how}
    left_out = []
    features = given.get("features") or {}
    if features.get("categorical") or features.get("numeric"):
        categorical = list(features.get("categorical") or [])
        numeric = list(features.get("numeric") or [])
        source["features"] = "config"
    else:
        categorical, numeric = [], []
        for name, summary in summaries.items():
            if name == target:
                continue
            kind = _kind(summary, max_coerced_fraction)
            if summary["distinct"] <= 1:
                left_out.append({"column": name, "reason": CONSTANT})
            elif kind == "categorical" and summary["distinct"] == summary["rows"]:
                left_out.append({"column": name, "reason": IDENTIFIER})
            else:
                (numeric if kind == "numeric" else categorical).append(name)
        source["features"] = "inferred: numeric if the column parses as numbers, else categorical"
        for item in left_out:
            log.warning("roles: column '%s' left out of the features: %s", item["column"], item["reason"])
        if not categorical and not numeric:
            raise DataError("roles: no feature column left in the training CSV besides the target")
    return {
        "target": target,
        "classes": classes,
        "features": {"categorical": categorical, "numeric": numeric},
        "left_out": left_out,
        "source": source,
    }


def header(origin: str) -> str:
    """The comment the roles file starts with: where its roles came from."""
    return (f"# The roles of the columns of {origin}, resolved by the roles job (keys the config\n"
            "# gives are kept; the others inferred). Every job that needs them reads this file.\n")


def n_classes(resolved: dict) -> int:
    """The number of classes of the roles (the roles file's content)."""
    return len(resolved["classes"])


def features(resolved: dict) -> list[str]:
    """The feature columns of the roles, categorical then numeric (the order of the remedies)."""
    found = resolved["features"]
    return list(found["categorical"]) + list(found["numeric"])
