"""Section "Data": files and splits, missing values and what was done, unseen levels, class
balance, and the EDA figures (made by the eda rule)."""

from __future__ import annotations

from ..fmt import codes, count, join_words, pct, plain, plural, two
from ...text import finite, num
from ..load import Inputs
from ..render import Bullets, Figure, Heading, Para, Section, Table


MEASURE_NAMES = {"spearman_rho": "Spearman's rho", "cramers_v": "Cramér's V"}


def section(inp: Inputs) -> Section:
    blocks: list = []
    enc = inp.encoder
    split = enc.get("split", {})
    rows = []
    for part in ("train", "test"):
        a = inp.cells[part]
        rows.append([f"{part} file", f"`{a.get('file', '')}`", count(a.get("rows")), count(a.get("missing_cells", 0)),
                     count(a.get("coerced_cells", 0))])
    blocks.append(Heading("Files and splits"))
    blocks.append(Table(["file", "path", "rows", "missing cells", "coerced cells"], rows,
                        [False, False, True, True, True]))
    blocks.append(Para(
        f"The training file is split into {count(split.get('n_train'))} training and "
        f"{count(split.get('n_val'))} validation rows (validation fraction {split.get('val_fraction')}, "
        f"{'stratified' if split.get('stratify') else 'not stratified'}, seed {split.get('seed')}); "
        f"the encoder (imputation values, levels, means and standard deviations) is fitted on the "
        f"{count(enc.get('n_fit_rows', split.get('n_train')))} training rows only and applied unchanged "
        "to the validation and test rows."))
    without = inp.cells["train"].get("classes_without_rows") or []
    if without:
        blocks.append(Para(
            f"**Warning:** declared class{'es' if len(without) > 1 else ''} {codes(without)} "
            f"{'have' if len(without) > 1 else 'has'} no row in the training file: the models can never "
            "predict them, and every test row of them counts as an error.", "note"))
    ts = inp.test_split
    if ts:
        source = str(ts.get("source", "test file"))
        text = (f"The {count(ts.get('rows'))} test rows ({source}) are split once "
                f"({'stratified' if ts.get('stratify') else 'not stratified'}, seed {ts.get('seed')}) into an "
                f"**audit part** of {count(ts.get('audit'))} rows, which every decision sees (the shift evidence, "
                f"the verdict, the choice of remedy), and a **confirmation part** of {count(ts.get('confirm'))} "
                f"rows (fraction {plain(ts.get('confirm_fraction'))}), which only judges the remedy.")
        if source != "test file":
            text += (" There is no separate test file: both parts are held-out rows of the training file, so "
                     "they show a shortcut only if it is already inconsistent within that file.")
        blocks.append(Para(text))
    blocks.extend(roles_blocks(inp.settings))

    blocks.append(Heading("Missing values and what was done"))
    val_imputed = enc.get("val_report", {}).get("imputed", {})
    parts = {p: inp.test_cells.get(p) or {} for p in ("audit", "confirm")}
    rows = []
    for kind in ("categorical", "numeric"):
        for col, e in enc.get(kind, {}).items():
            tr = inp.cells["train"].get("columns", {}).get(col, {})
            te = inp.cells["test"].get("columns", {}).get(col, {})
            fill = f"`{e['fill']}`" if isinstance(e.get("fill"), str) else plain(e.get("fill"))
            if kind == "categorical":
                transform = f"one-hot ({plural(len(e.get('levels', [])), 'level')})"
            else:
                transform = ("log1p, " if e.get("log1p") else "") + "standardised"
            rows.append([f"`{col}`", kind, count(tr.get("missing", 0)), count(tr.get("coerced_to_missing", 0)),
                         count(te.get("missing", 0)), count(te.get("coerced_to_missing", 0)),
                         str(e.get("impute", "")), fill, count(val_imputed.get(col, 0)),
                         count(parts["audit"].get("imputed", {}).get(col, 0)),
                         count(parts["confirm"].get("imputed", {}).get(col, 0)), transform])
    blocks.append(Table(
        ["column", "kind", "missing (train file)", "coerced (train file)", "missing (test file)",
         "coerced (test file)", "imputation", "fill value", "imputed (validation)", "imputed (audit)",
         "imputed (confirmation)", "encoding"],
        rows, [False, False, True, True, True, True, False, True, True, True, True, False]))
    tr, te = inp.cells["train"], inp.cells["test"]
    blocks.append(Para(
        f"Missing cells: {count(tr.get('missing_cells', 0))} in the train file and "
        f"{count(te.get('missing_cells', 0))} in the test file; cells with non-numeric text in a numeric "
        f"column (coerced to missing): {count(tr.get('coerced_cells', 0))} and {count(te.get('coerced_cells', 0))}. "
        "Every missing or coerced cell is filled with the column's fill value fitted on the training rows."))

    unseen_any = False
    for part, label in (("audit", "test (audit)"), ("confirm", "test (confirmation)")):
        unseen = parts[part].get("unseen_levels") or {}
        if unseen:
            unseen_any = True
            items = [f"`{col}`: " + ", ".join(f"`{lvl}` ({plural(int(n), 'row')})" for lvl, n in levels.items())
                     for col, levels in unseen.items()]
            blocks.append(Para(f"**Unseen levels, {label}:** {count(parts[part].get('unseen_level_rows', 0))} of "
                               f"{count(parts[part].get('rows'))} rows carry a category level not seen in training "
                               "(encoded as all zeros):"))
            blocks.append(Bullets(items))
    if not unseen_any:
        blocks.append(Para("**Unseen levels:** none; every category level of the audit and confirmation rows was "
                           "seen in training."))

    blocks.append(Heading("Class balance"))
    dist = inp.class_distribution
    rows = []
    classes = list(dict.fromkeys(dist["class"]))
    for c in classes:
        row = [str(c)]
        sub = dist[dist["class"] == c]
        row.append(str(sub["name"].iloc[0]) if "name" in sub else str(c))
        for part in ("train", "test"):
            p = sub[sub["part"] == part]
            row += [count(p["count"].iloc[0]), pct(p["share"].iloc[0])] if len(p) else ["–", "–"]
        rows.append(row)
    blocks.append(Table(["class", "name", "train file rows", "train file share", "test file rows", "test file share"],
                        rows, [False, False, True, True, True, True]))
    blocks.append(Para("Whole files; the class mix of the audit rows, with intervals, is in the shift evidence."))
    blocks += _eda_figures(inp)
    return Section("data", "Data", blocks)


