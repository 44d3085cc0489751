"""The ONNX backend API (`onnx.backend.base.Backend`) on top of mlir-lite.

    import mlir_lite.backend as backend
    rep = backend.prepare(model, "CPU")          # import once
    outs = rep.run([x])                          # a tuple of arrays, in graph-output order
    outs = backend.run_model(model, [x])
    outs = backend.run_node(node, [x, y])        # one node, opset = the newest we import

so `onnx.backend.test.BackendTest(mlir_lite.backend.MlirLiteBackend)` runs the ONNX project's
own test suite against mlir-lite. What executes the imported module is an *executor*, chosen
with `executor=`: `"interpreter"` (the reference interpreter, the default on "CPU") is built in;
`"tvm"` compiles the module at -O2 with TVM (`mlir_lite.backends.tvm`, loaded on first use) for
this CPU or, on device "CUDA", for the GPU. Other compiled paths register themselves with
`register_executor(name, executor)` (the driver's registry, mlir_lite/driver/executors.py).
"CUDA" is supported only where TVM finds a CUDA device; it runs the "tvm" executor by default.
Every executor compiles through `mlir_lite.driver.compile`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
from onnx import ModelProto, NodeProto, helper
from onnx.backend.base import Backend, BackendRep, namedtupledict

from mlir_lite.errors import ExecutionError
from mlir_lite.ir.dialects.builtin import ModuleOp

from .compile import CompileOptions, compile
from .executors import EXECUTORS, executor_devices, get_executor, register_executor

__all__ = ["MlirLiteBackend", "MlirLiteRep", "prepare", "run_model", "run_node",
           "supports_device", "register_executor", "EXECUTORS", "DEFAULT_EXECUTOR"]
# register_executor and EXECUTORS are the driver's registry (executors.py), re-exported here

DEVICES = ("CPU", "CUDA")
DEFAULT_EXECUTOR = "interpreter"
DEFAULT_EXECUTOR_OF: Dict[str, str] = {"CPU": DEFAULT_EXECUTOR, "CUDA": "tvm"}


def _cuda_present() -> bool:
    """Whether TVM (loaded only for this question) finds a CUDA device."""
    try:
        import tvm
        return bool(tvm.cuda(0).exist)
    except Exception:  # noqa: BLE001 - no TVM or no CUDA runtime: no device
        return False


class MlirLiteRep(BackendRep):
    """A prepared model: the imported module and the executor that runs it."""

    def __init__(self, module: ModuleOp, input_names: Sequence[str],
                 output_names: Sequence[str], fn: Callable[..., List[np.ndarray]],
                 executor: str) -> None:
        self.module = module
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.executor = executor
        self._fn = fn

    def run(self, inputs: Any, **kwargs: Any) -> Tuple[Any, ...]:
        """Run on `inputs`: a sequence in the order of the graph inputs that are not
        initializers, a mapping by name, or a single array for a one-input model."""
        arrays = self._order(inputs)
        outs = self._fn(*arrays)
        return namedtupledict("Outputs", self.output_names)(*outs)

    def _order(self, inputs: Any) -> List[np.ndarray]:
        names = self.input_names
        if isinstance(inputs, Mapping):
            missing = [n for n in names if n not in inputs]
            extra = sorted(set(inputs) - set(names))
            if missing or extra:
                raise ExecutionError(f"inputs by name: missing {missing}, unknown {extra} "
                                     f"(the model takes {names})")
            items = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)):
            items = list(inputs)
        else:
            items = [inputs]
        if len(items) != len(names):
            raise ExecutionError(f"the model takes {len(names)} inputs {names}, got "
                                 f"{len(items)}")
        return [x if isinstance(x, np.ndarray) else np.asarray(x) for x in items]


class MlirLiteBackend(Backend):
    """`onnx.backend.base.Backend` for mlir-lite (device CPU)."""

    @classmethod
    def is_compatible(cls, model: ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: Union[ModelProto, bytes, str], device: str = "CPU",
                executor: Optional[str] = None, opt_level: Optional[int] = None,
                **kwargs: Any) -> MlirLiteRep:
        """Import `model` (a ModelProto, bytes or path) and make it runnable. Import errors are
        raised as they are (`UnsupportedOpError` lists every unsupported node). `executor`
        defaults to "interpreter" on "CPU" and "tvm" on "CUDA" (any name registered with
        `mlir_lite.driver.register_executor`); `opt_level` defaults to 0 for the interpreter
        and 2 for compiled paths. Other keyword arguments go to `import_onnx` (e.g.
        `max_tensor_bytes`)."""
        if not cls.supports_device(device):
            raise ValueError(f"mlir-lite backend: device {device!r} is not supported here "
                             f"(known: {', '.join(DEVICES)}; CUDA needs a CUDA device)")
        dev = _device_kind(device)
        executor = executor or DEFAULT_EXECUTOR_OF[dev]
        if executor not in EXECUTORS:
            raise ValueError(f"mlir-lite backend: unknown executor {executor!r} (registered: "
                             f"{', '.join(sorted(EXECUTORS))})")
        if dev not in executor_devices(executor):
            raise ValueError(f"mlir-lite backend: executor {executor!r} does not run on {dev}")
        from mlir_lite.frontends.onnx import import_onnx_with_names
        opts = {k: v for k, v in kwargs.items() if k in ("max_tensor_bytes", "verify")}
        module, ins, outs = import_onnx_with_names(model, **opts)
        # the interpreter, the reference, runs the model as imported; compiled paths at -O2
        level = opt_level if opt_level is not None else 0 if executor == "interpreter" else 2
        fn = compile(module, CompileOptions(target=get_executor(executor, dev),
                                            opt_level=level))
        return MlirLiteRep(fn.module, ins, outs, fn, executor)

    @classmethod
    def run_model(cls, model: ModelProto, inputs: Any, device: str = "CPU",
                  **kwargs: Any) -> Tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Optional[Sequence[Tuple[Any, Tuple[int, ...]]]] = None,
                 **kwargs: Any) -> Tuple[Any, ...]:
        """Run one node on `inputs` (a sequence in the order of the node's non-empty inputs,
        or a mapping by name). `opset_version` picks the default-domain opset (the newest by
        default); `outputs_info` gives (dtype, shape) per output when inference cannot."""
        opset = int(kwargs.pop("opset_version", onnx.defs.onnx_opset_version()))
        names = [x for x in node.input if x]
        if isinstance(inputs, Mapping):
            arrays = [np.asarray(inputs[n]) for n in names]
        else:
            arrays = [np.asarray(x) for x in (inputs if isinstance(inputs, (list, tuple))
                                               else [inputs])]
        if len(arrays) != len(names):
            raise ExecutionError(f"node {node.op_type} has {len(names)} inputs, got "
                                 f"{len(arrays)}")
        in_vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype),
                                                a.shape) for n, a in zip(names, arrays)]
        outs = [x for x in node.output if x]
        out_vis = []
        for i, n in enumerate(outs):
            if outputs_info is not None and i < len(outputs_info):
                dt, shape = outputs_info[i]
                out_vis.append(helper.make_tensor_value_info(
                    n, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape))
            else:
                out_vis.append(helper.make_empty_tensor_value_info(n))
        graph = helper.make_graph([node], f"{node.op_type}_node", in_vis, out_vis)
        opsets = [helper.make_opsetid("", opset)]
        if node.domain not in ("", "ai.onnx"):
            opsets.append(helper.make_opsetid(node.domain, 1))
        model = helper.make_model(graph, opset_imports=opsets)
        if outputs_info is None:
            model = _typed_outputs(model)
        rep = cls.prepare(model, device, **kwargs)
        return rep.run(arrays)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        """"CPU" always; "CUDA" only where a CUDA device is present (asks TVM)."""
        dev = _device_kind(device)
        return dev == "CPU" or (dev == "CUDA" and _cuda_present())


def _device_kind(device: str) -> str:
    return str(device).upper().split(":")[0]


def _typed_outputs(model: ModelProto) -> ModelProto:
    """Fill untyped graph outputs with the types ONNX shape inference gives them."""
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)
             if vi.type.WhichOneof("value") is not None}
    for vi in model.graph.output:
        if vi.type.WhichOneof("value") is None and vi.name in known:
            vi.type.CopyFrom(known[vi.name].type)
    return model


prepare = MlirLiteBackend.prepare
run_model = MlirLiteBackend.run_model
run_node = MlirLiteBackend.run_node
supports_device = MlirLiteBackend.supports_device
