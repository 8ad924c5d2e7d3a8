"""`python -m bench [NAME …]` (or `make bench`): runs the benchmarks and prints figures and ratios."""
from __future__ import annotations

import importlib
import sys

BENCHES = ["corpus", "parse_throughput", "confirm_latency", "webhook", "shipments_import", "inventory", "claims"]


def main(argv: list[str]) -> None:
    names = argv or BENCHES
    for name in names:
        if name not in BENCHES:
            sys.exit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}")
        print(f"== {name}")
        importlib.import_module(f"bench.{name}").main()
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
