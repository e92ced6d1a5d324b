"""The workflow's library as the rules see it: where its files are on disk, and which of them each
rule script imports (``lib``), declared as the rule's inputs.

Parse-time code of the rules, loaded by ``common.smk`` (not part of the ``shortcut`` package: it
needs Snakemake's source-file classes, and no job imports it).

Where the library is (``setup``):

* a local source (this checkout, or ``module ...: snakefile: "/path/to/workflow/Snakefile"``): the
  ``workflow/scripts`` directory beside this file, used in place;
* a git source (``gitfile(...)``, ``github(...)``, ``gitlab(...)``): Snakemake hands the module's
  directory over as a source-file object, not a path. Its ``workflow/scripts`` tree at the module's
  ref is copied to ``COPY`` in the project's working directory, and a file is written only when
  its bytes differ from the copy's.

Why copies, and not ``workflow.source_path`` or an installed package: a rule's library inputs must
be paths that stay the same from run to run and release to release, and change content exactly when
the code does, so that a changed library file reruns exactly the jobs whose scripts import it.
``workflow.source_path`` gives a per-run temporary path for ``gitfile()`` (and a path per tag for
``github()``): every job's input set would change at every run or release. An installed package is
not a file of the project at all. The copies keep one relative path per file; a new ref rewrites
only the files whose content changed, so only their jobs rerun (newer and a different checksum),
and a moved project keeps its relative paths.
"""

from __future__ import annotations

import ast
import os
import sys

# Where a git source's scripts are copied, relative to the working directory.
COPY = os.path.join(".snakemake", "shortcut-audit", "scripts")


