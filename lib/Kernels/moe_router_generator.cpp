// MoE routing (spec §2.8, golden README item 7): softmax over all experts, keep the top k,
// renormalise the k weights to sum to 1 (equal to a softmax over the selected logits).
//   logits:  [experts, tokens]   router output (ffn_gate_inp product, f32)
//   ids:     [top_k, tokens]     int32 expert ids, best first (ties: lower id first)
//   weights: [top_k, tokens]
// The expert products then run the matvec/matmul instance of the expert shape on expert e's
// matrix, which is the 2-D slice at byte offset e * N * row_bytes of ffn_*_exps (docs/kernels.md).
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class MoeRouter : public Generator<MoeRouter> {
public:
  GeneratorParam<int> experts{"experts", 8};
  GeneratorParam<int> top_k{"top_k", 2};

  Input<Buffer<float>> logits{"logits", 2};
  Output<Buffer<int32_t>> ids{"ids", 2};
  Output<Buffer<float>> weights{"weights", 2};

  void generate() {
    const int E = experts;
    granite::kernels::requireParam(int(top_k) >= 1 && int(top_k) <= E, "need 1 <= top_k <= experts");
    // rank(e) = how many experts beat e; the top k are ranks 0..k-1. E is small (<= a few
    // hundred), so the E^2 comparison is cheaper than any sort.
    RDom other(0, E, "other");
    Expr beats = logits(other, t) > logits(e, t) || (logits(other, t) == logits(e, t) && other < e);
    rank(e, t) = sum(select(beats, 1, 0));
    RDom candidate(0, E, "candidate");
    // Clamped only so that bounds inference knows the logits row stays inside [0, E).
    chosen(j, t) = clamp(sum(select(rank(candidate, t) == j, candidate, 0)), 0, E - 1);
    ids(j, t) = chosen(j, t);

    Expr best = logits(chosen(0, t), t);
    RDom slot(0, int(top_k), "slot");
    normaliser(t) = sum(exp(logits(chosen(slot, t), t) - best));
    weights(j, t) = exp(logits(chosen(j, t), t) - best) / normaliser(t);
  }

  void schedule() {
    logits.dim(0).set_bounds(0, experts);
    ids.dim(0).set_bounds(0, top_k);
    weights.dim(0).set_bounds(0, top_k);
    rank.compute_root().parallel(t);
    chosen.compute_root();
    normaliser.compute_root();
  }

private:
  Var e{"e"}, j{"j"}, t{"t"};
  Func rank{"rank"}, chosen{"chosen"}, normaliser{"normaliser"};
};

} // namespace

HALIDE_REGISTER_GENERATOR(MoeRouter, moe_router)
