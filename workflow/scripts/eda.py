"""Class distribution, per-class box plots and feature-target association, train and test side by side."""

import matplotlib

matplotlib.use("Agg")

from shortcut import data, eda, io  # noqa: E402
from shortcut.runner import run  # noqa: E402


def main(snakemake):
    spec = data.DatasetSpec.from_config(snakemake.params.dataset)
    frames = {"train": io.read_parquet(snakemake.input.train), "test": io.read_parquet(snakemake.input.test)}
    dist = eda.class_distribution(frames, spec)
    assoc = eda.target_association(frames, spec)
    io.write_csv(dist, snakemake.output.classes)
    io.write_csv(assoc, snakemake.output.association)
    io.write_csv(eda.numeric_summary(frames, spec), snakemake.output.summary)
    io.save_figure(eda.plot_class_distribution(dist, spec), snakemake.output.classes_png)
    io.save_figure(eda.plot_boxplots(frames, spec), snakemake.output.boxplots_png)
    io.save_figure(eda.plot_association(assoc), snakemake.output.association_png)


run(snakemake, main)  # noqa: F821
