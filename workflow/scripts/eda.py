"""Class distribution, per-class box plots and feature-target association, train and test side by side."""

import matplotlib

matplotlib.use("Agg")

from shortcut import data, eda, files  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    spec = data.DatasetSpec.from_config(snakemake.params.dataset)
    frames = {part: data.feature_frame(files.read_parquet_table(path, strings_as_dictionary=True), spec)
              for part, path in (("train", snakemake.input.train), ("test", snakemake.input.test))}
    dist = eda.class_distribution(frames, spec)
    assoc = eda.target_association(frames, spec)
    files.write_csv(dist, snakemake.output.classes)
    files.write_csv(assoc, snakemake.output.association)
    files.write_csv(eda.numeric_summary(frames, spec), snakemake.output.summary)
    files.save_figure(eda.plot_class_distribution(dist, spec), snakemake.output.classes_png)
    files.save_figure(eda.plot_boxplots(frames, spec), snakemake.output.boxplots_png)
    files.save_figure(eda.plot_association(assoc), snakemake.output.association_png)


run(snakemake, main)  # noqa: F821
