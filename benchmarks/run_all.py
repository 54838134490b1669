"""`make bench`: every benchmark with the command its RESULTS.md section names.

The quarterly report at 1,000,000 filings needs an archive the demo generator seeds in about
fifty minutes the first time (kept under var/bench-oversight/ for later runs); pass --quick to
run each benchmark at its smaller sizes only.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = (
    ("crypto_bench.py", "--sizes", "256,1024", "--repeat", "5", "--write"),
    ("archive_bench.py", "--sizes", "10000,1000000", "--aws-sizes", "100,300", "--write"),
    ("load_bench.py", "--applicants", "32", "--verifiers", "6", "--filings", "20", "--write"),
    ("oversight_bench.py", "--sizes", "100000,1000000", "--repeat", "3", "--workers", "2", "--write"),
    ("integrity_bench.py", "--filings", "2000", "--rounds", "7", "--write"),
    ("browser_bench.py", "--sizes", "1,10,100", "--rounds", "3", "--write"),
    ("cli_bench.py", "--rounds", "7", "--write"),
)
QUICK = (
    ("crypto_bench.py", "--sizes", "64", "--repeat", "1"),
    ("archive_bench.py", "--sizes", "2000,20000", "--aws-sizes", "50,100"),
    ("load_bench.py", "--applicants", "4", "--filings", "3"),
    ("integrity_bench.py", "--filings", "300", "--rounds", "2"),
    ("browser_bench.py", "--sizes", "1", "--rounds", "1"),
    ("cli_bench.py", "--rounds", "2"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only; nothing is written")
    runs = QUICK if parser.parse_args().quick else FULL
    for script, *arguments in runs:
        print(f"$ python benchmarks/{script} {' '.join(arguments)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *arguments], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
