"""Write the synthetic demo CSVs (train with the planted shortcut, test where it is noise)."""

from shortcut import demo, files
from shortcut.job import run


def main(snakemake):
    p = snakemake.params.demo
    train, test = demo.generate(p["rows_train"], p["rows_test"], p["seed"])
    files.write_text_chunks(snakemake.output.train, demo.csv_chunks(train, integers=False))
    files.write_text_chunks(snakemake.output.test, demo.csv_chunks(test, integers=True))


run(snakemake, main)  # noqa: F821 (snakemake is injected by the script directive)
