"""Parquet export for ``embers convert FILE out.parquet``: the Rust CLI runs
``python -m embers.parquet FILE OUT`` with the Python that has embers and pyarrow installed
(Parquet is written by pyarrow, the reference Arrow implementation, rather than by a large Rust
dependency). The file has the columns ``word`` (string) and ``vector`` (fixed-size list of
float32), as :meth:`embers.KeyedVectors.to_parquet` writes it; Milvus bulk insert, Spark,
LanceDB, DuckDB and pandas read it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Optional

from ._errors import EmbersError


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(prog="embers convert FILE OUT.parquet", description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("output")
    p.add_argument("--format", default=None, help="input format (sniffed when absent)")
    p.add_argument("--limit", type=int, default=None, help="first N rows only")
    p.add_argument("--lossy", action="store_true", help="replace invalid UTF-8")
    p.add_argument("--allow-nonfinite", action="store_true", help="accept NaN and infinities")
    p.add_argument("--row-group-size", type=int, default=65_536)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    if a.row_group_size < 1:
        print("error: --row-group-size must be at least 1", file=sys.stderr)
        return 1

    import embers

    start = time.perf_counter()
    try:
        kv = embers.load(a.file, format=a.format, limit=a.limit, lossy=a.lossy, allow_nonfinite=a.allow_nonfinite)
        read = time.perf_counter() - start
        kv.to_parquet(a.output, row_group_size=a.row_group_size)
    except (EmbersError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not a.quiet:
        print(
            f"{a.file} -> {a.output} (parquet): {len(kv)} × {kv.vector_size}, read in {read:.3f} s, "
            f"total {time.perf_counter() - start:.3f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
