"""The label-free audit of the test rows: their labels, if the file has any, are never read."""

import numpy as np

from shortcut import data, files, nn, reliance, roles, stats, summary, unlabeled
from shortcut.job import run


def main(snakemake):
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    resolved = files.read_yaml(inp.roles)  # the roles job's target, classes and features
    encoder = files.read_json(inp.encoder)
    X_train, y_train, _ = files.read_encoded(inp.train)  # float32, as stored: sampled, never copied whole
    X_val, y_val, _ = files.read_encoded(inp.val, np.float64)
    # encoded as the splits are (float32, then widened): a value equal to a training value stays
    # equal to it, so it falls into the same training-decile bin of the domain classifier
    test = files.read_parquet(inp.test)
    X_test = data.transform(test, encoder, dtype=np.float32)[0].astype(np.float64)
    # cells empty only in test (from the frame already read): their fill value is no move of the feature's values
    missing = {f: test[f].isna().to_numpy() for f in files.never_missing(inp.train_cells, encoder["sources"])}
    models = [nn.load(files.load_npz(path)) for path in inp.models]
    importance = files.read_table(inp.importance, summary.GRID_IMPORTANCE_COLUMNS)
    importance = importance[(importance["split"] == "val") & importance["setting"].isin(p.models)]
    settings = unlabeled.LabelFreeSettings.from_config(**p.settings)
    n_classes = roles.n_classes(resolved)
    # relied on as the labelled verdict decides it: by share, or by a loss material in nats
    # (min_harm_share x H(Y) of the training partition, the harm's floor)
    material = settings.min_harm_share * stats.label_entropy(y_train, n_classes)
    result = unlabeled.audit(
        X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val, X_test=X_test, sources=encoder["sources"],
        columns=encoder["columns"], numeric=list(encoder["numeric"]), categorical=list(encoder["categorical"]),
        models=[lambda X, m=m: m.predict_proba(X.astype(m.dtype)) for m in models],
        reliance=reliance.reliance_table(importance, min_share_factor=p.reliance["min_share_factor"],
                                         material=material),
        n_classes=n_classes, settings=settings, missing_test=missing)
    class_names = p.class_names or [str(c) for c in resolved["classes"]]
    verdict = unlabeled.answer(result, roles.features(resolved), class_names, settings, resolved["target"])
    for name, frame, schema in (("units", unlabeled.unit_frame(result), unlabeled.UNIT_COLUMNS),
                                ("class_mix", unlabeled.mix_frame(result, class_names), unlabeled.MIX_COLUMNS)):
        files.write_table(frame, out[name], schema)
        files.write_csv(frame, out[f"{name}_csv"])
    files.write_json(out.summary, unlabeled.summary(result, verdict, settings))


run(snakemake, main)  # noqa: F821
