"""Apply the fitted encoder, unchanged, to the audit and confirmation parts of the test rows."""

from shortcut import data, files
from shortcut.job import run


def main(snakemake):
    encoder = files.read_json(snakemake.input.encoder)
    cells = {}
    for part in ("audit", "confirm"):
        clean = files.read_parquet_table(snakemake.input[part], strings_as_dictionary=True)
        frame, cells[part] = data.encode_rows(clean, encoder)
        files.write_parquet(frame, snakemake.output[part])
    files.write_json(snakemake.output.cells, cells)


run(snakemake, main)  # noqa: F821
