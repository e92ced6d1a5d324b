"""The roles of the training CSV's columns, resolved once: results/<dataset>/config.yaml."""

from shortcut import files, roles
from shortcut.job import run


def main(snakemake):
    p = snakemake.params
    path = snakemake.input.csv
    header = files.read_csv_header(path, p.encoding)
    table = files.read_raw_csv(path, [], p.encoding, optional=header)  # every column, as text
    summaries, labels = roles.summarize_table(table, p.roles["target"])
    resolved = roles.resolve(summaries, labels, p.roles, p.max_coerced_fraction)
    files.write_yaml(snakemake.output.roles, resolved, header=roles.header(str(path)))


run(snakemake, main)  # noqa: F821
