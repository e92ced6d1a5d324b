"""Metrics, predictions, permutation importance and gradient saliency of one model on one split."""

from shortcut import files, network, pipeline
from shortcut.job import run


def main(snakemake):
    out, p = snakemake.output, snakemake.params
    result, predictions, importance, tables = pipeline.evaluate_split(
        network.MLP.load(snakemake.input.model), snakemake.input.split,
        files.read_json(snakemake.input.encoder), p.n_classes, p.saliency, p.reliance,
        seed=int(snakemake.wildcards.seed),
    )
    files.write_json(out.metrics, {"split": snakemake.wildcards.split, **result})
    files.write_parquet(predictions, out.predictions)
    files.write_csv(importance, out.importance)
    files.write_parquet(tables["rows"], out.rows)
    files.write_csv(tables["by_column"], out.by_column)
    files.write_csv(tables["by_feature"], out.by_feature)
    files.write_json(out.meta, tables["meta"])


run(snakemake, main)  # noqa: F821
