"""Checkpoint: combine reliance and shift evidence into the shortcut verdict and its remedies."""

from shortcut import diagnose, files, reliance
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    models = p.diagnose["models"]
    importance = files.read_csv(inp.importance)
    importance = importance[(importance["split"] == "val") & importance["setting"].isin(models)]

    def per_model(path):
        frame = files.read_csv(path)
        return frame[frame["setting"].isin(models)]

    evidence = files.read_csv(inp.conditional)
    result = diagnose.diagnose(
        reliance=reliance.reliance_table(importance, min_share_factor=p.reliance["min_share_factor"],
                                         set_aside=diagnose.broken_elsewhere(evidence)),
        evidence=evidence, covariate=files.read_json(inp.covariate),
        class_mix=files.read_json(inp.class_mix), features=p.features,
        label_shift=per_model(inp.label_shift), decomposition=per_model(inp.decomposition),
        marginal=files.read_csv(inp.shift), thresholds={k: v for k, v in p.diagnose.items() if k not in ("models", "method")},
    )
    result["models"] = list(models)
    files.write_csv(diagnose.verdict_table(result), snakemake.output.table)
    files.write_json(snakemake.output.verdict, result)


run(snakemake, main)  # noqa: F821
