# shortcut-audit: did a tabular classifier learn something that generalizes, or a shortcut?
# Rules live in workflow/rules/, the logic in the library workflow/scripts/shortcut/.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:
    part="train|test",
    fs="all|drop-[^/]+",
    act="[A-Za-z0-9_-]+",
    seed=r"\d+",
    split="train|val|audit|confirm",
    name="[A-Za-z0-9_.-]+",


include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/explain.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        rules.report.output.html,
        rules.report.output.md,
        prediction_targets(),
