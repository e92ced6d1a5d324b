# shortcut-audit: did a tabular classifier learn something that generalizes, or a shortcut?
# Rules live in workflow/rules/, the logic in the library workflow/scripts/shortcut/.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:
    part="train|test",
    fs="all|drop-[^/]+",


include: "workflow/rules/data.smk"


rule all:
    default_target: True
    input:
        all_targets(),
