"""Gradient flow: per-layer mean |dL/dW| over epochs for each studied model setting."""

import matplotlib

matplotlib.use("Agg")

from shortcut import io, studies  # noqa: E402
from shortcut.runner import run  # noqa: E402


def main(snakemake):
    names = snakemake.params.models
    histories = {name: io.read_parquet(path) for name, path in zip(names, snakemake.input.histories)}
    flow = studies.gradient_flow_table(histories, snakemake.params.activations)
    io.write_csv(flow, snakemake.output.table)
    io.write_csv(studies.gradient_flow_summary(flow), snakemake.output.summary)
    io.save_figure(studies.plot_gradient_flow(flow), snakemake.output.figure)


run(snakemake, main)  # noqa: F821
