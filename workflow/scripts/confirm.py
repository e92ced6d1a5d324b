"""Judge every remedy on the confirmation part of the test file, and write the final answer
(checked against workflow/schemas/answer.schema.json first: a mismatch is a bug, one line, no output)."""

from shortcut import answer, files, metrics, remedy
from shortcut.job import run
from shortcut.version import __version__


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    verdict = files.read_json(inp.verdict)
    per_set = len(p.models)
    remedy_files = list(inp.remedy)
    remedies = {
        fs: [files.read_table(x, metrics.PREDICTIONS_COLUMNS) for x in remedy_files[k * per_set:(k + 1) * per_set]]
        for k, fs in enumerate(verdict["remedies"])
    }
    table = remedy.confirmation_table(
        [files.read_table(x, metrics.PREDICTIONS_COLUMNS) for x in inp.all], remedies, p.models,
        n_boot=p.confirm["n_boot"], alpha=p.confirm["alpha"], seed=p.seed, min_gain=p.confirm["min_gain"],
    )
    final = remedy.final_answer(verdict, table, p.has_test_file, version=__version__)
    answer.check(final, p.answer_schema, snakemake.output.answer)  # a bug guard: one line, nothing written
    files.write_table(table, snakemake.output.table, remedy.CONFIRMATION_COLUMNS)
    files.write_csv(table, snakemake.output.csv)
    files.write_json(snakemake.output.answer, final)


run(snakemake, main)  # noqa: F821
