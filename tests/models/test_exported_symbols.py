"""Shape inference keeps the inputs' symbols through the shape computations torch's exporters
write (tests/models/data/): after the compile pipeline's cleanup no value of a text model is
typed with ONNX's placeholder names (`unk__N`), which would make its kernels check broadcasts
at run time and bind sizes from data. The TorchScript exporter's idioms that needed it:
`Where(Equal(shape, -1), ones, shape)` before Expand, Reshape(-1) of a batch x seq product."""
from __future__ import annotations

import os

import pytest

from mlir_lite.driver import load_source
from mlir_lite.ir.printer import print_module
from mlir_lite.passes.registry import run_pipeline

DATA = os.path.join(os.path.dirname(__file__), "data")
TEXT = ["bert", "distilbert", "gpt2", "llama", "t5_encoder"]


@pytest.mark.parametrize("exporter", ["ts", "dynamo"])
@pytest.mark.parametrize("model", TEXT)
def test_no_placeholder_dims_survive(model: str, exporter: str) -> None:
    path = os.path.join(DATA, f"{model}.{exporter}.onnx")
    if not os.path.exists(path):
        pytest.skip(f"{path} is not exported")
    module, _, _ = load_source(path)
    run_pipeline(module, "canonicalize,fold-constants,cse,dce,shape-inference")
    text = print_module(module)
    left = sorted({w.strip('"[],') for w in text.split() if "unk__" in w})
    assert not left, f"{model}.{exporter}: {len(left)} placeholder dims left: {left[:5]}"
