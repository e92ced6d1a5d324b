"""The assignment's Question 2: one bias shared by both layers against independent biases."""

import matplotlib

matplotlib.use("Agg")

from shortcut import files, roles, shared_bias  # noqa: E402
from shortcut.job import run  # noqa: E402


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    n_classes = roles.n_classes(files.read_yaml(snakemake.input.roles))  # the roles job's classes
    X_train, y_train, _ = files.read_encoded(inp.train, p.dtype)
    X_val, y_val, _ = files.read_encoded(inp.val, p.dtype)
    history, summary = shared_bias.shared_bias_study(
        X_train, y_train, X_val, y_val, n_classes, p.study, p.seeds, p.dtype, threads=snakemake.threads,
    )
    out = snakemake.output
    for table, name, schema in ((history, "history", shared_bias.HISTORY_COLUMNS),
                                (summary, "summary", shared_bias.SUMMARY_COLUMNS)):
        files.write_table(table, out[name], schema)  # the hand-off to the report
        files.write_csv(table, out[f"{name}_csv"])  # the copy for people
    files.save_figure(shared_bias.plot_shared_bias(history), out.figure)


run(snakemake, main)  # noqa: F821
