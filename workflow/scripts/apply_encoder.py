"""Apply the fitted encoder, unchanged, to the audit and confirmation parts of the test rows."""

from shortcut import data, io
from shortcut.runner import run


def main(snakemake):
    encoder = io.read_json(snakemake.input.encoder)
    cells = {}
    for part in ("audit", "confirm"):
        frame, cells[part] = data.encode_rows(io.read_parquet(snakemake.input[part]), encoder)
        io.write_parquet(frame, snakemake.output[part])
    io.write_json(snakemake.output.cells, cells)


run(snakemake, main)  # noqa: F821
