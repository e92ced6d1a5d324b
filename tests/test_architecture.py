"""Architecture rules of the library (``workflow/scripts/shortcut``), checked on its source.

Each rule walks the AST of every library module, so a violation names the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1] / "workflow" / "scripts" / "shortcut"
MODULES = sorted(LIBRARY.rglob("*.py"))


# named tuples' public API and positional fields (pandas' itertuples names a column "_0")
NAMEDTUPLE = {"_asdict", "_replace", "_fields", "_field_defaults", "_make"}


def _private(name: str) -> bool:
    """A leading-underscore name that is not a dunder (``__init__``, ``__name__`` are public) nor
    a named tuple's (``_asdict``, ``_0``)."""
    if name in NAMEDTUPLE or name[1:].isdigit():
        return False
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_access(path: Path) -> list[str]:
    """Where ``path`` reaches into another module's privates: ``from .m import _name`` (or
    ``from shortcut.m import _name``), and any attribute ``X._name`` where X is not ``self`` or
    ``cls`` (a module's own privates are reached by bare name, never through an object)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(LIBRARY.parent)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            library = node.level > 0 or (node.module or "").split(".")[0] == "shortcut"
            for alias in node.names:
                if library and _private(alias.name):
                    found.append(f"{where}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {alias.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_rule_sees_what_it_forbids(tmp_path):
    """The checker itself: imports of and reaches into privates are found, own privates are not."""
    bad = tmp_path / "shortcut" / "bad.py"
    bad.parent.mkdir()
    bad.write_text(
        "from .network import _BaseNet, MLP\n"
        "from shortcut.train import _fit\n"
        "from numpy import _globals\n"  # not the library: allowed
        "class A:\n"
        "    def f(self, model):\n"
        "        self._ok = model._ws\n"
        "        return type(self)._from_meta(), self.__class__, cls._fine\n",
        encoding="utf-8",
    )
    global LIBRARY
    saved, LIBRARY = LIBRARY, tmp_path / "shortcut"
    try:
        found = private_access(bad)
    finally:
        LIBRARY = saved
    assert [line.split(": ", 1)[1] for line in found] == [
        "from .network import _BaseNet",
        "from shortcut.train import _fit",
        "model._ws",
        "type(self)._from_meta",
    ]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LIBRARY)))
def test_no_module_touches_another_modules_privates(path):
    assert private_access(path) == []


# --- only the file-I/O module touches the file system ------------------------------------------

# Parameter names that say "a path": a library function outside shortcut/files.py taking one
# would be reading or writing files itself.
PATH_PARAMETER = re.compile(r"(^|_)(path|paths|filename|dir|directory|folder)$|^(file|csv)$")
# Calls that open, read or write files.
IO_CALLS = {"open", "read_csv", "read_parquet", "read_table", "read_json", "to_csv", "to_parquet",
            "savefig", "savez", "load", "save", "write_text", "read_text", "write_bytes", "read_bytes",
            "FileHandler", "mkdir", "unlink", "rename", "replace", "copyfile", "copy2", "rmtree"}
IO_OWNER = "files.py"


def _io_findings(path: Path) -> list[str]:
    text = path.read_text()
    tree = ast.parse(text, str(path))
    # A line may open a file that is no data (e.g. /proc/self/maps) if it says why: "# file-io: <why>".
    allowed = {i for i, line in enumerate(text.splitlines(), start=1) if "# file-io:" in line}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                if PATH_PARAMETER.search(arg.arg):
                    found.append(f"{path.name}:{node.lineno} {node.name}({arg.arg}) takes a path")
        elif isinstance(node, ast.Call) and node.lineno not in allowed:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in IO_CALLS:
                continue
            # str.replace / dict-like .load of a model are not file I/O: only flag calls whose
            # receiver is a module or object known for files
            receiver = func.value if isinstance(func, ast.Attribute) else None
            receiver_name = getattr(receiver, "id", None) or getattr(receiver, "attr", None)
            if name == "open" and receiver is None:
                found.append(f"{path.name}:{node.lineno} calls open()")
            elif receiver_name in {"pd", "pq", "np", "json", "os", "shutil", "Path", "fig", "figure", "logging", "pacsv"}:
                found.append(f"{path.name}:{node.lineno} calls {receiver_name}.{name}()")
            elif name == "to_csv" and not node.args and all(k.arg != "path_or_buf" for k in node.keywords):
                continue  # DataFrame.to_csv() with no target returns the text
            elif name in {"to_csv", "to_parquet", "savefig", "write_text", "read_text", "write_bytes",
                          "read_bytes", "FileHandler"}:
                found.append(f"{path.name}:{node.lineno} calls .{name}()")
    return found


def test_only_the_file_io_module_takes_paths_or_touches_files():
    """Library functions take and return in-memory data; shortcut/files.py is the one module that
    opens, reads or writes a file, so every path in the pipeline is handled in a rule script or
    there."""
    findings = []
    for path in sorted(LIBRARY.rglob("*.py")):
        if path.name != IO_OWNER:
            findings += _io_findings(path)
    assert not findings, "\n".join(findings)


def test_the_io_check_catches_a_path_argument_and_a_file_read(tmp_path):
    """The check above fails on the two ways a module could go behind files.py's back."""
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import pandas as pd\n\ndef load_table(table_path):\n    return pd.read_csv(table_path)\n")
    found = _io_findings(sneaky)
    assert any("takes a path" in f for f in found) and any("pd.read_csv" in f for f in found)


