# lit configuration: FileCheck tests of granitec, granite-opt and the dialect. Run by scripts/test.
import os
import lit.formats
from lit.llvm import llvm_config

config.name = "granitec"
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt"]
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.granite_obj_root, "test")

llvm_config.use_default_substitutions()  # FileCheck, not, count from the LLVM 19 tools
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
config.substitutions.append(("%golden", config.granite_golden_dir))
tools = [t for t in ["granitec", "granite-opt", "granite-write-hf"] if os.path.exists(os.path.join(config.granite_tools_dir, t))]
llvm_config.add_tool_substitutions(tools, [config.granite_tools_dir])
