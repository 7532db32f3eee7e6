// Mamba2 selective scan (spec §2.5 steps 4-6, §2.6-2.7): softplus dt (threshold 20), dA = exp(dt*A),
// the per-head sequential recurrence S = dA*S + dt * x ⊗ B, y = S·C + D*x. One instance serves
// the decode step (tokens = 1) and prefill: each (head, row p) scans all tokens, keeping the row's
// state after every token (N*(tokens+1) floats; granitec calls the kernel on at most 32 tokens at a
// time, so that this history stays in L1).
//   x:        [head_dim, heads, tokens]         post-conv x (may be a view into the conv output)
//   b, c:     [groups*state_size, tokens]        post-conv B and C
//   dt:       [heads, tokens]                    raw dt from in_proj
//   a, d, dt_bias: [heads]                       ssm_a (already -exp(A_log)), ssm_d, ssm_dt.bias
//   state:    [state_size, head_dim, heads]      S before this step (llama.cpp ne {N, P, H})
//   y:        [head_dim, heads, tokens]         scan output plus D*x (before the z gate)
//   new_state:[state_size, head_dim, heads]      S after the last token
#include "Kernels/ScheduleUtil.h"

namespace {

using namespace Halide;

class SsmScan : public Generator<SsmScan> {
public:
  GeneratorParam<int> heads{"heads", 16};
  GeneratorParam<int> head_dim{"head_dim", 32};
  GeneratorParam<int> state_size{"state_size", 64};
  GeneratorParam<int> groups{"groups", 1};
  GeneratorParam<int> vector_width{"vector_width", 0};

  Input<Buffer<float>> x{"x", 3};
  Input<Buffer<float>> b{"b", 2};
  Input<Buffer<float>> c{"c", 2};
  Input<Buffer<float>> dt{"dt", 2};
  Input<Buffer<float>> a{"a", 1};
  Input<Buffer<float>> d{"d", 1};
  Input<Buffer<float>> dt_bias{"dt_bias", 1};
  Input<Buffer<float>> state{"state", 3};
  Output<Buffer<float>> y{"y", 3};
  Output<Buffer<float>> new_state{"new_state", 3};

  void generate() {
    const int H = heads, N = state_size, G = groups;
    granite::kernels::requireParam(H % G == 0, "heads must be a multiple of groups");
    const Expr tokens = x.dim(2).extent();
    auto groupOf = [&](Expr head) { return head / (H / G); };

    Expr raw = dt(h, t) + dt_bias(h);
    step(h, t) = select(raw > 20.0f, raw, granite::kernels::log1p(exp(raw)));
    decay(h, t) = exp(step(h, t) * a(h));
    auto update = [&](Expr prev, Expr tt) {
      return prev * decay(h, tt) + b(groupOf(h) * N + n, tt) * (x(p, h, tt) * step(h, tt));
    };

    // history(n, p, h, t): S after token t; t = -1 is the incoming state. No pure value: only t = -1 and the
    // tokens are written, once each.
    RDom rt(0, tokens, "rt");
    history(n, p, h, t) = undef<float>();
    history(n, p, h, -1) = state(n, p, h);
    history(n, p, h, rt) = update(history(n, p, h, rt - 1), rt);
    scanTokens = rt;

    RDom rn(0, N, "rn");
    readout(p, h, t) = 0.0f;
    readout(p, h, t) += history(rn, p, h, t) * c(groupOf(h) * N + rn, t);
    stateDim = rn;
    y(p, h, t) = readout(p, h, t) + d(h) * x(p, h, t);

    // The final state is the history's last entry: y and new_state share one loop nest (compute_with below),
    // so the state is read and written once per call.
    new_state(n, p, h) = history(n, p, h, tokens - 1);
  }

  void schedule() {
    const int H = heads, P = head_dim, N = state_size, G = groups;
    const int lanes = granite::kernels::f32Lanes(get_target(), vector_width);
    x.dim(0).set_bounds(0, P);
    x.dim(1).set_bounds(0, H);
    y.dim(0).set_bounds(0, P);
    y.dim(1).set_bounds(0, H);
    b.dim(0).set_bounds(0, G * N);
    c.dim(0).set_bounds(0, G * N);
    state.dim(0).set_bounds(0, N);
    state.dim(1).set_bounds(0, P);
    state.dim(2).set_bounds(0, H);
    new_state.dim(0).set_bounds(0, N);
    new_state.dim(1).set_bounds(0, P);
    new_state.dim(2).set_bounds(0, H);

    step.compute_root();
    decay.compute_root();
    // One loop over (head, row p) computes the row's history, then writes the row's new state and reads y out.
    // The new state may alias the state: row p's state is read (into the history) before row p's is written, and
    // no other row reads it.
    new_state.reorder(n, p, h).parallel(h).vectorize(n, std::min(lanes, N), TailStrategy::GuardWithIf);
    y.reorder(t, p, h).parallel(h).compute_with(new_state, p);
    // Stored per head, computed per row p: Halide folds the p dimension away, so the N*(tokens+1) floats are
    // allocated once per head instead of once per row (a malloc per row cost more than the decode step's math).
    history.store_at(new_state, h).compute_at(new_state, p).vectorize(n, std::min(lanes, N), TailStrategy::GuardWithIf);
    // The readout S·C as lane-wide partial sums: a scalar chain of N dependent FMAs per (row, token) was the
    // decode step's bottleneck.
    readout.compute_at(y, t);
    granite::kernels::vectorizeSum(readout, stateDim.x, t, std::min(lanes, N));
    history.update(0).vectorize(n, std::min(lanes, N), TailStrategy::GuardWithIf);
    history.update(1).reorder(n, scanTokens.x).vectorize(n, std::min(lanes, N), TailStrategy::GuardWithIf);
  }

private:
  Var n{"n"}, p{"p"}, h{"h"}, t{"t"};
  Func step{"step"}, decay{"decay"}, history{"history"}, readout{"readout"};
  RDom scanTokens, stateDim;
};

} // namespace

HALIDE_REGISTER_GENERATOR(SsmScan, ssm_scan)
