// A streaming-read probe: how fast this process can read memory right now, with a given number of threads. The
// compiled executable's --bench measures it right before decode, so that the decode speed can be set against the
// bandwidth the machine gave in the same run (scripts/bench, docs/bench.md: "roofline").
#pragma once

#include <cstddef>

namespace granite::runtime {

struct ReadBandwidthResult {
  double bytesPerSecond = 0; ///< the best of the repeats
  size_t bytes = 0;          ///< the buffer read per repeat
  int threads = 0;
  int repeats = 0;
};

/// Allocates `bytes` (rounded down to whole 256-byte blocks; far larger than any cache), writes it once, then reads
/// it `repeats` times with `threads` std::threads, each summing its own contiguous slice with wide vector loads
/// into eight independent accumulators. The time of a repeat runs from releasing the already started threads to the
/// last one finishing; the result is the best repeat. The buffer is freed before returning. Throws
/// std::bad_alloc when the buffer cannot be had.
ReadBandwidthResult measureReadBandwidth(int threads, size_t bytes = size_t{512} << 20, int repeats = 3);

} // namespace granite::runtime
