"""Split cleaned train rows, fit the encoder on the training partition only, encode train and val."""

from shortcut import data, io
from shortcut.runner import run


def main(snakemake):
    p = snakemake.params
    spec = data.DatasetSpec.from_config(p.dataset)
    clean = io.read_parquet(snakemake.input.clean)
    encoder, train, val = data.encode_train(clean, spec, snakemake.wildcards.fs, p.split, p.group_association)
    io.write_parquet(train, snakemake.output.train)
    io.write_parquet(val, snakemake.output.val)
    io.write_json(snakemake.output.encoder, encoder)


run(snakemake, main)  # noqa: F821
