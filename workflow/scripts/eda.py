"""Class distribution, per-class box plots and feature-target association, train and test side by side."""

import matplotlib

matplotlib.use("Agg")

from shortcut import data, eda, files  # noqa: E402
from shortcut.job import run  # noqa: E402
from shortcut import spec as specs  # noqa: E402


def main(snakemake):
    spec = specs.from_roles(files.read_yaml(snakemake.input.roles), snakemake.params.dataset)
    frames = {part: data.feature_frame(files.read_parquet_table(path, strings_as_dictionary=True), spec)
              for part, path in (("train", snakemake.input.train), ("test", snakemake.input.test))}
    dist = eda.class_distribution(frames, spec)
    assoc = eda.target_association(frames, spec)
    out = snakemake.output
    for table, name, schema in ((dist, "classes", eda.CLASS_DISTRIBUTION_COLUMNS),
                                (assoc, "association", eda.ASSOCIATION_COLUMNS),
                                (eda.numeric_summary(frames, spec), "summary", eda.NUMERIC_SUMMARY_COLUMNS)):
        files.write_table(table, out[name], schema)  # the hand-off to the report
        files.write_csv(table, out[f"{name}_csv"])  # the copy for people
    files.save_figure(eda.plot_class_distribution(dist, spec), out.classes_png)
    files.save_figure(eda.plot_boxplots(frames, spec), out.boxplots_png)
    files.save_figure(eda.plot_association(assoc), out.association_png)


run(snakemake, main)  # noqa: F821
