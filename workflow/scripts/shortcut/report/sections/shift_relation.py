"""Parts of the section "Shift evidence" about the relation to the label: the conditional-shift
evidence per unit and the decomposition of the accuracy change."""

from __future__ import annotations

import pandas as pd

from .. import facts, plots
from ..fmt import ci, ci_text, codes, count, join_words, plural, pval, sig, signed, value_text, yes
from ...text import finite, num
from ..load import Inputs
from ..names import PARTS
from ..render import Figure, Heading, Para, Table


def conditional(inp: Inputs) -> list:
    blocks: list = [Heading("Relation to the label (conditional shift)")]
    c = facts.conditional_rows(inp)
    if c.empty:
        blocks.append(Para("No conditional-shift evidence in this run.", "note"))
        blocks.append(Figure("conditional_shift", "Conditional shift: not available in this run.",
                             missing="no conditional-shift evidence"))
        return blocks
    m = facts.min_harm(inp)
    rule = facts.rule_texts(c, "rule")
    n_rows = c["n_rows"].iloc[0] if "n_rows" in c else None
    blocks.append(Para(
        "For each unit, two small evidence models are fitted on the training partition, one with the unit and "
        f"one without it, and compared on the {count(n_rows)} supported test (audit) rows after refitting "
        "their class offsets on those rows (this absorbs any change of the class mix). **Harm** is the mean "
        "difference of log loss, with minus without (nats per row): positive when the unit's train relation "
        "makes the test predictions worse. A change of the class mix or of the inputs alone cannot make it "
        "positive. **Change** is the harm minus what the model itself expects; it is about 0 when the relation "
        "holds and enters no rule. **Upper**: the harm's one-sided upper bound; **margin**: the unit's material "
        "margin, the larger of a share of the label's entropy and a share of what a full break of the unit "
        "would cost (its inputs permuted on validation); **relation**: broke, holds (upper below the margin) "
        "or undetermined. Accuracy with / without: the evidence models' test (audit) accuracy. Rules: "
        + ("; ".join([*rule, *facts.rule_texts(c, "holds_rule")]) or "n/a") + "."))
    groups = any(str(k) == "group" for k in c.get("kind", []))
    rows, strong = [], set()
    for i, r in enumerate(c.to_dict("records")):
        row = [facts.unit_label(r["unit"], r.get("kind"), r.get("members")) if groups else f"`{r['unit']}`",
               count(r.get("n_rows_unit", r.get("n_rows"))),
               ci(r.get("harm"), r.get("harm_ci_low"), r.get("harm_ci_high")), num(r.get("harm_upper")),
               num(r.get("margin")), pval(r.get("p_holm")),
               ci(r.get("change"), r.get("change_ci_low"), r.get("change_ci_high")),
               f"{num(r.get('acc_with'))} / {num(r.get('acc_without'))}", value_text(r.get("outcome"))]
        if bool(r.get("broke")):
            strong |= {(i, 0), (i, 2), (i, 8)}
        rows.append(row)
    blocks.append(Table(["unit", "rows", "harm (nats/row) [95 % CI]", "upper", "margin", "Holm p",
                         "change [95 % CI]", "accuracy with / without", "relation"], rows,
                        [False, True, True, True, True, True, True, True, False], strong=strong))
    broke = [r for r in c.to_dict("records") if bool(r.get("broke"))]
    holds = [r for r in c.to_dict("records") if not bool(r.get("broke")) and finite(r.get("harm"))]
    if broke:
        caption = "The relation broke for " + join_words(
            [f"`{r['unit']}` (harm {num(r['harm'])}, {ci_text(r.get('harm_ci_low'), r.get('harm_ci_high'))})"
             for r in broke])
    else:
        caption = "The relation broke for no unit"
    if holds:
        top = max(holds, key=lambda r: float(r["harm"]))
        caption += (f"; among the {'other ' if broke else ''}units the largest harm is {num(top['harm'])} "
                    f"(`{top['unit']}`)")
    lin = facts.harm_scale(inp)
    caption = (f"Harm of each unit's train relation on the {count(n_rows)} supported test (audit) rows, nats per "
               f"row with its 95 % CI (points: estimate; red: relation broke; solid line: 0; dashed line: the "
               f"{sig(m)} nats minimum harm of the rule"
               + (f"; symmetric log scale, linear within ±{sig(lin)}" if lin else "") + "). " + caption + ".")
    has_harm = bool(pd.to_numeric(c["harm"], errors="coerce").notna().any())
    blocks.append(Figure("conditional_shift", caption, draw=lambda: plots.plot_conditional_shift(inp),
                         missing="" if has_harm else "no unit has a harm estimate"))

    steps = inp.conditional_steps
    if not steps.empty and "step" in steps and steps["step"].nunique() > 1:
        features = [str(f) for f in inp.diagnosis.get("features") or []]
        rows = []
        for step, sub in steps.groupby("step", sort=True):
            base = [b for b in str(sub["base"].iloc[0]).split(";") if b] if "base" in sub else []
            left_out = [f for f in features if f not in base]
            model = "all features" if not left_out else f"all but {codes(left_out)}"
            hit = sub[sub["broke"].astype(bool)]
            tested = codes([str(u) for u in sub["unit"]])
            broke_text = join_words([f"`{r['unit']}` ({num(r['harm'])})" for r in hit.to_dict("records")]) or "none"
            rows.append([count(step), model, tested, broke_text])
        blocks.append(Para(
            "Step by step: at each step every remaining unit is tested against the current features; the unit with "
            "the largest harm that passes the rule is removed, and the rest are tested again without it. At the "
            "end each removed unit is tested once more, alone, against the final features. A strong leak distorts "
            "every other comparison, so only each unit's last test (the table above) counts."))
        blocks.append(Table(["step", "features in the evidence model", "units tested", "relation broke (harm)"],
                            rows, [True, False, False, False]))
    return blocks


