"""Metrics and gradient saliency of one trained model on one split (val or test)."""

from shortcut import io, network, pipeline
from shortcut.runner import run


def main(snakemake):
    out = snakemake.output
    result, tables = pipeline.evaluate_split(
        network.MLP.load(snakemake.input.model), snakemake.input.split,
        io.read_json(snakemake.input.encoder), snakemake.params.n_classes, snakemake.params.saliency,
    )
    io.write_json(out.metrics, {"split": snakemake.wildcards.split, **result})
    io.write_parquet(tables["rows"], out.rows)
    io.write_csv(tables["by_column"], out.by_column)
    io.write_csv(tables["by_feature"], out.by_feature)
    io.write_json(out.meta, tables["meta"])


run(snakemake, main)  # noqa: F821
