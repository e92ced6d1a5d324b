"""Section "Verdict": the answer (answer.json verbatim), the accuracies, the verdict table and
every rule with its outcome."""

from __future__ import annotations

from typing import Mapping


from .. import facts
from ..fmt import ci, ci_text, codes, count, pct, plain, plural, pval, two, value_text, yes
from ...text import finite, num
from ..load import Inputs
from ..names import EVAL_SPLITS
from ..render import Bullets, Heading, Para, Section, Table


RULE_NAMES = {
    "relied": "relied on", "broke": "relation broke", "holds": "relation holds",
    "undetermined": "undetermined", "suspect": "shortcut suspect", "missing": "missing-value shift", "class_mix": "class mix changed", "label_shift": "label shift",
    "covariate": "covariate shift", "support": "training support", "confirmed": "remedy confirmed",
}


UNIT_RULES = ("relied", "broke", "suspect")  # rules with one yes/no outcome per unit


def _rule_outcome(inp: Inputs, key: str) -> str:
    """What a rule of the verdict decided, in words and numbers from the inputs."""
    records = facts.verdict_records(inp)
    if key in UNIT_RULES:
        hit = [str(r["unit"]) for r in records if bool(r.get(key))]
        return (f"{codes(hit)} ({len(hit)} of {plural(len(records), 'unit')})" if hit
                else f"none of {plural(len(records), 'unit')}")
    if key == "holds":
        hit = [str(r["unit"]) for r in records if str(r.get("outcome")) == "holds"]
        open_ = [str(r["unit"]) for r in records if str(r.get("outcome")) == "undetermined"]
        return (f"holds: {codes(hit) if hit else 'none'}; undetermined: {codes(open_) if open_ else 'none'} "
                f"(of {plural(len(records), 'unit')})")
    if key == "undetermined":
        share = (inp.diagnosis.get("reliance_undetermined") or {}).get("share")
        return f"{pct(share)} of the models' reliance undetermined" if finite(share) else "–"
    if key == "missing":
        moved = inp.diagnosis.get("missing_shift") or []
        return ("; ".join(f"`{m['feature']}` {pct(m['share_train'])} → {pct(m['share_test'])}" for m in moved)
                if moved else "no missing-value shift")
    if key == "class_mix":
        m = inp.class_mix
        word = "**changed**" if bool(m.get("changed")) else "not changed"
        return f"{word} (total variation {num(m.get('tv'))}, chi-square p {pval(m.get('chi2_pvalue'))})"
    if key == "label_shift":
        label = "label shift" in (inp.diagnosis.get("answer") or {}).get("changes", [])
        return "**label shift**" if label else "no label shift"
    if key == "covariate":
        c = inp.covariate
        word = "**covariate shift**" if bool(c.get("shifted")) else "no covariate shift"
        return f"{word} (AUC {num(c.get('auc'))}, {ci_text(c.get('auc_ci_low'), c.get('auc_ci_high'))})"
    if key == "support":
        c = inp.covariate
        return (f"{count(c.get('n_unsupported'))} of {count(c.get('n_test'))} test (audit) rows unsupported "
                f"({pct(c.get('share_unsupported'))})")
    if key == "confirmed":
        remedies = facts.remedies(inp)
        if not remedies:
            return "no remedy trained"
        done = [str(fs) for fs in facts.answer(inp).get("confirmed_remedies") or []]
        parts = [f"{facts.fs_label(inp, fs)}: {'**confirmed**' if fs in done else 'not confirmed'}" for fs in remedies]
        return "; ".join(parts)
    return "–"


def _relied_text(r: Mapping) -> str:
    """'yes (4 of 4)' / 'no (1 of 4)' from a verdict row."""
    word = yes(r.get("relied"))
    n, m = r.get("n_relied"), r.get("n_models")
    return f"{word} ({int(n)} of {int(m)})" if finite(n) and finite(m) and m else word


