"""Raw CSV -> typed parquet plus a record of every missing and coerced cell."""

from shortcut import data, files
from shortcut.job import run
from shortcut import spec as specs


def main(snakemake):
    spec = specs.from_roles(files.read_yaml(snakemake.input.roles), snakemake.params.dataset)
    # a test file without labels (params.labeled false) is read without its target column
    required = [spec.target, *spec.features] if snakemake.params.labeled else list(spec.features)
    batches = files.read_raw_csv_batches(snakemake.input.csv, required, spec.encoding)
    frame, cells = data.clean_source(batches, spec, files.csv_origin(snakemake.input.csv),
                                     snakemake.wildcards.source, snakemake.params.holdout)
    files.write_parquet(frame, snakemake.output.parquet)
    files.write_json(snakemake.output.cells, cells)


run(snakemake, main)  # noqa: F821
