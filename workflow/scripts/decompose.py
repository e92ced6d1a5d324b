"""Per grid model: where the accuracy went between validation and the audit rows, and the class
mix estimated from the model's own test predictions."""

from shortcut import decompose, io
from shortcut.runner import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    decomposition, label_shift = decompose.model_tables(
        io.read_parquet(inp.support), [io.read_parquet(x) for x in inp.val], [io.read_parquet(x) for x in inp.audit],
        p.models, p.n_classes, n_boot=p.n_boot, seed=p.seed,
    )
    io.write_csv(decomposition, snakemake.output.decomposition)
    io.write_csv(label_shift, snakemake.output.label_shift)


run(snakemake, main)  # noqa: F821
