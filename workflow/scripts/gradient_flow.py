"""Gradient flow: per-layer mean |dL/dW| over epochs for each studied model setting."""

import matplotlib

matplotlib.use("Agg")

from shortcut import files, gradient_flow, nn  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    names = snakemake.params.models
    histories = {name: files.read_table(path, nn.HISTORY_TABLE) for name, path in zip(names, snakemake.input.histories)}
    flow = gradient_flow.gradient_flow_table(histories, snakemake.params.activations)
    out = snakemake.output
    for table, name, schema in ((flow, "table", gradient_flow.GRADIENT_FLOW_COLUMNS),
                                (gradient_flow.gradient_flow_summary(flow), "summary",
                                 gradient_flow.GRADIENT_FLOW_SUMMARY_COLUMNS)):
        files.write_table(table, out[name], schema)  # the hand-off to the report
        files.write_csv(table, out[f"{name}_csv"])  # the copy for people
    files.save_figure(gradient_flow.plot_gradient_flow(flow), out.figure)


run(snakemake, main)  # noqa: F821
