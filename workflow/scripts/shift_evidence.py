"""Covariate shift and training support of the audit rows, and the conditional-shift evidence of
every feature (did its relation to the label break?)."""

from shortcut import conditional, domain, files, roles
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    n_classes = roles.n_classes(files.read_yaml(snakemake.input.roles))  # the roles job's classes
    splits = [files.read_encoded(path) for path in (inp.train, inp.val, inp.audit)]
    encoder = files.read_json(inp.encoder)
    never_missing = files.never_missing(inp.train_cells, encoder["sources"])
    result = conditional.audit_evidence(
        *splits, encoder, n_classes,
        domain_settings=domain.DomainSettings.from_config(p.domain, p.seed),
        evidence_settings=conditional.EvidenceSettings.from_config(p.evidence, p.seed),
        missing_audit=files.read_missing(inp.clean_audit, never_missing, splits[2][2]),
    )
    rows = [rows for _, _, rows in splits]
    files.write_json(snakemake.output.covariate, domain.summary(result["shift"]))
    files.write_table(domain.support_frame(result["shift"], *rows), snakemake.output.support, domain.SUPPORT_COLUMNS)
    out = snakemake.output
    for name in ("conditional", "steps"):
        table = result["evidence" if name == "conditional" else "steps"]
        files.write_table(table, out[name], conditional.EVIDENCE_COLUMNS)
        files.write_csv(table, out[f"{name}_csv"])


run(snakemake, main)  # noqa: F821
