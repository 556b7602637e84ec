"""Throughput of registry.numbers.classify (not a test).

Usage: .venv/bin/python bench/classify_numbers.py [count]

Prints values/s for 1,000,000 (or ``count``) inputs in three runs: clean mobiles only, a
typical import (mostly clean digit strings, some dirty), and dirty inputs only. The import
target is >= 300,000 values/s on one core for typical clean inputs.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import random  # noqa: E402
import time  # noqa: E402

from registry.numbers import classify  # noqa: E402


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _clean(rng: random.Random) -> object:
    r = rng.random()
    if r < 0.75:
        return _mobile(rng)
    if r < 0.85:
        return f"1069{rng.randrange(10**10):010d}"
    if r < 0.93:
        return f"0571{rng.randrange(2 * 10**7, 10**8)}"
    if r < 0.97:
        return f"400{rng.randrange(10**7):07d}"
    return rng.choice(["95588", "95555", "955880", "96688"])


def _dirty(rng: random.Random) -> object:
    m = _mobile(rng)
    return rng.choice(
        [
            f"+86 {m[:3]} {m[3:7]} {m[7:]}",
            f"86-{m}",
            f"0086 {m}",
            f"{m}.0",
            float(m),
            int(m),
            m.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"}),
            f"\u00a0{m}\u200b",
            "1.38001E+10",
            f"(0571)8{rng.randrange(10**7):07d}",
            f"0571-8765 {rng.randrange(10**4):04d}",
            "010-12345678-801",
            "138****8000",
            "",
            None,
            f"{m[:3]}.{m[3:7]}.{m[7:]}",
        ]
    )


def _run(name: str, values: list[object]) -> None:
    start = time.perf_counter()
    for value in values:
        classify(value)
    elapsed = time.perf_counter() - start
    print(f"{name:<38} {len(values):>9,} values  {len(values) / elapsed:>12,.0f} values/s")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(20260301)
    clean_mobiles = [_mobile(rng) for _ in range(count)]
    typical = [_dirty(rng) if rng.random() < 0.1 else _clean(rng) for _ in range(count)]
    dirty = [_dirty(rng) for _ in range(count)]
    print(f"Python {sys.version.split()[0]}, classify() on one core")
    _run("clean mobiles ('13800138000')", clean_mobiles)
    _run("typical import (90% clean, 10% dirty)", typical)
    _run("dirty only", dirty)


if __name__ == "__main__":
    main()
