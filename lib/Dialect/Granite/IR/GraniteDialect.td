#ifndef GRANITE_DIALECT_TD
#define GRANITE_DIALECT_TD

include "mlir/IR/OpBase.td"

def Granite_Dialect : Dialect {
  let name = "granite";
  let cppNamespace = "::mlir::granite";
  let summary = "Model-level IR of IBM Granite 4.0 language models";
  let description = [{
    One op per step of the Granite 4.0 forward pass (spec §2): embedding, RMSNorm, linear, RoPE, GQA attention,
    the parts of the Mamba2 mixer, SwiGLU, MoE routing and experts, scaled residual adds and logits.
    Activations are `tensor<?xWxf32>` with the token dimension first and dynamic. Weights are symbols that
    name tensors in the model files; the recurrent state (KV cache, conv and SSM state) are buffers of the
    types below, updated in place by the ops that take them. See docs/dialect.md.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

class Granite_Op<string mnemonic, list<Trait> traits = []> : Op<Granite_Dialect, mnemonic, traits>;

#endif // GRANITE_DIALECT_TD
