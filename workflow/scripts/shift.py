"""Marginal train-vs-audit statistics of every source feature, and the class mix."""

from shortcut import data, files, shift
from shortcut.job import run


def main(snakemake):
    spec = data.DatasetSpec.from_config(snakemake.params.dataset)
    p = snakemake.params.shift
    train, test = files.read_parquet(snakemake.input.train), files.read_parquet(snakemake.input.test)
    table = shift.shift_table(train, test, list(spec.numeric), list(spec.categorical), p["thresholds"], n_bins=p["bins"])
    mix = shift.class_mix(train[data.TARGET], test[data.TARGET], len(spec.classes), p["thresholds"])
    files.write_csv(table, snakemake.output.table)
    files.write_json(snakemake.output.class_mix, mix)


run(snakemake, main)  # noqa: F821
