"""Predictions for one file of new rows from the model the audit recommends."""

from pathlib import Path

from shortcut import data, files, nn, predict, summary
from shortcut.job import run
from shortcut import spec as specs


def main(snakemake):
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    spec = specs.from_roles(files.read_yaml(snakemake.input.roles), p.dataset)
    answer = files.read_json(inp.answer)
    # the remedies' metric summaries (auto only)
    audit = [files.read_table(x, summary.METRICS_SUMMARY_COLUMNS) for x in inp.audit]
    feature_set, reason = predict.choose_feature_set(p.predict["feature_set"], answer, audit, p.setting)
    # inputs: every candidate feature set's encoder (features/<fs>/encoder.json) and grid models
    encoder = files.read_json(next(e for e in inp.encoders if Path(e).parent.name == feature_set))
    models = [nn.MLP.from_arrays(files.load_npz(m)) for m in inp.models
              if predict.template_fields(p.model_template, m)["fs"] == feature_set]
    raw = files.read_raw_csv(inp.csv, spec.features, spec.encoding, optional=[spec.target])
    origin = files.csv_origin(inp.csv)
    frame, _ = data.clean_table(raw, spec, origin)
    frame.insert(0, "row", range(1, len(frame) + 1))
    table, proba = predict.predict_rows(frame, encoder, models, spec.classes, spec.class_names)
    metadata = {**origin, "feature_set": feature_set,
                "reason": reason, "model": p.setting, "seeds": p.seeds, "answer": answer.get("headline")}
    files.write_parquet(table, out.parquet, metadata=metadata)
    files.write_csv(table, out.csv, float_format="%.6f")
    files.write_json(out.metrics, {**metadata, **predict.score(frame, proba, encoder, len(spec.classes))})


run(snakemake, main)  # noqa: F821
