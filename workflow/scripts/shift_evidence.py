"""Covariate shift and training support of the audit rows, and the conditional-shift evidence of
every feature (did its relation to the label break?)."""

from shortcut import conditional, domain, files
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    splits = [files.read_encoded(path) for path in (inp.train, inp.val, inp.audit)]
    result = conditional.audit_evidence(
        *splits, files.read_json(inp.encoder), p.n_classes,
        domain_settings=domain.DomainSettings.from_config(p.domain, p.seed),
        evidence_settings=conditional.EvidenceSettings.from_config(p.evidence, p.seed),
    )
    rows = [rows for _, _, rows in splits]
    files.write_json(snakemake.output.covariate, domain.summary(result["shift"]))
    files.write_parquet(domain.support_frame(result["shift"], *rows), snakemake.output.support)
    files.write_csv(result["evidence"], snakemake.output.conditional)
    files.write_csv(result["steps"], snakemake.output.steps)


run(snakemake, main)  # noqa: F821
