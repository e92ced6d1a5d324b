"""Predictions for the unlabelled test rows from all features and from every label-free
suspect's remedy, the rows where they differ, and the final answer (checked against
workflow/schemas/answer.schema.json first)."""

from pathlib import Path

from shortcut import answer, files, nn, predict, unlabeled
from shortcut import spec as specs
from shortcut.job import run
from shortcut.version import __version__


def main(snakemake):
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    spec = specs.from_roles(files.read_yaml(inp.roles), p.dataset)
    label_free = files.read_json(inp.summary)
    frame = files.read_parquet(inp.test)
    table, differ = None, {}
    for fs in ["all", *label_free["remedies"]]:
        encoder = files.read_json(next(e for e in inp.encoders if Path(e).parent.name == fs))
        models = [nn.MLP.from_arrays(files.load_npz(m)) for m in inp.models
                  if predict.template_fields(p.model_template, m)["fs"] == fs]
        rows, _ = predict.predict_rows(frame, encoder, models, spec.classes, spec.class_names)
        if table is None:
            table = rows
            continue
        table[f"predicted_{fs}"] = rows["predicted"].to_numpy()
        table[f"differs_{fs}"] = (rows["predicted"] != table["predicted"]).to_numpy()
        differ[fs] = {"rows": int(len(rows)), "differ": int(table[f"differs_{fs}"].sum())}
    final = unlabeled.final_answer(label_free, differ, version=__version__)
    answer.check(final, p.answer_schema, out.answer)  # a bug guard: one line, nothing written
    metadata = {"feature_set": "all", "model": p.setting, "seeds": p.seeds, "remedies": label_free["remedies"],
                "answer": final["headline"]}
    files.write_parquet(table, out.parquet, metadata=metadata)
    files.write_csv(table, out.csv, float_format="%.6f")
    files.write_json(out.answer, final)


run(snakemake, main)  # noqa: F821
