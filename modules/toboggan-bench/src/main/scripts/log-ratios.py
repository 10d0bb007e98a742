#!/usr/bin/env python3
"""Prints the issue-2 ratios from a JMH JSON result of the dev.toboggan.bench.log suite.

    python3 modules/toboggan-bench/src/main/scripts/log-ratios.py modules/toboggan-bench/target/log-bench.json

Each ratio is the quotient of the two mean scores; the range in brackets is the lowest and highest
quotient of any measurement iteration of the one by any of the other (a crude spread, not a confidence
interval: these machines are noisy, read the spread before the ratio). Standard library only.
"""
import json
import sys


def load(path):
    runs = {}
    for r in json.load(open(path)):
        name = r["benchmark"].rsplit(".", 2)
        key = (name[-2], name[-1], tuple(sorted(r.get("params", {}).items())))
        m = r["primaryMetric"]
        iterations = [x for fork in m["rawData"] for x in fork]
        runs[key] = (m["score"], m["scoreError"], iterations)
    return runs


def find(runs, cls, method, **params):
    want = tuple(sorted((k, str(v)) for k, v in params.items()))
    return runs.get((cls, method, want))


def ratio(label, num, den, target):
    if num is None or den is None:
        print(f"{label:70} (not in this result)")
        return
    r = num[0] / den[0]
    lo = min(num[2]) / max(den[2])
    hi = max(num[2]) / min(den[2])
    verdict = "meets" if r >= target else "MISSES"
    print(f"{label:70} {r:7.2f}  [{lo:5.2f} .. {hi:5.2f}]  target >= {target:g}: {verdict}")


def main(path):
    runs = load(path)
    print(f"{'benchmark':70} {'score':>14} {'error':>12}  ops/s")
    for (cls, method, params), (score, error, _) in sorted(runs.items()):
        p = ", ".join(f"{k}={v}" for k, v in params)
        print(f"{cls + '.' + method + ('(' + p + ')' if p else ''):70} {score:14.1f} {error:12.1f}")
    print()
    for size in ("100", "1024"):
        base = find(runs, "LogAppendBenchmark", "baseline", size=size)
        ratio(f"append {size} B: log / FileChannel.write", find(runs, "LogAppendBenchmark", "log", size=size),
              base, 0.7)
    base = find(runs, "DurableAppendBenchmark", "baseline")
    for bg in ("none", "thread"):
        one = find(runs, "DurableAppendBenchmark", "log1Writer", background=bg)
        ratio(f"durable, background={bg}: 1 writer / write+fdatasync", one, base, 0.8)
        ratio(f"durable, background={bg}: 16 writers / 1 writer", find(runs, "DurableAppendBenchmark",
              "log16Writers", background=bg), one, 5)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "modules/toboggan-bench/target/log-bench.json")
