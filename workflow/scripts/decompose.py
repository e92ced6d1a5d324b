"""Per grid model: where the accuracy went between validation and the audit rows, and the class
mix estimated from the model's own test predictions."""

from shortcut import decompose, files
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    decomposition, label_shift = decompose.model_tables(
        files.read_parquet(inp.support), [files.read_parquet(x) for x in inp.val], [files.read_parquet(x) for x in inp.audit],
        p.models, p.n_classes, n_boot=p.n_boot, seed=p.seed,
    )
    files.write_csv(decomposition, snakemake.output.decomposition)
    files.write_csv(label_shift, snakemake.output.label_shift)


run(snakemake, main)  # noqa: F821
