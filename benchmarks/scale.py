"""Scale benchmark: time and peak memory of every rule at 1x, 10x and 100x the real data's rows.

Runs ``config/scale1.yaml``, ``scale10.yaml`` and ``scale100.yaml`` (demo data, one seed, a fixed
number of epochs) in one scratch copy of the workflow and reads Snakemake's own ``benchmark:``
records (wall seconds and sampled max RSS of each job) and each job's log, where the job wrapper
records the peak memory the kernel counted (``getrusage``: a short peak is not missed). Per rule, jobs are summed over the grid. The
growth between the two largest scales run is reported as ``time(big) / (ratio * time(small))``:
1.0 is exactly linear.

    .venv/bin/python benchmarks/scale.py [--scales 1 10 100] [--cores 2]
Results: benchmarks/out/scale.json (``--out``).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline import scratch_copy, timed  # noqa: E402
from shortcut.files import write_json  # noqa: E402


def rule_costs(bench_dir: Path) -> dict[str, dict]:
    """Per rule: summed seconds, the largest max RSS (MB) Snakemake sampled, the largest peak the
    kernel counted (the job's log: "peak memory N MB", see ``shortcut.job``) and the job count."""
    costs: dict[str, dict] = defaultdict(lambda: {"seconds": 0.0, "max_rss_mb": 0.0, "peak_mb": 0.0, "jobs": 0})
    logs = bench_dir.parent / "logs"
    for tsv in sorted(bench_dir.rglob("*.tsv")):
        rule = tsv.relative_to(bench_dir).parts[0].removesuffix(".tsv")
        row = pd.read_csv(tsv, sep="\t").iloc[-1]
        cost = costs[rule]
        cost["seconds"] += float(row["s"])
        rss = pd.to_numeric(row["max_rss"], errors="coerce")
        cost["max_rss_mb"] = max(cost["max_rss_mb"], 0.0 if pd.isna(rss) else float(rss))
        log = logs / tsv.relative_to(bench_dir).with_suffix(".log")
        peaks = re.findall(r"peak memory ([0-9.]+) MB", log.read_text()) if log.is_file() else []
        cost["peak_mb"] = max(cost["peak_mb"], float(peaks[-1]) if peaks else float("nan"))
        cost["jobs"] += 1
    return dict(costs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", type=int, default=[1, 10, 100])
    parser.add_argument("--cores", default="2")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "scale.json")
    args = parser.parse_args(argv)

    snakemake = [sys.executable, "-m", "snakemake"]
    result = {"scales": {}, "growth": {}}
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        work = scratch_copy(Path(tmp))
        for scale in args.scales:
            start = time.perf_counter()
            timed([*snakemake, "--cores", args.cores, "--configfile", f"config/scale{scale}.yaml"], work)
            wall = time.perf_counter() - start
            costs = rule_costs(work / "results" / f"demo{scale}x" / "benchmarks")
            result["scales"][str(scale)] = {"wall_seconds": wall, "rules": costs}
            print(f"{scale:>4}x: {wall:8.1f} s wall; largest peak memory of a job "
                  f"{max(c['peak_mb'] for c in costs.values()):.0f} MB (Snakemake's sampling: "
                  f"{max(c['max_rss_mb'] for c in costs.values()):.0f} MB)")
    # growth between the two largest scales run: time(big) / (ratio * time(small)); 1 = linear
    scales = sorted(int(s) for s in result["scales"])
    if len(scales) >= 2:
        lo, hi = scales[-2], scales[-1]
        small, big = result["scales"][str(lo)]["rules"], result["scales"][str(hi)]["rules"]
        result["growth_between"] = [lo, hi]
        for rule in sorted(big):
            if rule in small and small[rule]["seconds"] > 0:
                result["growth"][rule] = big[rule]["seconds"] / (hi / lo * small[rule]["seconds"])
    write_json(args.out, result)
    header = f"{'rule':<16}" + "".join(f"{s + 'x s':>10}{s + 'x peak MB':>14}" for s in result["scales"])
    pair = result.get("growth_between")
    print(header + (f"{f'growth {pair[0]}x-{pair[1]}x':>18}" if pair else ""))
    rules = sorted({r for s in result["scales"].values() for r in s["rules"]})
    for rule in rules:
        line = f"{rule:<16}"
        for s in result["scales"].values():
            c = s["rules"].get(rule, {"seconds": float("nan"), "peak_mb": float("nan")})
            line += f"{c['seconds']:10.2f}{c['peak_mb']:14.0f}"
        growth = result["growth"].get(rule)
        print(line + (f"{growth:18.2f}" if growth is not None else ""))
    return result


if __name__ == "__main__":
    main()
