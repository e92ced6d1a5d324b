"""Marginal train-vs-audit statistics of every source feature, and the class mix."""

from shortcut import data, files, shift
from shortcut.job import run
from shortcut import spec as specs
from shortcut.spec import TARGET


def main(snakemake):
    spec = specs.from_roles(files.read_yaml(snakemake.input.roles), snakemake.params.dataset)
    p = snakemake.params.shift
    # text as dictionary codes (categorical columns), not one Python string per cell
    train, test = (data.feature_frame(files.read_parquet_table(path, strings_as_dictionary=True), spec)
                   for path in (snakemake.input.train, snakemake.input.test))
    table = shift.shift_table(train, test, list(spec.numeric), list(spec.categorical), p["thresholds"], n_bins=p["bins"])
    mix = shift.class_mix(train[TARGET], test[TARGET], len(spec.classes), p["thresholds"])
    files.write_table(table, snakemake.output.table, shift.SHIFT_COLUMNS)
    files.write_csv(table, snakemake.output.csv)
    files.write_json(snakemake.output.class_mix, mix)


run(snakemake, main)  # noqa: F821
