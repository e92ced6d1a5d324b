"""Gather per-model metrics (mean and sd over seeds) and saliency summaries into tables."""

import pandas as pd

from shortcut import io, pipeline
from shortcut.runner import run


def main(snakemake):
    keys = snakemake.params.models
    records = [io.read_json(path) for path in snakemake.input.metrics]
    per_seed, summary = pipeline.collect_metrics(records, keys)
    io.write_csv(per_seed, snakemake.output.per_seed)
    io.write_csv(summary, snakemake.output.summary)
    frames = [pd.read_csv(path) for path in snakemake.input.by_feature]
    saliency_keys = [k for k in keys if k["split"] != "train"]
    io.write_csv(pipeline.collect_saliency(frames, saliency_keys), snakemake.output.saliency)


run(snakemake, main)  # noqa: F821
