"""fail_on: end the run non-zero when the answer is one the config lists, after the report is
written (this job's inputs), so the report stays. One line says why; on a pass the gate file is
written, on a fail nothing is, so a rerun checks again. Cheap: JSON only, no pandas."""

from shortcut import answer, files
from shortcut.errors import DataError
from shortcut.job import run


def main(snakemake):
    fail_on = list(snakemake.params.fail_on)
    final = files.read_json(snakemake.input.answer)
    failed = answer.gate_failures(final, fail_on)
    if failed:
        raise DataError(answer.gate_reason(final, failed, f"{snakemake.input.answer}; report: {snakemake.input.html}"))
    files.write_text(snakemake.output[0], answer.gate_passed(final, fail_on))


run(snakemake, main)  # noqa: F821
