"""Gradient flow: per-layer mean |dL/dW| over epochs for each studied model setting."""

import matplotlib

matplotlib.use("Agg")

from shortcut import files, gradient_flow  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    names = snakemake.params.models
    histories = {name: files.read_parquet(path) for name, path in zip(names, snakemake.input.histories)}
    flow = gradient_flow.gradient_flow_table(histories, snakemake.params.activations)
    files.write_csv(flow, snakemake.output.table)
    files.write_csv(gradient_flow.gradient_flow_summary(flow), snakemake.output.summary)
    files.save_figure(gradient_flow.plot_gradient_flow(flow), snakemake.output.figure)


run(snakemake, main)  # noqa: F821
