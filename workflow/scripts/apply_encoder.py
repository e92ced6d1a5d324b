"""Apply the fitted encoder, unchanged, to the cleaned test rows."""

from shortcut import data, io
from shortcut.runner import run


def main(snakemake):
    encoder = io.read_json(snakemake.input.encoder)
    frame, audit = data.encode_rows(io.read_parquet(snakemake.input.clean), encoder)
    io.write_parquet(frame, snakemake.output.test)
    io.write_json(snakemake.output.audit, audit)


run(snakemake, main)  # noqa: F821
