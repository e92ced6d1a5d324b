"""The assignment's Question 2: one bias shared by both layers against independent biases."""

import matplotlib

matplotlib.use("Agg")

from shortcut import files, studies  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    p = snakemake.params
    history, summary = studies.shared_bias_study(
        snakemake.input.train, snakemake.input.val, p.n_classes, p.study,
        p.seeds, p.dtype, threads=snakemake.threads,
    )
    files.write_csv(history, snakemake.output.history)
    files.write_csv(summary, snakemake.output.summary)
    files.save_figure(studies.plot_shared_bias(history), snakemake.output.figure)


run(snakemake, main)  # noqa: F821
