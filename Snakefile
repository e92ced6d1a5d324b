# shortcut-audit: run `snakemake --cores all` here. The workflow itself is workflow/Snakefile
# (where the Snakemake workflow catalog, snakedeploy and the `module` directive expect it).


include: "workflow/Snakefile"


rule default:
    # Snakemake ignores `default_target` in an included file (snakemake#2773), so the default
    # target is restated here: everything the workflow's `rule all` builds.
    default_target: True
    input:
        rules.all.input,
