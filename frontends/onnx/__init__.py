"""The ONNX frontend: `import_onnx` (model -> IR), `check_model` (the support report), the
converter registry (`converter`, `register_domain`) and the CLI subcommands (`commands`)."""
from .check import SupportReport, check_model
from .context import NodeContext
from .importer import UnsupportedNode, import_onnx, import_onnx_with_names
from .loader import DEFAULT_MAX_TENSOR_BYTES
from .registry import MAX_OPSET, MIN_OPSET, Unsupported, converter, register_domain

__all__ = ["import_onnx", "import_onnx_with_names", "check_model", "SupportReport",
           "UnsupportedNode", "NodeContext", "converter", "register_domain", "Unsupported",
           "MIN_OPSET", "MAX_OPSET", "DEFAULT_MAX_TENSOR_BYTES"]
