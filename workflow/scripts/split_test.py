"""Split the cleaned test rows into the audit part and the confirmation part."""

from shortcut import data, files
from shortcut.job import run


def main(snakemake):
    p = snakemake.params.split
    audit, confirm, summary = data.split_test(
        files.read_parquet(snakemake.input.clean), p["fraction"], p["seed"], p["stratify"]
    )
    summary["source"] = "test file" if snakemake.params.has_test_file else "held-out rows of the train file"
    files.write_parquet(audit, snakemake.output.audit)
    files.write_parquet(confirm, snakemake.output.confirm)
    files.write_json(snakemake.output.summary, summary)


run(snakemake, main)  # noqa: F821
