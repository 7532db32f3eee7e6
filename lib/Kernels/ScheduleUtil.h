// Small helpers shared by the kernel generators' schedules.
#pragma once

#include "Halide.h"

namespace granite::kernels {

/// The f32 vector width to schedule for: the knob when set, otherwise the target's natural width.
inline int f32Lanes(const Halide::Target &target, int knob) {
  return knob > 0 ? knob : target.natural_vector_size(Halide::Float(32));
}

} // namespace granite::kernels

#include <stdexcept>
#include <string>

namespace granite::kernels {

/// Rejects generator parameters the algorithm cannot honour; granitec reports the message.
inline void requireParam(bool ok, const std::string &message) {
  if (!ok)
    throw std::invalid_argument("granite kernel generator: " + message);
}

} // namespace granite::kernels
