// Small helpers shared by the kernel generators' schedules.
#pragma once

#include "Halide.h"

namespace granite::kernels {

/// The f32 vector width to schedule for: the knob when set, otherwise the target's natural width.
inline int f32Lanes(const Halide::Target &target, int knob) {
  return knob > 0 ? knob : target.natural_vector_size(Halide::Float(32));
}

} // namespace granite::kernels