def section(inp: Inputs) -> Section:
    ans = facts.answer(inp)
    models = facts.models(inp)
    remedies = facts.remedies_run(inp)
    blocks: list = []
    headline = str(ans.get("headline", "")).strip()
    kind = str(ans.get("kind", ""))
    blocks.append(Para(f"**{headline}**" if headline else "**No answer recorded.**",
                       "answer" if kind == "no shortcut" else "answer alert"))
    sentences = [str(s) for s in ans.get("sentences") or []]
    if sentences:
        blocks.append(Bullets(sentences))

    lines = []
    for setting in models:
        va, au, co = (facts.metric(inp, "all", setting, s)[0] for s in EVAL_SPLITS)
        base = facts.metric(inp, "all", setting, "audit", "majority_baseline")[0]
        line = (f"`{setting}` on all features: validation accuracy {two(va)}, test (audit) {two(au)}, "
                f"test (confirmation) {two(co)}; majority baseline {two(base)}")
        for fs in remedies:
            c2 = facts.metric(inp, fs, setting, "confirm")[0]
            if finite(c2):
                line += f"; retrained {facts.fs_label(inp, fs)}: test (confirmation) {two(c2)}"
        lines.append(line + ".")
    blocks.append(Para("Accuracy of the grid models (mean over seeds):"))
    blocks.append(Bullets(lines))

    blocks.append(Heading("Verdict table"))
    records = facts.verdict_records(inp)
    n_models = len(facts.models(inp)) * len(inp.settings.get("seeds") or [])
    n_rows = inp.conditional["n_rows"].iloc[0] if "n_rows" in inp.conditional and len(inp.conditional) else None
    blocks.append(Para(
        "One row per unit: a feature, or a group of strongly associated features that can stand in for each "
        "other. **Importance**: how much the validation log loss rises when the unit is shuffled (grouped "
        f"permutation importance, nats per row, mean over {plural(n_models, 'grid model')}, 95 % CI over the "
        "repeated shuffles); **share**: its part of the summed single-feature importance; **relied on**: by how "
        "many models (each judged on its own interval and share; the grid relies on a unit when at least half "
        "of its models do). **Harm**: how much worse the evidence "
        "model with the unit predicts the test (audit) rows than the one without it, after refitting the class "
        f"mix (nats per row, 95 % CI, on {count(n_rows)} supported rows); **upper**: its one-sided upper "
        "confidence bound; **Holm p**: its p-value adjusted for testing every unit in every round; "
        "**relation**: broke (significant and at least the unit's material margin m, which grows with what "
        "a full break of the unit would cost; the rules below give it), holds (the upper bound is below m) "
        "or undetermined (neither: these rows cannot tell)."))
    if records:
        groups = any(str(r.get("kind")) == "group" for r in records)
        header = ["unit", "importance (nats) [95 % CI]", "share", "relied on", "harm (nats/row) [95 % CI]",
                  "upper", "Holm p", "relation", "suspect"]
        rows, strong = [], set()
        for i, r in enumerate(records):
            row = [facts.unit_label(r["unit"], r.get("kind"), r.get("members")) if groups else f"`{r['unit']}`",
                   ci(r.get("importance"), r.get("importance_ci_low"), r.get("importance_ci_high")),
                   pct(r.get("share")), _relied_text(r),
                   ci(r.get("harm"), r.get("harm_ci_low"), r.get("harm_ci_high")),
                   num(r.get("harm_upper")), pval(r.get("p_holm")), value_text(r.get("outcome")),
                   yes(r.get("suspect"))]
            for j in (3, 8):
                if row[j].startswith("yes"):
                    strong.add((i, j))
            if row[7] == "broke":
                strong.add((i, 7))
            rows.append(row)
        blocks.append(Table(header, rows, [False, True, True, False, True, True, True, False, False],
                            strong=strong))
        blocks.append(Bullets([f"`{r['unit']}`: {r['reading']}." for r in records if value_text(r.get("reading")) != "–"]))
    else:
        blocks.append(Para("The verdict table is empty: no unit was assessed.", "note"))

    blocks.append(Heading("Rules and outcomes"))
    rules = dict(inp.diagnosis.get("rules") or {})
    if ans.get("rule"):
        rules["confirmed"] = ans["rule"]
    order = [k for k in RULE_NAMES if k in rules] + [k for k in rules if k not in RULE_NAMES]
    rows = [[RULE_NAMES.get(k, k.replace("_", " ")), str(rules[k]), _rule_outcome(inp, k)]
            for k in order if rules[k]]
    blocks.append(Table(["rule", "decision rule", "outcome"], rows, [False, False, False]))
    th = inp.diagnosis.get("thresholds") or {}
    if th:
        blocks.append(Para("Thresholds of the verdict: " + ", ".join(f"`{k}` {plain(v)}" for k, v in th.items())
                           + "."))
    return Section("verdict", "Verdict", blocks)
