"""Per grid model: where the accuracy went between validation and the audit rows, and the class
mix estimated from the model's own test predictions."""

import pyarrow as pa
import pyarrow.compute as pc

from shortcut import decompose, domain, files, metrics, roles
from shortcut.job import run


def main(snakemake):
    p, inp = snakemake.params, snakemake.input
    n_classes = roles.n_classes(files.read_yaml(snakemake.input.roles))  # the roles job's classes
    # the support frame's validation and audit rows (the train rows are not used here), the
    # part as categorical codes
    support = files.read_parquet_table(inp.support, strings_as_dictionary=True, schema=domain.SUPPORT_COLUMNS)
    support = support.filter(pc.is_in(support["part"], value_set=pa.array(["val", "audit"])))
    support = support.select(["part", "row", "log_a", "log_b", "supported"]).to_pandas()
    pa.default_memory_pool().release_unused()  # the whole table's buffers, back to the system
    decomposition, label_shift = decompose.model_tables(
        support, [files.read_table(x, metrics.PREDICTIONS_COLUMNS) for x in inp.val],
        [files.read_table(x, metrics.PREDICTIONS_COLUMNS) for x in inp.audit],
        p.models, n_classes, n_boot=p.n_boot, seed=p.seed,
    )
    out = snakemake.output
    files.write_table(decomposition, out.decomposition, decompose.DECOMPOSITION_COLUMNS)
    files.write_table(label_shift, out.label_shift, decompose.LABEL_SHIFT_COLUMNS)
    files.write_csv(decomposition, out.decomposition_csv)
    files.write_csv(label_shift, out.label_shift_csv)


run(snakemake, main)  # noqa: F821
