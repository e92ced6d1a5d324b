"""Gather per-model metrics (mean and sd over seeds), saliency summaries and permutation
importance into tables."""

import pandas as pd

from shortcut import files, pipeline
from shortcut.job import run


def main(snakemake):
    keys = snakemake.params.models
    records = [files.read_json(path) for path in snakemake.input.metrics]
    per_seed, summary = pipeline.collect_metrics(records, keys)
    files.write_csv(per_seed, snakemake.output.per_seed)
    files.write_csv(summary, snakemake.output.summary)
    split_keys = [k for k in keys if k["split"] != "train"]
    for name in ("by_feature", "importance"):
        frames = [pd.read_csv(path) for path in snakemake.input[name]]
        target = snakemake.output.saliency if name == "by_feature" else snakemake.output.importance
        files.write_csv(pipeline.collect_saliency(frames, split_keys), target)


run(snakemake, main)  # noqa: F821
