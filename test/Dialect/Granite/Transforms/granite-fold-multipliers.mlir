// RUN: granite-opt %s -granite-fold-multipliers | FileCheck %s

!W = !granite.weight<[64, 64], q8_0>
!T = !granite.weight<[32, 64], f32>

// A residual scale moves into the epilogue of the single-use linear that produces the scaled value.
// CHECK-LABEL: func.func @residual_scale_into_linear
// CHECK: %[[M:.*]] = granite.linear %{{.*}}, %{{.*}} {output_scale = 2.200000e-01 : f32}
// CHECK: granite.scaled_add %{{.*}}, %[[M]] : tensor<?x64xf32>
func.func @residual_scale_into_linear(%x: tensor<?x64xf32>, %w: !W) -> tensor<?x64xf32> {
  %m = granite.linear %x, %w : tensor<?x64xf32>, !W -> tensor<?x64xf32>
  %r = granite.scaled_add %x, %m {scale = 0.22 : f32} : tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// A linear with another use, or one that already scales, keeps its output; so does a non-linear producer.
// CHECK-LABEL: func.func @scale_stays
// CHECK: %[[M:.*]] = granite.linear %{{.*}}, %{{.*}} : tensor
// CHECK: granite.scaled_add %{{.*}}, %[[M]] {scale = 2.200000e-01 : f32}
// CHECK: %[[S:.*]] = granite.linear %{{.*}}, %{{.*}} {output_scale = 5.000000e-01 : f32}
// CHECK: granite.scaled_add %{{.*}}, %[[S]] {scale = 2.200000e-01 : f32}
// CHECK: %[[G:.*]] = granite.swiglu
// CHECK: granite.scaled_add %{{.*}}, %[[G]] {scale = 2.200000e-01 : f32}
func.func @scale_stays(%x: tensor<?x64xf32>, %w: !W) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %m = granite.linear %x, %w : tensor<?x64xf32>, !W -> tensor<?x64xf32>
  %r = granite.scaled_add %x, %m {scale = 0.22 : f32} : tensor<?x64xf32>
  %s = granite.linear %x, %w {output_scale = 0.5 : f32} : tensor<?x64xf32>, !W -> tensor<?x64xf32>
  %r2 = granite.scaled_add %x, %s {scale = 0.22 : f32} : tensor<?x64xf32>
  %g = granite.swiglu %x, %x : tensor<?x64xf32>
  %r3 = granite.scaled_add %x, %g {scale = 0.22 : f32} : tensor<?x64xf32>
  return %m, %r, %r2, %r3 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// Multipliers of exactly 1 disappear; others stay.
// CHECK-LABEL: func.func @ones
// CHECK: granite.embed %{{.*}}, %{{.*}} : tensor<?xi32>
// CHECK: granite.embed %{{.*}}, %{{.*}} {scale = 1.200000e+01 : f32}
// CHECK: %[[ONE:.*]] = granite.linear %{{.*}}, %{{.*}} : tensor
// CHECK: granite.scaled_add %{{.*}}, %[[ONE]] : tensor
// CHECK: granite.logits %{{.*}}, %{{.*}} : tensor
// CHECK: granite.logits %{{.*}}, %{{.*}} {logit_scale = 6.000000e+00 : f32}
func.func @ones(%t: tensor<?xi32>, %table: !T, %w: !W) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %e1 = granite.embed %t, %table {scale = 1.0 : f32} : tensor<?xi32>, !T -> tensor<?x64xf32>
  %e12 = granite.embed %t, %table {scale = 12.0 : f32} : tensor<?xi32>, !T -> tensor<?x64xf32>
  %m = granite.linear %e1, %w {output_scale = 1.0 : f32} : tensor<?x64xf32>, !W -> tensor<?x64xf32>
  %r = granite.scaled_add %e12, %m {scale = 1.0 : f32} : tensor<?x64xf32>
  %l1 = granite.logits %r, %table {logit_scale = 1.0 : f32} : tensor<?x64xf32>, !T -> tensor<?x32xf32>
  %l6 = granite.logits %r, %table {logit_scale = 6.0 : f32} : tensor<?x64xf32>, !T -> tensor<?x32xf32>
  return %r, %l1, %l6 : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}
