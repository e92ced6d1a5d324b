"""Section "Cost": job timings and memory from Snakemake's benchmark files (the one part of the
report that differs between runs)."""

from __future__ import annotations

from ..fmt import count, plural
from ...text import num
from ..load import Inputs
from ..render import Para, Section, Table


def section(inp: Inputs) -> Section:
    b = inp.benchmarks
    blocks: list = []
    if b is None or b.empty:
        blocks.append(Para("No benchmark files.", "note"))
        return Section("cost", "Cost", blocks, marker="cost")
    per_rule = b.groupby("rule", sort=True).agg(jobs=("s", "size"), s=("s", "sum"), mean_s=("s", "mean"),
                                                 max_s=("s", "max"), max_rss=("max_rss", "max")).reset_index()
    per_rule = per_rule.sort_values(["s", "rule"], ascending=[False, True], kind="stable")
    rows = [[f"`{r['rule']}`", count(r["jobs"]), num(r["s"], 1), num(r["mean_s"], 2), num(r["max_s"], 2),
             num(r["max_rss"], 0)] for r in per_rule.to_dict("records")]
    total_s = float(b["s"].sum())
    rows.append(["total", count(len(b)), num(total_s, 1), num(b["s"].mean(), 2), num(b["s"].max(), 2),
                 num(b["max_rss"].max(), 0)])
    top = per_rule.iloc[0]
    rss = b.loc[b["max_rss"].idxmax()] if b["max_rss"].notna().any() else None
    text = (f"{plural(len(b), 'job')} took {num(total_s, 1)} s of wall-clock time in total "
            f"({num(total_s / 60, 1)} min, summed over jobs, not elapsed); the most expensive rule is "
            f"`{top['rule']}` ({num(top['s'], 1)} s over {plural(int(top['jobs']), 'job')})")
    if rss is not None:
        text += f"; the largest peak memory (max RSS) is {num(rss['max_rss'], 0)} MB, in `{rss['rule']}`"
    blocks.append(Para(text + ". From Snakemake's benchmark files; the report job itself is not included."))
    blocks.append(Table(["rule", "jobs", "seconds (sum)", "seconds per job", "longest job (s)", "max RSS (MB)"], rows,
                        [False, True, True, True, True, True], total=True))
    return Section("cost", "Cost", blocks, marker="cost")
