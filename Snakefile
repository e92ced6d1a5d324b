# shortcut-audit: did a tabular classifier learn something that generalizes, or a shortcut?
# Rules live in workflow/rules/, the logic in the library workflow/scripts/shortcut/.


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"


rule all:
    input:
        all_targets(),
    default_target: True
