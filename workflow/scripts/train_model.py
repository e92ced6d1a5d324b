"""Train one network of the grid (feature set x model setting x seed)."""

from shortcut import files, pipeline
from shortcut.job import run


def main(snakemake):
    p, out = snakemake.params, snakemake.output
    model, history, resolved, fit_metrics = pipeline.train_model(
        snakemake.input.train, snakemake.input.val,
        files.read_json(snakemake.input.encoder), p.hp, p.network, p.n_classes, int(snakemake.wildcards.seed),
        threads=snakemake.threads,
    )
    model.save(out.model)
    files.write_parquet(history, out.history)
    files.write_json(out.params, resolved)
    files.write_json(out.metrics, {"split": "train", **fit_metrics})


run(snakemake, main)  # noqa: F821
