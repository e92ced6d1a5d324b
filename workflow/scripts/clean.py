"""Raw CSV -> typed parquet plus a record of every missing and coerced cell."""

from shortcut import data, io
from shortcut.runner import run


def main(snakemake):
    spec = data.DatasetSpec.from_config(snakemake.params.dataset)
    frame, cells = data.clean_part(snakemake.input.csv, spec, snakemake.wildcards.part, snakemake.params.holdout)
    io.write_parquet(frame, snakemake.output.parquet)
    io.write_json(snakemake.output.cells, cells)


run(snakemake, main)  # noqa: F821
