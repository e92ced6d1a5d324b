"""Section "Studies and checks": the shared-bias study and the gradient check (when they ran)."""

from __future__ import annotations

import pandas as pd

from ..fmt import count, join_words, plural, pm, sci, two
from ...text import num
from ..load import Inputs
from ..render import Figure, Heading, Para, Section, Table


def section(inp: Inputs) -> Section:
    blocks: list = [Heading("Shared bias")]
    summ, hist = inp.shared_bias_summary, inp.shared_bias_history
    if summ is None or summ.empty:
        blocks.append(Para("The shared-bias study was not run in this workflow "
                           "(no `studies/shared_bias_summary.csv`).", "note"))
        blocks.append(Figure("shared_bias", "Shared-bias study: not available in this run.",
                             missing="shared-bias study not run"))
    else:
        max_epoch = int(hist["epoch"].max()) if hist is not None and len(hist) else None
        rows, parts = [], []
        for variant in dict.fromkeys(summ["variant"]):
            sub = summ[summ["variant"] == variant]
            n = len(sub)

            def ms(col, sub=sub, n=n):
                vals = pd.to_numeric(sub[col], errors="coerce")
                return float(vals.mean()), float(vals.std(ddof=1)) if n > 1 else 0.0, n

            reached = pd.to_numeric(sub["epochs_to_target"], errors="coerce").dropna()
            sd = reached.std(ddof=1) if len(reached) > 1 else 0.0
            e_text = pm(reached.mean(), sd, len(reached), 1) if len(reached) else "never"
            rows.append([f"`{variant}`", str(n), pm(*ms("final_train_loss")), pm(*ms("final_val_loss")),
                         pm(*ms("final_val_acc")), pm(*ms("target_loss")), e_text, f"{len(reached)} of {n}"])
            if len(reached):
                reach = (f"reaches the target training loss after {num(reached.mean(), 1)} epochs "
                         f"({len(reached)} of {n} seeds)")
            else:
                reach = "never reaches the target training loss"
                reach += f" within {max_epoch} epochs" if max_epoch else ""
            parts.append(f"`{variant}` {reach} and ends at validation accuracy {two(ms('final_val_acc')[0])}")
        blocks.append(Para("One bias vector shared by the hidden and the output layer against the same network "
                           "with independent biases, trained from the same start (mean ± sd over seeds); the target "
                           "loss is set per seed."))
        blocks.append(Table(["variant", "seeds", "final train loss", "final val loss", "final val accuracy",
                             "target loss", "epochs to target", "target reached"], rows,
                            [False, True, True, True, True, True, True, True]))
        n_seeds = int(summ["seed"].nunique())
        caption = (f"Training loss and validation accuracy per epoch, mean over {plural(n_seeds, 'seed')}: "
                   + "; ".join(parts) + ".")
        blocks.append(Figure("shared_bias", caption, source=inp.shared_bias_png,
                             missing="" if inp.shared_bias_png else "shared-bias figure not available"))

    blocks.append(Heading("Gradient check"))
    gc = inp.gradcheck
    if gc is None or gc.empty:
        blocks.append(Para("The gradient check was not run in this workflow (no `checks/gradcheck.csv`).", "note"))
        return Section("studies", "Studies and checks", blocks)
    gc = gc.assign(passed=gc["passed"].astype(bool),
                   max_rel_error=pd.to_numeric(gc["max_rel_error"], errors="coerce"))
    keys = [k for k in ("model", "parameter") if k in gc]
    acts = list(dict.fromkeys(gc["activation"].astype(str))) if "activation" in gc else [""]
    tol = f" (tolerance {sci(gc['tolerance'].max())})" if "tolerance" in gc else ""
    worst = gc.loc[gc["max_rel_error"].idxmax()]
    where = " ".join(str(worst[k]) for k in ("model", "activation", "parameter") if k in gc)
    if gc["passed"].all():
        text = (f"All {len(gc)} checks pass{tol}: the largest relative error between the analytic and the "
                f"finite-difference gradient is {sci(worst['max_rel_error'])} ({where}).")
    else:
        text = (f"**{int((~gc['passed']).sum())} of {len(gc)} checks fail**{tol}; the largest relative error is "
                f"{sci(worst['max_rel_error'])} ({where}).")
    batches = join_words(list(dict.fromkeys(gc["data"].astype(str)))) if "data" in gc else ""
    extra = f" over the batches checked ({batches})" if batches else ""
    blocks.append(Para(text + f" Each cell is the largest relative error{extra} for one parameter array and "
                       "activation."))
    rows, strong = [], set()
    for key, sub in gc.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = [f"`{key[0]}`"] + [str(k) for k in key[1:]]
        for act in acts:
            cell = sub[sub["activation"].astype(str) == act] if act else sub
            if cell.empty:
                row.append("–")
                continue
            ok = bool(cell["passed"].all())
            row.append(sci(cell["max_rel_error"].max()) + ("" if ok else " FAIL"))
            if not ok:
                strong.add((len(rows), len(row) - 1))
        row.append(count(sub["n_checked"].sum()) if "n_checked" in sub else "–")
        row.append("pass" if sub["passed"].all() else "FAIL")
        if row[-1] == "FAIL":
            strong.add((len(rows), len(row) - 1))
        rows.append(row)
    blocks.append(Table(keys + [a or "max rel. error" for a in acts] + ["entries checked", "result"], rows,
                        [False] * len(keys) + [True] * (len(acts) + 1) + [False], strong=strong))
    return Section("studies", "Studies and checks", blocks)
