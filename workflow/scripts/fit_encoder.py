"""Split cleaned train rows, fit the encoder on the training partition only, encode train and val."""

from shortcut import data, files
from shortcut.job import run
from shortcut import spec as specs


def main(snakemake):
    p = snakemake.params
    spec = specs.from_roles(files.read_yaml(snakemake.input.roles), p.dataset)
    clean = files.read_parquet_table(snakemake.input.clean, strings_as_dictionary=True)
    encoder, train, val = data.encode_train(clean, spec, snakemake.wildcards.fs, p.split, p.group_association)
    files.write_parquet(train, snakemake.output.train)
    files.write_parquet(val, snakemake.output.val)
    files.write_json(snakemake.output.encoder, encoder)


run(snakemake, main)  # noqa: F821
