"""What the clean and predict rule scripts do with a CSV path: read it (shortcut.files), then clean
the table (shortcut.data). The tests call these with the paths of small CSVs they write."""

from shortcut import data, files


def clean_csv(path, spec, target=True):
    """``target=True``: the target column is required; ``None``: read when the header has it."""
    if target:
        table = files.read_raw_csv(path, [spec.target, *spec.features], spec.encoding)
    else:
        table = files.read_raw_csv(path, spec.features, spec.encoding, optional=[spec.target])
    return data.clean_table(table, spec, files.csv_origin(path))


def clean_source(path, spec, source, holdout=None, block_size=1 << 24, batch_rows=1 << 18):
    """The clean rule: the CSV streamed in record batches (``block_size`` bytes of the file each,
    cleaned ``batch_rows`` rows at a time)."""
    batches = files.read_raw_csv_batches(path, [spec.target, *spec.features], spec.encoding, block_size=block_size)
    return data.clean_source(batches, spec, files.csv_origin(path), source, holdout, batch_rows)
