"""Architecture rules of the library (``workflow/scripts/shortcut``), checked on its source.

Each rule walks the AST of every library module, so a violation names the file and line.
"""

from __future__ import annotations

import ast
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
