"""Gather per-model metrics (mean and sd over seeds), saliency summaries and permutation
importance into tables."""

from shortcut import files, reliance, saliency, summary
from shortcut.job import run


def main(snakemake):
    inp, out, keys = snakemake.input, snakemake.output, snakemake.params.models
    per_seed, table = summary.collect_metrics([files.read_json(path) for path in inp.metrics], keys)
    split_keys = [k for k in keys if k["split"] != "train"]
    stacked = {
        name: summary.stack_tables([files.read_table(path, schema) for path in inp[name]], split_keys)
        for name, schema in (("by_feature", saliency.BY_FEATURE_COLUMNS), ("importance", reliance.IMPORTANCE_COLUMNS))
    }
    for frame, name, schema in (
        (per_seed, "per_seed", summary.METRICS_PER_SEED_COLUMNS), (table, "summary", summary.METRICS_SUMMARY_COLUMNS),
        (stacked["by_feature"], "saliency", summary.GRID_SALIENCY_COLUMNS),
        (stacked["importance"], "importance", summary.GRID_IMPORTANCE_COLUMNS),
    ):
        files.write_table(frame, out[name], schema)  # the hand-off
        files.write_csv(frame, out[f"{name}_csv"])  # the copy for people


run(snakemake, main)  # noqa: F821
