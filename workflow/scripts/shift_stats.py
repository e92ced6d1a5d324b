"""Train-vs-test shift statistics of every source feature, and label drift."""

from shortcut import data, io, pipeline
from shortcut.runner import run


def main(snakemake):
    spec = data.DatasetSpec.from_config(snakemake.params.dataset)
    table, drift = pipeline.shift_step(
        io.read_parquet(snakemake.input.train), io.read_parquet(snakemake.input.test), spec, snakemake.params.shift
    )
    io.write_csv(table, snakemake.output.table)
    io.write_json(snakemake.output.label_drift, drift)


run(snakemake, main)  # noqa: F821
