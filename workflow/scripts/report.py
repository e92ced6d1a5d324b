"""The generalization report: a self-contained HTML page and its Markdown twin with PNG figures."""

import matplotlib

matplotlib.use("Agg")

from shortcut import report  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    out = snakemake.output
    inputs = report.load_inputs(dict(snakemake.input.items()), snakemake.params.settings)
    document = report.build_report(inputs)
    figures = {name: out[name] for name in report.FIGURES}
    report.write_report(document, out.html, out.md, figures, captions_path=out.captions)


run(snakemake, main)  # noqa: F821
