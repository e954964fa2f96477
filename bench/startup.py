"""Start-up cost of the CLI: median wall time of `sseft --help` vs `python -c pass` over 10 runs.

    python bench/startup.py [--runs 10]

Target: ratio under 5 (the CLI must not import torch/transformers to show its help).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    exe = shutil.which("sseft") or str(Path(sys.executable).parent / "sseft")
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("sseft --help", [exe, "--help"]),
        ("sseft plugins", [exe, "plugins"]),
    ]
    median_wall(rows[1][1], 1)  # warm the file cache once
    results = {name: median_wall(cmd, args.runs) for name, cmd in rows}
    base = results["python -c pass"]
    print(f"{'command':<16} {'median ms':>10} {'ratio':>7}")
    for name, t in results.items():
        print(f"{name:<16} {t * 1000:>10.1f} {t / base:>7.2f}")
    ratio = results["sseft --help"] / base
    print(f"\nsseft --help / python -c pass = {ratio:.2f} (target < 5): {'OK' if ratio < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
