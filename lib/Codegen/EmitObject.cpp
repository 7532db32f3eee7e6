#include "Codegen/EmitObject.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <ostream>

namespace granite::codegen {

namespace {

std::unique_ptr<llvm::TargetMachine> createTargetMachine(const target::CpuFamily &family, std::string &error) {
  static const bool initialized = [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    return true;
  }();
  (void)initialized;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(family.llvmTriple, error);
  if (!target) return nullptr;
  llvm::TargetOptions options; // no FP contraction: the glue code's multiply and add stay separate roundings
  return std::unique_ptr<llvm::TargetMachine>(
      target->createTargetMachine(family.llvmTriple, family.llvmCpu, family.llvmFeatures, options, llvm::Reloc::PIC_,
                                  std::nullopt, llvm::CodeGenOptLevel::Default));
}

/// Translates and optimises `module` for `machine`.
std::unique_ptr<llvm::Module> lowerToLLVMIR(mlir::ModuleOp module, llvm::TargetMachine &machine,
                                            llvm::LLVMContext &context, std::string &error) {
  mlir::registerBuiltinDialectTranslation(*module->getContext());
  mlir::registerLLVMDialectTranslation(*module->getContext());
  std::unique_ptr<llvm::Module> llvmModule = mlir::translateModuleToLLVMIR(module, context, "granite_model");
  if (!llvmModule) {
    error = "cannot translate the module to LLVM IR";
    return nullptr;
  }
  llvmModule->setTargetTriple(machine.getTargetTriple().str());
  llvmModule->setDataLayout(machine.createDataLayout());
  llvmModule->setPICLevel(llvm::PICLevel::BigPIC);
  std::string verifyErrors;
  llvm::raw_string_ostream verifyStream(verifyErrors);
  if (llvm::verifyModule(*llvmModule, &verifyStream)) {
    error = "invalid LLVM IR: " + verifyErrors;
    return nullptr;
  }

  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(&machine);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(sccs);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, sccs, modules);
  builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(*llvmModule, modules);
  return llvmModule;
}

/// Translates and optimizes `module` for `family`, then hands the LLVM module and its target machine to `use`.
bool withLLVMModule(mlir::ModuleOp module, const target::CpuFamily &family, std::string &error,
                    llvm::function_ref<bool(llvm::Module &, llvm::TargetMachine &)> use) {
  std::unique_ptr<llvm::TargetMachine> machine = createTargetMachine(family, error);
  if (!machine) return false;
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> llvmModule = lowerToLLVMIR(module, *machine, context, error);
  return llvmModule && use(*llvmModule, *machine);
}

} // namespace

bool emitLLVMIR(mlir::ModuleOp module, const target::CpuFamily &family, std::string &text, std::string &error) {
  return withLLVMModule(module, family, error, [&](llvm::Module &llvmModule, llvm::TargetMachine &) {
    llvm::raw_string_ostream stream(text);
    llvmModule.print(stream, nullptr);
    return true;
  });
}

bool emitObject(mlir::ModuleOp module, const target::CpuFamily &family, std::ostream &out, std::string &error) {
  return withLLVMModule(module, family, error, [&](llvm::Module &llvmModule, llvm::TargetMachine &machine) {
    // Into memory first (the object is small: the weights go into the payload), so that the caller's stream, not
    // LLVM, reports write errors.
    llvm::SmallVector<char, 0> object;
    llvm::raw_svector_ostream stream(object);
    llvm::legacy::PassManager passes;
    if (machine.addPassesToEmitFile(passes, stream, nullptr, llvm::CodeGenFileType::ObjectFile)) {
      error = "the target cannot emit object files";
      return false;
    }
    passes.run(llvmModule);
    out.write(object.data(), static_cast<std::streamsize>(object.size()));
    return true;
  });
}

} // namespace granite::codegen
