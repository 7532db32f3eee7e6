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
  if (!ok) throw std::invalid_argument("granite kernel generator: " + message);
}

} // namespace granite::kernels

namespace granite::kernels {

/// a * b + c rounded once, as C's fmaf: a call of LLVM's llvm.fma.f32, which Halide 14 (it has no fma of its own)
/// emits per lane and LLVM folds back into one vfmadd per vector. A multiply-add left to LLVM's contraction instead
/// may be reassociated (Halide marks its float ops reassoc) or fuse the other product when both addends are products.
inline Halide::Expr fusedMultiplyAdd(const Halide::Expr &a, const Halide::Expr &b, const Halide::Expr &c) {
  return Halide::Internal::Call::make(Halide::Float(32), "llvm.fma.f32", {a, b, c}, Halide::Internal::Call::PureExtern);
}

/// x * sigmoid(x), as in llama.cpp's ggml_silu_f32 (x / (1 + e^-x)).
inline Halide::Expr silu(const Halide::Expr &v) { return v / (1.0f + Halide::exp(-v)); }

/// log(1 + u) without the cancellation of log(1 + u) for small u: with w = 1 + u rounded,
/// u * log(w) / (w - 1) corrects for the rounding of w (Goldberg's trick).
inline Halide::Expr log1p(const Halide::Expr &u) {
  Halide::Expr w = 1.0f + u;
  return Halide::select(w == 1.0f, u, u * Halide::log(w) / (w - 1.0f));
}

/// Schedules the reduction `sum` (one update over the RVar `r`) as `lanes` vector partial sums
/// (rfactor), computed per iteration of `sum`'s pure loop `at`; a ragged tail is guarded. The lanes
/// are then added as a vector reduction (a shuffle tree of log2(lanes) steps), not a serial chain of
/// `lanes` dependent scalar adds.
inline void vectorizeSum(Halide::Func sum, const Halide::RVar &r, const Halide::Var &at, int lanes) {
  Halide::RVar outer("outer"), inner("inner");
  Halide::Var lane("lane");
  Halide::Func partial = sum.update().split(r, outer, inner, lanes).rfactor(inner, lane);
  partial.compute_at(sum, at).vectorize(lane);
  partial.update().vectorize(lane);
  sum.update().atomic().vectorize(inner);
}

} // namespace granite::kernels
