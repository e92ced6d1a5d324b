"""The assignment's Question 2: one bias shared by both layers against independent biases."""

import matplotlib

matplotlib.use("Agg")

from shortcut import files, shared_bias  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    X_train, y_train, _ = files.read_encoded(inp.train, p.dtype)
    X_val, y_val, _ = files.read_encoded(inp.val, p.dtype)
    history, summary = shared_bias.shared_bias_study(
        X_train, y_train, X_val, y_val, p.n_classes, p.study, p.seeds, p.dtype, threads=snakemake.threads,
    )
    files.write_csv(history, snakemake.output.history)
    files.write_csv(summary, snakemake.output.summary)
    files.save_figure(shared_bias.plot_shared_bias(history), snakemake.output.figure)


run(snakemake, main)  # noqa: F821
