// RUN: granite-opt %s -split-input-file -granite-kernel-calls-to-llvm | FileCheck %s

// A kernel call becomes a call of its instance on halide_buffer_t descriptors built on the stack: host is the
// memref's aligned pointer plus its offset, Halide's dimension 0 is the memref's innermost (extent and stride
// from the descriptor), f32 is float32 (code 2) and i16 the unsigned 16-bit words of a weight (code 1); an i32 is
// passed as it is. A non-zero status returns from the function. The module lists the instance for the driver.
// CHECK: module attributes {granite.kernels = [{generator = "sample", name = "granite_sample_[[HASH:[0-9a-f]+]]", params = {k = 3 : i64, weight_type = #granite.format<bf16>}}]}
// CHECK-LABEL: llvm.func @forward(%arg0: !llvm.ptr, %arg1: i32) -> i32
// CHECK: %[[STACK:.*]] = llvm.intr.stacksave : !llvm.ptr
// CHECK: %[[BUFFER:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, ptr, ptr, i64, i8, i8, i16, i32, ptr, ptr)>
// CHECK: %[[DIMS:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i32, i32, i32, i32)>
// CHECK-NEXT: %[[OFFSET:.*]] = llvm.extractvalue %[[ROWS:.*]][2]
// CHECK-NEXT: %[[ALIGNED:.*]] = llvm.extractvalue %[[ROWS]][1]
// CHECK: %[[HOST:.*]] = llvm.getelementptr %[[ALIGNED]][%[[OFFSET]]] : (!llvm.ptr, i64) -> !llvm.ptr, f32
// CHECK: %[[HOSTFIELD:.*]] = llvm.getelementptr %[[BUFFER]][0, 2]
// CHECK-NEXT: llvm.store %[[HOST]], %[[HOSTFIELD]]
// CHECK: %[[FLOAT:.*]] = llvm.mlir.constant(2 : i8) : i8
// CHECK-NEXT: %[[CODE:.*]] = llvm.getelementptr %[[BUFFER]][0, 4]
// CHECK-NEXT: llvm.store %[[FLOAT]], %[[CODE]]
// CHECK: %[[BITS32:.*]] = llvm.mlir.constant(32 : i8) : i8
// CHECK-NEXT: %[[BITS:.*]] = llvm.getelementptr %[[BUFFER]][0, 5]
// CHECK-NEXT: llvm.store %[[BITS32]], %[[BITS]]
// CHECK: %[[RANK:.*]] = llvm.mlir.constant(2 : i32) : i32
// CHECK-NEXT: %[[DIMENSIONS:.*]] = llvm.getelementptr %[[BUFFER]][0, 7]
// CHECK-NEXT: llvm.store %[[RANK]], %[[DIMENSIONS]]
// CHECK: %[[EXTENT0:.*]] = llvm.extractvalue %[[ROWS]][3, 1]
// CHECK-NEXT: %[[EXTENT0_32:.*]] = llvm.trunc %[[EXTENT0]] : i64 to i32
// CHECK-NEXT: %[[EXTENT0FIELD:.*]] = llvm.getelementptr %[[DIMS]][0, 1]
// CHECK-NEXT: llvm.store %[[EXTENT0_32]], %[[EXTENT0FIELD]]
// CHECK-NEXT: %[[STRIDE0:.*]] = llvm.extractvalue %[[ROWS]][4, 1]
// CHECK: %[[EXTENT1:.*]] = llvm.extractvalue %[[ROWS]][3, 0]
// CHECK-NEXT: %[[EXTENT1_32:.*]] = llvm.trunc %[[EXTENT1]] : i64 to i32
// CHECK-NEXT: %[[EXTENT1FIELD:.*]] = llvm.getelementptr %[[DIMS]][1, 1]
// CHECK-NEXT: llvm.store %[[EXTENT1_32]], %[[EXTENT1FIELD]]
// CHECK-NEXT: %[[STRIDE1:.*]] = llvm.extractvalue %[[ROWS]][4, 0]
// The weight: unsigned 16-bit, three dimensions.
// CHECK: %[[WEIGHT:.*]] = llvm.alloca %{{.*}} x !llvm.struct<(i64, ptr, ptr, i64, i8, i8, i16, i32, ptr, ptr)>
// CHECK: %[[UINT:.*]] = llvm.mlir.constant(1 : i8) : i8
// CHECK-NEXT: %[[WCODE:.*]] = llvm.getelementptr %[[WEIGHT]][0, 4]
// CHECK-NEXT: llvm.store %[[UINT]], %[[WCODE]]
// CHECK: %[[BITS16:.*]] = llvm.mlir.constant(16 : i8) : i8
// CHECK-NEXT: %[[WBITS:.*]] = llvm.getelementptr %[[WEIGHT]][0, 5]
// CHECK-NEXT: llvm.store %[[BITS16]], %[[WBITS]]
// CHECK: %[[WRANK:.*]] = llvm.mlir.constant(3 : i32) : i32
// CHECK: %[[STATUS:.*]] = llvm.call @granite_sample_[[HASH]](%[[BUFFER]], %[[WEIGHT]], %arg1) : (!llvm.ptr, !llvm.ptr, i32) -> i32
// CHECK-NEXT: llvm.intr.stackrestore %[[STACK]] : !llvm.ptr
// CHECK-NEXT: %[[ZERO:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: %[[FAILED:.*]] = llvm.icmp "ne" %[[STATUS]], %[[ZERO]] : i32
// CHECK-NEXT: llvm.cond_br %[[FAILED]], ^[[FAIL:bb[0-9]+]], ^[[NEXT:bb[0-9]+]]
// CHECK-NEXT: ^[[FAIL]]:
// CHECK-NEXT: llvm.return %[[STATUS]] : i32
// CHECK-NEXT: ^[[NEXT]]:
// CHECK: llvm.return
// CHECK: llvm.func @granite_sample_[[HASH]](!llvm.ptr, !llvm.ptr, i32) -> i32
func.func @forward(%scratch: memref<4096xi8>, %n: i32) -> i32 {
  %c0 = arith.constant 0 : index
  %rows = arith.index_cast %n : i32 to index
  %x = memref.view %scratch[%c0][%rows] : memref<4096xi8> to memref<?x8xf32>
  %part = memref.subview %x[1, 2] [2, 4] [1, 1] : memref<?x8xf32> to memref<2x4xf32, strided<[8, 1], offset: 10>>
  %c1024 = arith.constant 1024 : index
  %w = memref.view %scratch[%c1024][] : memref<4096xi8> to memref<4x3x16xi16>
  granite.kernel_call "sample" {k = 3 : i64, weight_type = #granite.format<bf16>} (%part, %w, %n)
      : memref<2x4xf32, strided<[8, 1], offset: 10>>, memref<4x3x16xi16>, i32
  %zero = arith.constant 0 : i32
  return %zero : i32
}

// -----

// Two calls of one instance declare it once; each call has its own descriptors and status check.
// CHECK: module attributes {granite.kernels = [{generator = "swiglu", name = "granite_swiglu_[[SWIGLU:[0-9a-f]+]]", params = {features = 8 : i64}}]}
// CHECK-LABEL: llvm.func @forward(
// CHECK-COUNT-2: llvm.call @granite_swiglu_[[SWIGLU]](
// CHECK: llvm.func @granite_swiglu_[[SWIGLU]](!llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-NOT: llvm.func @granite_swiglu_
func.func @forward(%a: memref<8xf32>, %b: memref<8xf32>, %c: memref<8xf32>) -> i32 {
  granite.kernel_call "swiglu" {features = 8 : i64} (%a, %b, %c) : memref<8xf32>, memref<8xf32>, memref<8xf32>
  granite.kernel_call "swiglu" {features = 8 : i64} (%c, %b, %a) : memref<8xf32>, memref<8xf32>, memref<8xf32>
  %zero = arith.constant 0 : i32
  return %zero : i32
}
