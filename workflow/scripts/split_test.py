"""Split the cleaned test rows into the audit part and the confirmation part."""

from shortcut import data, io
from shortcut.runner import run


def main(snakemake):
    p = snakemake.params.split
    audit, confirm, summary = data.split_test(
        io.read_parquet(snakemake.input.clean), p["fraction"], p["seed"], p["stratify"]
    )
    summary["source"] = "test file" if snakemake.params.has_test_file else "held-out rows of the train file"
    io.write_parquet(audit, snakemake.output.audit)
    io.write_parquet(confirm, snakemake.output.confirm)
    io.write_json(snakemake.output.summary, summary)


run(snakemake, main)  # noqa: F821