class Library:
    """The ``scripts`` directory of this workflow (rule scripts and the ``shortcut`` package).

    ``track_scripts``: also declare the rule script itself (its copy) as an input. Snakemake
    compares a ``script:``'s mtime only for a local script (a remote one is never checked), so
    for a git source the copy's content stands in for that check.
    """

    def __init__(self, scripts: str, track_scripts: bool = False):
        self.scripts = os.path.abspath(scripts)
        self.package = os.path.join(self.scripts, "shortcut")
        self.track_scripts = track_scripts
        # (path, name) -> the modules it imports: each file is parsed once per workflow parse
        self._imports: dict = {}

    def activate(self) -> None:
        """Put the library first on this process's path and on the jobs' (PYTHONPATH).

        Jobs import the library of THIS workflow, not a copy installed from another checkout
        (which would shadow it from site-packages: Snakemake would rerun a job for a code change
        the job never sees). PYTHONPATH comes before site-packages in a job's Python. It is set
        here, not required from the user, so it is no ``envvars:`` entry."""
        if self.scripts not in sys.path:
            sys.path.insert(0, self.scripts)
        paths = [self.scripts, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))

    def module_file(self, name: str) -> str | None:
        """File of library module ``name`` (dotted, below ``shortcut``), or None if there is none."""
        base = os.path.join(self.package, *name.split("."))
        for path in (f"{base}.py", os.path.join(base, "__init__.py")):
            if os.path.exists(path):
                return path
        return None

    def imports(self, path: str, name: str | None) -> frozenset:
        """Library modules (dotted names below ``shortcut``) that the Python file ``path``
        imports: ``shortcut.x`` from a script, relative imports inside the package, found by
        walking the syntax tree, so imports inside functions count too. ``name`` is the file's
        own module name (None for a rule script). Each file is parsed once per workflow parse,
        not once for every rule whose script imports it."""
        if (path, name) not in self._imports:
            self._imports[path, name] = self._parse_imports(path, name)
        return self._imports[path, name]

    def _parse_imports(self, path: str, name: str | None) -> frozenset:
        """``imports`` without the cache."""
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        # The package a relative import of level 1 starts from.
        package = []
        if name is not None:
            package = name.split(".")
            if not path.endswith("__init__.py"):
                package = package[:-1]
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level and name is not None:
                    start = package[: len(package) - (node.level - 1)]
                    dotted = start + (node.module.split(".") if node.module else [])
                elif not node.level and (node.module or "").split(".")[0] == "shortcut":
                    dotted = node.module.split(".")[1:]
                else:
                    continue
                if dotted:
                    found.add(".".join(dotted))
                # ``from package import name``: the name may itself be a module
                found.update(".".join([*dotted, alias.name]) for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("shortcut."):
                        found.add(alias.name.split(".", 1)[1])
        # A module also runs the __init__ of every package above it.
        closed = set()
        for dotted in found:
            parts = dotted.split(".")
            closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        return frozenset(m for m in closed if self.module_file(m))

    def lib(self, script: str) -> list[str]:
        """Library files the rule script ``script`` imports, directly or through other library
        modules (its import closure, computed when the workflow is parsed), declared as inputs so
        a code change reruns exactly the jobs that run that code."""
        todo = set(self.imports(os.path.join(self.scripts, script), None))
        seen = set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo |= self.imports(self.module_file(name), name)
        # Plain paths relative to the working directory (see the module's docstring).
        files = {os.path.join(self.package, "__init__.py")}
        files.update(self.module_file(name) for name in seen)
        if self.track_scripts:
            files.add(os.path.join(self.scripts, script))
        return [os.path.relpath(path) for path in sorted(files)]


def setup(basedir, sourcecache) -> Library:
    """The library of the workflow whose ``rules`` directory is ``basedir`` (common.smk's
    ``workflow.current_basedir``), on the path of this process and of the jobs."""
    from snakemake.sourcecache import LocalSourceFile

    if isinstance(basedir, LocalSourceFile):
        library = Library(os.path.join(os.fspath(basedir), os.pardir, "scripts"))
    else:
        join_accepts_source_files()
        repo, ref, path = git_tree(basedir.join("../scripts"), sourcecache)
        copy_tree(repo, ref, path, COPY)
        library = Library(COPY, track_scripts=True)
    library.activate()
    return library


def join_accepts_source_files() -> None:
    """Work around a Snakemake 9 bug (seen in 9.27): ``LocalGitFile.join`` takes a str only, but
    the check of a ``script:``'s mtime (``Job.outputs_older_than_script_or_notebook``) hands it a
    ``LocalSourceFile``, so any ``gitfile()`` module with a ``script:`` rule stops while building
    the DAG ("sequence item 1: expected str instance, LocalSourceFile found"). The patched join
    takes the file's path first, as ``SourceFile.join`` (the base class's) does."""
    from snakemake.sourcecache import LocalGitFile, SourceFile

    join = LocalGitFile.join
    if getattr(join, "accepts_source_files", False):
        return

    def patched(self, path):
        if isinstance(path, SourceFile):
            path = path.get_path_or_uri(secret_free=False)
        return join(self, path)

    patched.accepts_source_files = True
    LocalGitFile.join = patched


def git_tree(source, sourcecache):
    """(git repository, ref, directory in it) of a directory given by a git-backed Snakemake
    source file: ``gitfile()`` (a local repository) or ``github()``/``gitlab()`` (Snakemake's
    clone of it in its source cache, the one the module's Snakefile was read from)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.sourcecache import HostingProviderFile, LocalGitFile

    if isinstance(source, LocalGitFile):
        import git

        return git.Repo(source.repo_path), source.ref, source.path
    if isinstance(source, HostingProviderFile):
        source.cache_path = sourcecache.cache_path
        source.fetch_if_required()
        return source.hosted_repo.repo, source.ref, source.path
    raise WorkflowError(
        f"shortcut-audit as a module: its library cannot be listed from {source}; give the "
        "module's snakefile as a local path, gitfile(...), github(...) or gitlab(...)"
    )


def copy_tree(repo, ref: str, path: str, dest: str) -> None:
    """Every file of directory ``path`` of ``repo`` at ``ref``, written under ``dest``: a file
    only when its bytes differ (so an unchanged file keeps its mtime), atomically (parallel
    parses may race); files no longer in the tree are removed."""
    tree = repo.commit(ref).tree / path
    wanted = {}
    for item in tree.traverse():
        if item.type == "blob":
            wanted[os.path.relpath(item.path, path)] = item.data_stream.read()
    for rel, data in wanted.items():
        target = os.path.join(dest, rel)
        try:
            with open(target, "rb") as fh:
                if fh.read() == data:
                    continue
        except FileNotFoundError:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        partial = f"{target}.{os.getpid()}.tmp"
        with open(partial, "wb") as fh:
            fh.write(data)
        os.replace(partial, target)
    for root, dirs, files in os.walk(dest):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), dest)
            if rel not in wanted and not name.endswith(".tmp"):
                os.remove(os.path.join(root, name))