# --- tables between rules are typed --------------------------------------------------------

SCRIPTS = LIBRARY.parent


def _csv_reads(path: Path) -> list[str]:
    """Calls in a rule script that read a CSV other than the user's own data: ``files.read_csv``
    (a table another rule wrote) unless it reads Snakemake's benchmark TSVs (``sep="\\t"``, a file
    Snakemake writes, not a rule), and any other reader whose name says CSV except the raw-data
    readers ``files.read_raw_csv*`` / ``read_csv_header``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "read_csv":
                tab = any(k.arg == "sep" and isinstance(k.value, ast.Constant) and k.value.value == "\t"
                          for k in node.keywords)
                if not tab:
                    found.append(f"{path.name}:{node.lineno} reads a CSV table: read it with files.read_table")
            elif "csv" in name.lower() and not name.startswith(("read_raw_csv", "read_csv_header", "write_", "csv_")):
                found.append(f"{path.name}:{node.lineno} calls {name}()")
        elif isinstance(node, ast.Dict):  # a reader table such as {".csv": files.read_csv}
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value == ".csv":
                    found.append(f"{path.name}:{node.lineno} maps .csv files to a reader")
    return found


def test_no_rule_script_reads_a_table_another_rule_wrote_as_csv():
    """What one rule writes and another reads is typed parquet (``files.read_table`` checks its
    declared columns); CSV copies are for people, and only the user's own CSVs are read as CSV."""
    findings = [f for path in sorted(SCRIPTS.glob("*.py")) for f in _csv_reads(path)]
    assert not findings, "\n".join(findings)


def test_the_csv_check_catches_a_csv_hand_off(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from shortcut import files\n\n"
                      "def main(snakemake):\n"
                      "    table = files.read_csv(snakemake.input.table)\n"
                      "    timings = files.read_csv(snakemake.input.bench, sep='\\t')\n"
                      "READERS = {'.csv': files.read_csv}\n")
    found = sorted(_csv_reads(sneaky))
    assert len(found) == 2 and "sneaky.py:4 reads a CSV" in found[0] and "sneaky.py:6 maps .csv" in found[1]


# --- decision values come from the config --------------------------------------------------

# The modules whose numbers decide what the user is told.
DECISION_MODULES = ("diagnose.py", "conditional.py", "remedy.py", "decompose.py", "shift.py", "reliance.py",
                    "domain.py", "stats.py", "unlabeled.py")
# Literals a comparison may use without an entry: emptiness, one, a pair (structure, not a decision).
STRUCTURAL = {0, 1, 2}
# (module, function, literal) -> why the number is not a decision value the config should hold.
LITERAL_ALLOWLIST = {
    ("diagnose.py", "_answer", 0.01): "which classes the class-mix sentence lists (shares moved by a "
                                      "point or more); every share is in class_mix.json",
    ("diagnose.py", "_answer", 4): "how many undetermined units a sentence names before '…'",
    ("stats.py", "studentized_upper", 1e-300): "a variance below this is zero in floating point",
    ("stats.py", "studentized_upper", 10): "fewer usable bootstrap-t draws than this fall back to the "
                                          "normal bound (a numerical guard, not a threshold on data)",
}


def _literal_comparisons(path: Path) -> list[tuple[str, str, float, int]]:
    """(module, function, literal, line) of every comparison against a numeric literal that is
    not structural (0, 1, 2)."""
    tree = ast.parse(path.read_text(), str(path))
    owner = {}
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(fn):
                owner[id(sub)] = fn.name  # the innermost function wins (walked last)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            sign = 1
            if isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.USub):
                operand, sign = operand.operand, -1
            if (isinstance(operand, ast.Constant) and isinstance(operand.value, (int, float))
                    and not isinstance(operand.value, bool) and operand.value not in STRUCTURAL):
                found.append((path.name, owner.get(id(node), "<module>"), sign * operand.value, node.lineno))
    return found


