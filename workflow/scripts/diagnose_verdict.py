"""Checkpoint: combine saliency and shift evidence into the shortcut verdict."""

import pandas as pd

from shortcut import io, pipeline
from shortcut.runner import run


def main(snakemake):
    result, table = pipeline.diagnose_step(
        pd.read_csv(snakemake.input.saliency), pd.read_csv(snakemake.input.shift), snakemake.params.diagnose
    )
    io.write_csv(table, snakemake.output.table)
    io.write_json(snakemake.output.verdict, result)


run(snakemake, main)  # noqa: F821