def _eda_figures(inp: Inputs) -> list:
    out = []
    dist = inp.class_distribution
    if "eda_class_distribution" in inp.eda_figures:
        tr, te = dist[dist["part"] == "train"], dist[dist["part"] == "test"]
        big, small = tr.loc[tr["share"].idxmax()], tr.loc[tr["share"].idxmin()]

        def share_in(frame, cls):
            hit = frame[frame["class"] == cls]
            return pct(hit["share"].iloc[0]) if len(hit) else "–"

        tv = inp.class_mix.get("tv")
        out.append(Figure("eda_class_distribution", (
            f"Share of rows per class in the train and test files: the largest class, {big['name']}, holds "
            f"{pct(big['share'])} of train rows and {share_in(te, big['class'])} of test rows, the smallest, "
            f"{small['name']}, {pct(small['share'])} and {share_in(te, small['class'])}"
            + (f" (total variation distance of the class mix, train file against the test (audit) rows: "
               f"{num(tv)})." if finite(tv) else ".")),
            source=inp.eda_figures["eda_class_distribution"]))
    assoc = inp.association
    if "eda_boxplots" in inp.eda_figures:
        caption = "Per-class box plots of every numeric feature, train beside test."
        numeric = assoc[(assoc["part"] == "train") & (assoc["measure"] == "spearman_rho")]
        summ = inp.eda_summary
        if len(numeric) and len(summ):
            top = numeric.loc[numeric["value"].abs().idxmax(), "feature"]
            ranges = []
            for part in ("train", "test"):
                med = summ[(summ["part"] == part) & (summ["feature"] == top)]["median"]
                if len(med):
                    ranges.append(f"from {plain(med.min())} to {plain(med.max())} on {part}")
            if ranges:
                caption = (f"Per-class box plots of every numeric feature, train beside test: the class medians of "
                           f"`{top}`, the numeric feature most associated with the class on train, range "
                           f"{join_words(ranges, 'but')}.")
        out.append(Figure("eda_boxplots", caption, source=inp.eda_figures["eda_boxplots"]))
    if "eda_target_association" in inp.eda_figures:
        caption = "Association of each feature with the class on train and test."
        tr, te = assoc[assoc["part"] == "train"], assoc[assoc["part"] == "test"]
        if len(tr):
            top = tr.loc[tr["value"].abs().idxmax()]
            after = te[te["feature"] == top["feature"]]["value"]
            measure = MEASURE_NAMES.get(top["measure"], top["measure"])
            caption = (f"Association of each feature with the class: the strongest on train is `{top['feature']}` "
                       f"({measure} {two(top['value'])})"
                       + (f", which is {two(after.iloc[0])} on test" if len(after) else ""))
            if len(te):
                best = te.loc[te["value"].abs().idxmax()]
                caption += (f"; the strongest on test is `{best['feature']}` "
                            f"({MEASURE_NAMES.get(best['measure'], best['measure'])} {two(best['value'])}).")
            else:
                caption += "."
        out.append(Figure("eda_target_association", caption, source=inp.eda_figures["eda_target_association"]))
    return out


def roles_blocks(settings: dict) -> list:
    """The column roles the roles job resolved (results/<dataset>/config.yaml): a table of the
    roles and where each came from, and the columns left out and why."""
    resolved = settings.get("roles")
    if not resolved:
        return []
    source = resolved.get("source", {})
    names = settings.get("class_names")
    classes = ", ".join(f"`{c}`" for c in resolved.get("classes", []))
    if names:
        classes += " (shown as " + ", ".join(str(n) for n in names) + ")"
    features = resolved.get("features", {})
    rows = [["target", f"`{resolved.get('target')}`", str(source.get("target", ""))],
            ["classes", classes, str(source.get("classes", ""))]]
    for kind in ("numeric", "categorical"):
        cols = features.get(kind) or []
        rows.append([f"{kind} features", ", ".join(f"`{c}`" for c in cols) or "none", str(source.get("features", ""))])
    blocks: list = [Heading("Column roles"), Table(["role", "columns", "from"], rows, [False, False, False])]
    left = resolved.get("left_out") or []
    if left:
        blocks.append(Para("Left out of the features: " + "; ".join(
            f"`{item['column']}`, {item['reason']}" for item in left) + "."))
    return blocks
