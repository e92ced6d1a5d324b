"""Raw CSV -> typed parquet plus a record of every missing and coerced cell."""

from shortcut import data, files
from shortcut.job import run


def main(snakemake):
    spec = data.DatasetSpec.from_config(snakemake.params.dataset)
    frame, cells = data.clean_part(snakemake.input.csv, spec, snakemake.wildcards.source, snakemake.params.holdout)
    files.write_parquet(frame, snakemake.output.parquet)
    files.write_json(snakemake.output.cells, cells)


run(snakemake, main)  # noqa: F821
