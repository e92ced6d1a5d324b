"""Train one network of the grid (feature set x model setting x seed)."""

from shortcut import files, metrics, nn, roles
from shortcut.table import Table
from shortcut.job import run


def main(snakemake):
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    seed, encoder = int(snakemake.wildcards.seed), files.read_json(inp.encoder)
    n_classes = roles.n_classes(files.read_yaml(snakemake.input.roles))  # the roles job's classes
    X_train, y_train, _ = files.read_encoded(inp.train, p.network["dtype"])
    X_val, y_val, _ = files.read_encoded(inp.val, p.network["dtype"])
    model = nn.build_model(p.setting, p.network, X_train.shape[1], n_classes, seed)
    history = nn.fit(model, X_train, y_train, X_val, y_val, nn.TrainSettings.from_config(p.setting),
                     seed=seed, blas_threads=snakemake.threads, setting=snakemake.wildcards.setting)
    fit_metrics = metrics.classification_metrics(
        y_train, model.predict_proba(X_train), n_classes, metrics.majority_class(encoder))
    resolved = {**p.network, **p.setting, "seed": seed, "n_features": int(X_train.shape[1]), "n_classes": n_classes,
                "columns": encoder["columns"], "feature_set": encoder["feature_set"],
                "best_epoch": history["best_epoch"], "epochs_run": int(len(history["epoch"]))}
    files.save_npz(out.model, **model.to_arrays())
    files.write_table(Table(nn.history_columns(history)), out.history, nn.HISTORY_TABLE)
    files.write_json(out.params, resolved)
    files.write_json(out.metrics, {"split": "train", **fit_metrics})


run(snakemake, main)  # noqa: F821