def decomposition(inp: Inputs) -> list:
    blocks: list = [Heading("Where the accuracy went (decomposition)")]
    d = inp.decomposition
    if d.empty:
        blocks.append(Para("No accuracy decomposition in this run.", "note"))
        blocks.append(Figure("decomposition", "Accuracy-drop decomposition: not available in this run.",
                             missing="no decomposition"))
        return blocks
    n_val = d["n_val"].iloc[0] if "n_val" in d else None
    blocks.append(Para(
        "Per grid model, the change of accuracy from validation to test (audit), test minus validation, split "
        "into four parts that sum to the total. **Class mix**: validation rows re-weighted to the test class "
        "mix. **Inputs**: also re-weighted to the test inputs. **Relation Y | X**: what is left on the "
        "supported test rows; this is the part a shortcut produces. **Outside support**: the test rows outside "
        "the training support. Intervals: 95 % bootstrap over rows. ESS: the effective number of validation "
        f"rows behind the re-weighting (of {count(n_val)}); a small ESS makes the re-weighted parts noisy."))
    rows = []
    for r in d.to_dict("records"):
        rows.append([f"`{r['setting']}`", count(r.get("seed")), num(r.get("acc_val")), num(r.get("acc_test")),
                     ci(r.get("total"), r.get("total_ci_low"), r.get("total_ci_high"), sign=True)]
                    + [ci(r.get(p), r.get(f"{p}_ci_low"), r.get(f"{p}_ci_high"), sign=True) for p in PARTS]
                    + [count(round(float(r["ess_val"]))) if finite(r.get("ess_val")) else "–"])
    means = {p: float(pd.to_numeric(d[p], errors="coerce").mean()) for p in ["total", *PARTS] if p in d}
    rows.append(["mean", "–", num(pd.to_numeric(d["acc_val"], errors="coerce").mean()),
                 num(pd.to_numeric(d["acc_test"], errors="coerce").mean()), signed(means.get("total"))]
                + [signed(means.get(p)) for p in PARTS] + ["–"])
    blocks.append(Table(["model", "seed", "validation acc.", "test (audit) acc.", "total [95 % CI]"]
                        + [f"{PARTS[p][0]} [95 % CI]" for p in PARTS] + ["ESS"], rows,
                        [False, True, True, True, True, True, True, True, True, True], total=True))
    parts = [p for p in PARTS if finite(means.get(p))]
    caption = (f"Accuracy change from validation to test (audit) per grid model, split into class mix, inputs, "
               f"relation Y | X and outside support (stacked bars; parts above 0 raised accuracy, parts below "
               f"lowered it); diamonds: the total with its 95 % CI. Mean over {plural(len(d), 'model')}: total "
               f"{signed(means.get('total'))}, the sum of "
               + join_words([f"{PARTS[p][0]} {signed(means[p])}" for p in parts]))
    if parts:
        big = max(parts, key=lambda p: abs(means[p]))
        caption += f"; the largest part is {PARTS[big][0]}"
    blocks.append(Figure("decomposition", caption + ".", draw=lambda: plots.plot_decomposition(inp)))
    return blocks
