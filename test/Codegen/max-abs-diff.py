#!/usr/bin/env python3
"""max-abs-diff.py A B LIMIT: fails unless two raw little-endian f32 files have the same length and every element
differs by at most LIMIT. Prints the largest difference."""
import struct, sys

a, b = (open(p, "rb").read() for p in sys.argv[1:3])
limit = float(sys.argv[3])
if len(a) != len(b) or len(a) == 0 or len(a) % 4:
    sys.exit(f"sizes differ or are empty: {len(a)} vs {len(b)} bytes")
xs, ys = (struct.unpack(f"<{len(a) // 4}f", d) for d in (a, b))
worst = max(abs(x - y) for x, y in zip(xs, ys))
print(f"max |diff| {worst:.3g} over {len(xs)} values")
sys.exit(0 if worst <= limit else f"max |diff| {worst} exceeds {limit}")
