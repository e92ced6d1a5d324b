"""Judge every remedy on the confirmation part of the test file, and write the final answer."""

from shortcut import files, remedy
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    verdict = files.read_json(inp.verdict)
    per_set = len(p.models)
    remedy_files = list(inp.remedy)
    remedies = {
        fs: [files.read_parquet(x) for x in remedy_files[k * per_set:(k + 1) * per_set]]
        for k, fs in enumerate(verdict["remedies"])
    }
    table = remedy.confirmation_table(
        [files.read_parquet(x) for x in inp.all], remedies, p.models,
        n_boot=p.confirm["n_boot"], alpha=p.confirm["alpha"], seed=p.seed, min_gain=p.confirm["min_gain"],
    )
    files.write_csv(table, snakemake.output.table)
    files.write_json(snakemake.output.answer, remedy.final_answer(verdict, table, p.has_test_file))


run(snakemake, main)  # noqa: F821
