"""Finite-difference check of every backward term, on random and on real encoded rows."""

from shortcut import files
from shortcut.nn import gradcheck
from shortcut.job import run


def main(snakemake):
    X, y, _ = files.read_encoded(snakemake.input.train, "float64")
    table = gradcheck.gradcheck_table(X_real=X, y_real=y, seed=snakemake.params.seed)
    files.write_table(table, snakemake.output.table, gradcheck.GRADCHECK_COLUMNS)  # the hand-off to the report
    files.write_csv(table, snakemake.output.csv, float_format="%.3e")  # the copy for people


run(snakemake, main)  # noqa: F821