def test_decision_modules_compare_only_against_config_values():
    """A threshold written into a decision module would decide the answer without the config (or
    the schema's documentation) saying so: every comparison against a number other than 0, 1 or 2
    has an allowlist entry that says why it is not a decision value."""
    found = [f for name in DECISION_MODULES for f in _literal_comparisons(LIBRARY / name)]
    unlisted = [f"{m}:{line} in {fn}() compares against {v}" for m, fn, v, line in found
                if (m, fn, v) not in LITERAL_ALLOWLIST]
    assert not unlisted, "\n".join(unlisted)
    stale = set(LITERAL_ALLOWLIST) - {(m, fn, v) for m, fn, v, _ in found}
    assert not stale, f"allowlist entries no code uses any more: {sorted(stale)}"


def test_the_literal_check_catches_a_threshold(tmp_path):
    sneaky = tmp_path / "diagnose.py"
    sneaky.write_text("def verdict(auc, n):\n    return auc >= 0.55 and n > 0 and len([n]) == 1\n")
    assert _literal_comparisons(sneaky) == [("diagnose.py", "verdict", 0.55, 2)]


# --- every config key is documented in the schema -----------------------------------------------

CONFIG_SCHEMA = LIBRARY.parents[1] / "schemas" / "config.schema.yaml"


def undocumented_keys(schema, path: str = "") -> list[str]:
    """Keys of a JSON schema (``properties`` and ``patternProperties`` entries, found through
    ``items``, ``additionalProperties``, ``anyOf``/``oneOf``/``allOf`` too) without a non-empty
    ``description``: the workflow catalog renders the schema as the config's documentation."""
    found: list[str] = []
    if not isinstance(schema, dict):
        return found
    for keyword in ("properties", "patternProperties"):
        for key, sub in (schema.get(keyword) or {}).items():
            where = f"{path}.{key}" if path else key
            if not (isinstance(sub, dict) and str(sub.get("description") or "").strip()):
                found.append(where)
            found += undocumented_keys(sub, where)
    for keyword, mark in (("items", "[]"), ("additionalProperties", ".*")):
        found += undocumented_keys(schema.get(keyword), path + mark)
    for keyword in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(keyword) or []:
            found += undocumented_keys(sub, path)
    return found


def test_every_config_key_has_a_description():
    import yaml

    missing = undocumented_keys(yaml.safe_load(CONFIG_SCHEMA.read_text(encoding="utf-8")))
    assert not missing, "config keys without a description in the schema: " + ", ".join(missing)


def test_the_description_check_looks_everywhere():
    schema = {"properties": {
        "a": {"description": "documented", "type": "object", "properties": {"b": {"type": "integer"}}},
        "list": {"description": "d", "type": "array", "items": {"properties": {"c": {"description": " "}}}},
        "named": {"description": "d", "additionalProperties": {"properties": {"e": {}}}},
        "either": {"description": "d", "anyOf": [{"type": "null"}, {"properties": {"f": {}}}]},
    }, "patternProperties": {"^x": {"type": "string"}}}
    assert undocumented_keys(schema) == ["a.b", "list[].c", "named.*.e", "either.f", "^x"]


# --- spec's names are imported from spec -----------------------------------------------------------

SPEC_MODULE = LIBRARY / "spec.py"


def _top_level_names(path: Path) -> set[str]:
    """Names a module assigns, defines or imports at its top level."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def borrowed_spec_names(path: Path) -> list[str]:
    """Where ``path`` takes one of ``shortcut.spec``'s names from another library module
    (``from shortcut.data import TARGET``, ``from .data import DatasetSpec``, ``data.TARGET``)
    instead of from ``spec`` itself."""
    spec_names = _top_level_names(SPEC_MODULE)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = set()  # local names bound to a library module other than spec
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        parts = (node.module or "").split(".")
        library = node.level > 0 or parts[0] == "shortcut"
        owner = parts[-1] if node.module else ""
        for alias in node.names:
            if not library:
                continue
            if alias.name in spec_names and owner not in ("spec", "shortcut", ""):
                found.append(f"{path.name}:{node.lineno}: from {node.module} import {alias.name}")
            elif alias.name != "spec" and (LIBRARY / f"{alias.name}.py").exists() and owner in ("shortcut", ""):
                modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr in spec_names):
            found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_spec_names_come_from_spec():
    root = LIBRARY.parents[2]
    paths = [*MODULES, *sorted(LIBRARY.parent.glob("*.py")), *sorted((root / "tests").glob("*.py")),
             *sorted((root / "benchmarks").glob("*.py"))]
    found = [f for path in paths for f in borrowed_spec_names(path)]
    assert not found, "import these from shortcut.spec:\n" + "\n".join(found)


def test_the_spec_check_catches_a_borrowed_name(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from shortcut import data, files\nfrom shortcut.data import DatasetSpec\n"
                      "from shortcut.spec import TARGET\nx = data.TARGET, files.read_json, TARGET\n")
    assert borrowed_spec_names(sneaky) == ["sneaky.py:2: from shortcut.data import DatasetSpec",
                                           "sneaky.py:4: data.TARGET"]
