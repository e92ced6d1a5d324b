"""Gather per-model metrics (mean and sd over seeds), saliency summaries and permutation
importance into tables."""

from shortcut import files, summary
from shortcut.job import run


def main(snakemake):
    inp, out, keys = snakemake.input, snakemake.output, snakemake.params.models
    per_seed, table = summary.collect_metrics([files.read_json(path) for path in inp.metrics], keys)
    files.write_csv(per_seed, out.per_seed)
    files.write_csv(table, out.summary)
    split_keys = [k for k in keys if k["split"] != "train"]
    for name, target in (("by_feature", out.saliency), ("importance", out.importance)):
        frames = [files.read_csv(path) for path in inp[name]]
        files.write_csv(summary.stack_tables(frames, split_keys), target)


run(snakemake, main)  # noqa: F821
