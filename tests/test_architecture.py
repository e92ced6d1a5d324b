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
