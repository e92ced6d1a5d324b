"""Checkpoint: combine reliance and shift evidence into the shortcut verdict and its remedies."""

from shortcut import conditional, decompose, diagnose, files, reliance, roles, shift, summary
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    models = p.diagnose["models"]
    importance = files.read_table(inp.importance, summary.GRID_IMPORTANCE_COLUMNS)
    importance = importance[(importance["split"] == "val") & importance["setting"].isin(models)]

    def per_model(path, schema):
        frame = files.read_table(path, schema)
        return frame[frame["setting"].isin(models)]

    evidence = files.read_table(inp.conditional, conditional.EVIDENCE_COLUMNS)
    result = diagnose.diagnose(
        reliance=reliance.reliance_table(importance, min_share_factor=p.reliance["min_share_factor"],
                                         material=diagnose.material_loss(evidence),
                                         set_aside=diagnose.broken_elsewhere(evidence)),
        evidence=evidence, covariate=files.read_json(inp.covariate),
        class_mix=files.read_json(inp.class_mix), features=roles.features(files.read_yaml(inp.roles)),
        label_shift=per_model(inp.label_shift, decompose.LABEL_SHIFT_COLUMNS),
        decomposition=per_model(inp.decomposition, decompose.DECOMPOSITION_COLUMNS),
        marginal=files.read_table(inp.shift, shift.SHIFT_COLUMNS), thresholds={k: v for k, v in p.diagnose.items() if k not in ("models", "method")},
    )
    result["models"] = list(models)
    table = diagnose.verdict_table(result)
    files.write_table(table, snakemake.output.table, diagnose.VERDICT_COLUMNS)
    files.write_csv(table, snakemake.output.csv)
    files.write_json(snakemake.output.verdict, result)


run(snakemake, main)  # noqa: F821
