"""Metrics, predictions, permutation importance and gradient saliency of one model on one split."""

from shortcut import io, network, pipeline
from shortcut.runner import run


def main(snakemake):
    out, p = snakemake.output, snakemake.params
    result, predictions, importance, tables = pipeline.evaluate_split(
        network.MLP.load(snakemake.input.model), snakemake.input.split,
        io.read_json(snakemake.input.encoder), p.n_classes, p.saliency, p.reliance,
        seed=int(snakemake.wildcards.seed),
    )
    io.write_json(out.metrics, {"split": snakemake.wildcards.split, **result})
    io.write_parquet(predictions, out.predictions)
    io.write_csv(importance, out.importance)
    io.write_parquet(tables["rows"], out.rows)
    io.write_csv(tables["by_column"], out.by_column)
    io.write_csv(tables["by_feature"], out.by_feature)
    io.write_json(out.meta, tables["meta"])


run(snakemake, main)  # noqa: F821
