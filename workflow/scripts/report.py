"""The generalization report: a self-contained HTML page and its Markdown twin with PNG figures.

The paths live here: this script reads every input the rule names, hands the contents to
``shortcut.report``, and writes what it returns (figures, both pages, the captions).
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from shortcut import (  # noqa: E402
    conditional, decompose, diagnose, eda, files, gradient_flow, nn, remedy, report, shared_bias, shift, summary,
)
from shortcut.job import run  # noqa: E402
from shortcut.nn import gradcheck  # noqa: E402

# The declared columns of every table input (parquet, written by another rule): read through
# files.read_table, which rejects a missing, undeclared or wrongly typed column.
SCHEMAS = {
    "eda_classes": eda.CLASS_DISTRIBUTION_COLUMNS,
    "eda_association": eda.ASSOCIATION_COLUMNS,
    "eda_summary": eda.NUMERIC_SUMMARY_COLUMNS,
    "metrics": summary.METRICS_SUMMARY_COLUMNS,
    "remedy_metrics": summary.METRICS_SUMMARY_COLUMNS,
    "per_seed": summary.METRICS_PER_SEED_COLUMNS,
    "remedy_per_seed": summary.METRICS_PER_SEED_COLUMNS,
    "saliency": summary.GRID_SALIENCY_COLUMNS,
    "remedy_saliency": summary.GRID_SALIENCY_COLUMNS,
    "importance": summary.GRID_IMPORTANCE_COLUMNS,
    "shift": shift.SHIFT_COLUMNS,
    "conditional": conditional.EVIDENCE_COLUMNS,
    "conditional_steps": conditional.EVIDENCE_COLUMNS,
    "decomposition": decompose.DECOMPOSITION_COLUMNS,
    "label_shift": decompose.LABEL_SHIFT_COLUMNS,
    "verdict": diagnose.VERDICT_COLUMNS,
    "confirmation": remedy.CONFIRMATION_COLUMNS,
    "gradient_flow": gradient_flow.GRADIENT_FLOW_COLUMNS,
    "shared_bias_history": shared_bias.HISTORY_COLUMNS,
    "shared_bias_summary": shared_bias.SUMMARY_COLUMNS,
    "gradcheck": gradcheck.GRADCHECK_COLUMNS,
    "histories": nn.HISTORY_TABLE,
}
READERS = {".json": files.read_json, ".png": files.read_bytes}  # every table has its schema above
BENCHMARKS = ("benchmarks", "remedy_benchmarks")  # job timings; a job behind both counts once


def listed(value) -> list:
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def read(name: str, value):
    """The content of input ``name``: a table by its schema, another file by its kind; a list of
    contents for a list of files."""
    if not isinstance(value, (str, os.PathLike)):
        return [read(name, path) for path in value]
    if name in SCHEMAS:
        return files.read_table(value, SCHEMAS[name])
    return READERS[Path(value).suffix](value)


def read_inputs(paths, settings) -> report.Inputs:
    """``paths``: the rule's input names -> files (the side studies may be missing). The roles
    file (the roles job's) gives the target, the classes and the roles shown in the data section."""
    paths = dict(paths)
    if "roles" in paths:
        resolved = files.read_yaml(paths.pop("roles"))
        settings = {**settings, "target": resolved["target"], "classes": resolved["classes"], "roles": resolved}
    tables = {name: read(name, value) for name, value in paths.items() if name not in BENCHMARKS}
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
