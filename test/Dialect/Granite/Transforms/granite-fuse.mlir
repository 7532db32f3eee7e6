// RUN: granite-opt %s -pass-pipeline='builtin.module(func.func(granite-fuse))' | FileCheck %s
// On the hybrid golden model, each Mamba2 in-projection takes its norm, and each FFN's gate/up pair fuses:
// RUN: granitec compile %golden/models/hybrid-f32.gguf --emit=mlir --emit-after=granite-fuse | FileCheck %s \
// RUN:   --check-prefix=HYBRID --implicit-check-not='granite.swiglu '
// HYBRID: granite.rms_norm_linear {{.*}} -> tensor<?x1168xf32>
// HYBRID: granite.swiglu_linear
// HYBRID: granite.swiglu_linear
// HYBRID: granite.rms_norm_linear {{.*}} -> tensor<?x1168xf32>
// HYBRID: granite.swiglu_linear

!N = !granite.weight<[64], f32>
!G = !granite.weight<[128, 64], q8_0>
!D = !granite.weight<[64, 128], q8_0>

// The gate/up pair of a SwiGLU FFN becomes one swiglu_linear.
// CHECK-LABEL: func.func @gate_up
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[G:.*]]: !granite.weight<[128, 64], q8_0>, %[[U:.*]]: !granite.weight<[128, 64], q8_0>
// CHECK-NEXT: %[[S:.*]] = granite.swiglu_linear %[[X]], %[[G]], %[[U]] : tensor<?x64xf32>, !granite.weight<[128, 64], q8_0>, !granite.weight<[128, 64], q8_0> -> tensor<?x128xf32>
// CHECK-NEXT: granite.linear %[[S]]
func.func @gate_up(%x: tensor<?x64xf32>, %g: !G, %u: !G, %d: !D) -> tensor<?x64xf32> {
  %gate = granite.linear %x, %g : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %up = granite.linear %x, %u : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %s = granite.swiglu %gate, %up : tensor<?x128xf32>
  %y = granite.linear %s, %d : tensor<?x128xf32>, !D -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// Not fused: a gate with another use, and gate/up of different inputs.
// CHECK-LABEL: func.func @gate_up_stays
// CHECK-NOT: swiglu_linear
// CHECK: return
func.func @gate_up_stays(%x: tensor<?x64xf32>, %x2: tensor<?x64xf32>, %g: !G) -> (tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>) {
  %gate = granite.linear %x, %g : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %up = granite.linear %x, %g : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %s = granite.swiglu %gate, %up : tensor<?x128xf32>
  %gate2 = granite.linear %x, %g : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %up2 = granite.linear %x2, %g : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %s2 = granite.swiglu %gate2, %up2 : tensor<?x128xf32>
  return %s, %s2, %gate : tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>
}

// A norm whose only user is a linear (the Mamba2 in-projection) fuses into it.
// CHECK-LABEL: func.func @norm_linear
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[N:.*]]: !granite.weight<[64], f32>, %[[W:.*]]: !granite.weight<[128, 64], q8_0>)
// CHECK-NEXT: %[[Y:.*]] = granite.rms_norm_linear %[[X]], %[[N]], %[[W]] {epsilon = 9.99999974E-6 : f32}
// CHECK-NEXT: return %[[Y]]
func.func @norm_linear(%x: tensor<?x64xf32>, %n: !N, %w: !G) -> tensor<?x128xf32> {
  %h = granite.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N
  %y = granite.linear %h, %w : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// Not fused: a norm feeding q, k and v; a linear with an epilogue scale.
// CHECK-LABEL: func.func @norm_linear_stays
// CHECK-NOT: rms_norm_linear
// CHECK: return
func.func @norm_linear_stays(%x: tensor<?x64xf32>, %n: !N, %w: !G) -> (tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>) {
  %h = granite.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N
  %q = granite.linear %h, %w : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %k = granite.linear %h, %w : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  %h2 = granite.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : tensor<?x64xf32>, !N
  %s = granite.linear %h2, %w {output_scale = 0.5 : f32} : tensor<?x64xf32>, !G -> tensor<?x128xf32>
  return %q, %k, %s : tensor<?x128xf32>, tensor<?x128xf32>, tensor<?x128xf32>
}
