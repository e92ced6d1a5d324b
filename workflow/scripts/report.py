"""The generalization report: a self-contained HTML page and its Markdown twin with PNG figures.

The paths live here: this script reads every input the rule names, hands the contents to
``shortcut.report``, and writes what it returns (figures, both pages, the captions).
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from shortcut import files, report  # noqa: E402
from shortcut.job import run  # noqa: E402

READERS = {".json": files.read_json, ".csv": files.read_csv, ".parquet": files.read_parquet, ".png": files.read_bytes}
BENCHMARKS = ("benchmarks", "remedy_benchmarks")  # job timings; a job behind both counts once


def listed(value) -> list:
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def read(value):
    """A file's content by its kind, or the contents of a list of files."""
    if isinstance(value, (str, os.PathLike)):
        return READERS[Path(value).suffix](value)
    return [read(path) for path in value]


def read_inputs(paths, settings) -> report.Inputs:
    """``paths``: the rule's input names -> files (the side studies may be missing)."""
    tables = {name: read(value) for name, value in paths.items() if name not in BENCHMARKS}
    jobs = dict.fromkeys(str(path) for name in BENCHMARKS for path in listed(paths.get(name, [])))
    timings = {os.path.relpath(path, settings["benchmark_root"]): files.read_csv(path, sep="\t") for path in jobs}
    return report.make_inputs(tables, settings, report.benchmark_table(timings) if timings else None)


def write_report(doc: report.Document, out, processes: int = 1) -> None:
    """Every figure (copied from the rule that made it, drawn, or a placeholder), then both pages
    and the captions; ``out`` maps html, md, captions and every figure name to its path. With
    ``processes`` > 1 a forked child draws every other figure meanwhile (the report is the last
    job: the other core is free); each figure is the same file either way."""
    figures = doc.figures()
    for figure in figures:
        if figure.source:
            files.write_bytes(out[figure.name], figure.source)
    drawn = [figure for figure in figures if not figure.source]
    if processes > 1 and len(drawn) > 1:
        import multiprocessing

        child = multiprocessing.get_context("fork").Process(target=draw_figures, args=(drawn[1::2], out))
        child.start()
        draw_figures(drawn[0::2], out)
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"drawing figures in a child process failed (exit status {child.exitcode})")
    else:
        draw_figures(drawn, out)
    pngs = {figure.name: files.read_bytes(out[figure.name]) for figure in figures}
    pages = Path(out["md"]).parent
    links = {name: Path(os.path.relpath(out[name], pages)).as_posix() for name in pngs}
    files.write_text(out["html"], report.render_html(doc, pngs))
    files.write_text(out["md"], report.render_markdown(doc, links))
    files.write_json(out["captions"], doc.captions())


def draw_figures(figures, out) -> None:
    for figure in figures:
        files.save_figure(report.draw(figure), out[figure.name])


def main(snakemake):
    inputs = read_inputs(dict(snakemake.input.items()), snakemake.params.settings)
    write_report(report.build_report(inputs), snakemake.output, processes=snakemake.threads)


if __name__ == "__main__":  # as Snakemake runs it; the tests import read_inputs and write_report
    run(snakemake, main)  # noqa: F821
