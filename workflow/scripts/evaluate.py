"""Metrics, predictions, permutation importance and gradient saliency of one model on every split
(validation, audit and confirmation rows)."""

from shortcut import files, metrics, nn, reliance, roles, saliency
from shortcut.job import run


def main(snakemake):
    inp, out, p = snakemake.input, snakemake.output, snakemake.params
    seed, encoder = int(snakemake.wildcards.seed), files.read_json(inp.encoder)
    n_classes = roles.n_classes(files.read_yaml(snakemake.input.roles))  # the roles job's classes
    model = nn.load(files.load_npz(inp.model))
    s = p.saliency
    baseline = encoder["column_means"] if s["baseline"] == "train_mean" else None
    for k, split in enumerate(p.splits):
        X, y, rows = files.read_encoded(inp.splits[k], model.dtype)
        proba = model.predict_proba(X)
        result = metrics.classification_metrics(y, proba, n_classes, metrics.majority_class(encoder))
        importance = reliance.permutation_importance(model, X, y, encoder["sources"], encoder["groups"],
                                                     repeats=p.reliance["repeats"], seed=seed,
                                                     max_rows=p.reliance["max_rows"])
        tables = saliency.saliency_tables(
            model, X, y, encoder["columns"], encoder["sources"], row_ids=rows, target=s["explained_class"],
            baseline=baseline, ig_steps=s["ig_steps"], chunk_rows=s["chunk_rows"], max_rows=s["max_rows"],
            seed=s["seed"])
        files.write_json(out.metrics[k], {"split": split, **result})
        files.write_table(metrics.predictions_table(rows, y, proba), out.predictions[k], metrics.PREDICTIONS_COLUMNS)
        files.write_table(importance, out.importance[k], reliance.IMPORTANCE_COLUMNS)
        files.write_parquet(tables["rows"], out.rows[k])
        files.write_csv(tables["by_column"], out.by_column[k])
        files.write_table(tables["by_feature"], out.by_feature[k], saliency.BY_FEATURE_COLUMNS)
        files.write_json(out.meta[k], tables["meta"])
        del X, y, rows, proba, tables  # before the next split is read


run(snakemake, main)  # noqa: F821
