"""The report of a test file without labels: one HTML page and its Markdown twin (no figures)."""

from shortcut import files, summary, unlabeled
from shortcut.job import run
from shortcut.report import render_html, render_markdown
from shortcut.report.unlabeled import unlabeled_document


def main(snakemake):
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    resolved = files.read_yaml(inp.roles)
    doc = unlabeled_document(
        files.read_json(inp.summary), files.read_table(inp.units, unlabeled.UNIT_COLUMNS),
        files.read_table(inp.class_mix, unlabeled.MIX_COLUMNS), files.read_json(inp.answer),
        files.read_table(inp.metrics, summary.METRICS_SUMMARY_COLUMNS),
        {"dataset": p.dataset, "target": resolved["target"]})
    files.write_text(out.html, render_html(doc, {}))
    files.write_text(out.md, render_markdown(doc, {}))


run(snakemake, main)  # noqa: F821
