"""Metrics, predictions, permutation importance and gradient saliency of one model on one split."""

from shortcut import files, metrics, nn, reliance, saliency
from shortcut.job import run


def main(snakemake):
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    seed, encoder = int(snakemake.wildcards.seed), files.read_json(inp.encoder)
    model = nn.load(files.load_npz(inp.model))
    X, y, rows = files.read_encoded(inp.split, model.dtype)
    proba = model.predict_proba(X)
    result = metrics.classification_metrics(y, proba, p.n_classes, metrics.majority_class(encoder))
    importance = reliance.permutation_importance(model, X, y, encoder["sources"], encoder["groups"],
                                                 repeats=p.reliance["repeats"], seed=seed)
    s = p.saliency
    tables = saliency.saliency_tables(
        model, X, y, encoder["columns"], encoder["sources"], row_ids=rows, target=s["target"],
        baseline=encoder["column_means"] if s["baseline"] == "train_mean" else None,
        ig_steps=s["ig_steps"], chunk_rows=s["chunk_rows"])
    files.write_json(out.metrics, {"split": snakemake.wildcards.split, **result})
    files.write_parquet(metrics.predictions_frame(rows, y, proba), out.predictions)
    files.write_csv(importance, out.importance)
    files.write_parquet(tables["rows"], out.rows)
    files.write_csv(tables["by_column"], out.by_column)
    files.write_csv(tables["by_feature"], out.by_feature)
    files.write_json(out.meta, tables["meta"])


run(snakemake, main)  # noqa: F821
