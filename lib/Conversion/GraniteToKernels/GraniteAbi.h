// The C structs that generated code shares with the runtime (GraniteModelInfo, GraniteStateRegion:
// runtime/ModelAbi.h) and with the Halide kernels (halide_buffer_t, halide_dimension_t), as LLVM dialect types
// with named fields. Every field the lowering reads or writes goes through this class; the field types and
// order are derived from the C headers and checked against their offsets at compile time (GraniteAbi.cpp).
#pragma once

#include "runtime/ModelAbi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::granite {

class GraniteAbi {
public:
  static constexpr uint32_t kVersion = GRANITE_MODEL_ABI_VERSION;
  /// Most dimensions of one kernel buffer.
  static constexpr int kMaxDims = 4;

  /// GraniteModelInfo, in declaration order.
  enum class InfoField : unsigned {
    AbiVersion,
    VocabSize,
    ContextLength,
    MaxTokens,
    StateBytes,
    ScratchBytes,
    WeightsBytes,
    Variant,
    Target,
    WeightTypes,
    BuildId,
    DefaultThreads,
    StateRegionCount,
    StateRegions,
    RequiredFeatures,
    OtherTargets,
  };
  /// GraniteStateRegion.
  enum class RegionField : unsigned { Offset, Bytes, BytesPerPosition };
  /// halide_buffer_t, with its halide_type_t flattened into TypeCode, TypeBits and TypeLanes.
  enum class BufferField : unsigned {
    Device,
    DeviceInterface,
    Host,
    Flags,
    TypeCode,
    TypeBits,
    TypeLanes,
    Dimensions,
    Dim,
    Padding,
  };
  /// halide_dimension_t.
  enum class DimField : unsigned { Min, Extent, Stride, Flags };
  /// granite_forward's parameters, in order.
  enum class ForwardArg : unsigned { Weights, State, Scratch, Ids, Count, Start, AllLogits, Logits };

  /// halide_type_t's code and bits of a kernel buffer's memref element type (see granite.kernel_call): f32 is
  /// float32, i32 int32, i16 and i8 are the unsigned storage words of weights.
  struct HalideType {
    uint8_t code, bits;
  };
  static HalideType halideType(Type element);

  explicit GraniteAbi(MLIRContext *context);

  LLVM::LLVMStructType infoType() const { return info; }
  LLVM::LLVMStructType regionType() const { return region; }
  LLVM::LLVMStructType bufferType() const { return buffer; }
  LLVM::LLVMStructType dimType() const { return dim; }

  /// The LLVM type of a field.
  Type fieldType(InfoField field) const { return info.getBody()[static_cast<unsigned>(field)]; }
  Type fieldType(RegionField field) const { return region.getBody()[static_cast<unsigned>(field)]; }
  Type fieldType(BufferField field) const { return buffer.getBody()[static_cast<unsigned>(field)]; }
  Type fieldType(DimField field) const { return dim.getBody()[static_cast<unsigned>(field)]; }

  /// `aggregate` with `field` set to `value` (llvm.insertvalue), for the constant initializers.
  Value insert(OpBuilder &b, Location loc, Value aggregate, InfoField field, Value value) const;
  Value insert(OpBuilder &b, Location loc, Value aggregate, RegionField field, Value value) const;

  /// Stores `value` into `field` of the halide_buffer_t at `address`.
  void store(OpBuilder &b, Location loc, Value address, BufferField field, Value value) const;
  /// Stores `value` into `field` of dimension `index` of the halide_dimension_t array at `dims`.
  void store(OpBuilder &b, Location loc, Value dims, int64_t index, DimField field, Value value) const;

private:
  LLVM::LLVMStructType info, region, buffer, dim;
};

} // namespace mlir::granite
