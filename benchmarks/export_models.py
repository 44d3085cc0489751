"""Export the real-model set: torchvision and Hugging Face transformers architectures with random
weights (small configurations), each with both of torch's ONNX exporters and dynamic axes.

    python benchmarks/export_models.py OUT_DIR [--models bert,resnet18] [--static] [--json]

For every model and exporter it writes `OUT_DIR/{model}.{exporter}.onnx` (exporter `ts`: the
TorchScript exporter, `torch.onnx.export(..., dynamo=False)`; `dynamo`: `dynamo=True`), with a
dynamic batch axis (vision) or dynamic batch and sequence axes (text, the LSTM tagger), and
`OUT_DIR/manifest.json`: per model its inputs (name, dtype, dims with the symbolic ones named,
value range for integer inputs), and per exporter the file or the reason the export failed.
`--static` also writes `{model}.{exporter}.static.onnx`, the same model exported with every
axis fixed at the example's sizes (for benchmarks/dynamic_models.py's compile-time ratio).

Weights come from `torch.manual_seed(0)` per model, so runs give the same weights. The files
are small (hidden sizes 64-128, 1-2 layers, 32x32 images) so that compiling and checking all of
them stays quick; tests/models/data/ holds the checked-in copies (tests/models/
test_real_models.py), which this script regenerates:

    python benchmarks/export_models.py tests/models/data

Needs the `models` extra (`pip install -e ".[models]"`: torch, torchvision, transformers,
onnxscript); nothing else in the project imports them.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXPORTERS = ("ts", "dynamo")
OPSET = 18


@dataclass
class Input:
    """One model input: dims are ints or names of dynamic axes; `high` bounds integer values."""

    name: str
    dtype: str
    dims: List[Any]
    high: int = 0


@dataclass
class Spec:
    name: str
    build: Callable[[], Any]            # the torch module (eval mode, seeded)
    inputs: List[Input]
    outputs: List[str]
    example: Dict[str, int]             # sizes of the dynamic axes in the export example
    note: str = ""
    sizes: List[Dict[str, int]] = field(default_factory=list)  # sizes the tests run
    bench_only: bool = False            # not in the default set (benchmarks/dynamic_models.py)


# ---------------------------------------------------------------------------------------------
# the models


def _seeded(fn: Callable[[], Any], vision: bool = False) -> Callable[[], Any]:
    def build() -> Any:
        import torch
        torch.manual_seed(0)
        m = fn()
        if vision:
            _rescale_vision(m)
        _randomize_norms(m)
        return m.eval()
    return build


def _rescale_vision(m: Any) -> None:
    """Weights that keep activations of order one through the network: torchvision's own
    initialisations zero some tensors (ViT's classifier head and class token) and shrink others
    (MobileNet's classifier), which would leave outputs constant or tiny, and a comparison at
    atol 1e-4 without meaning."""
    import torch
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)
                if mod.bias is not None:
                    mod.bias.uniform_(-0.1, 0.1)
        for p in m.parameters():
            if p.dim() and not p.any():
                p.normal_(0.0, 0.5)


def _randomize_norms(m: Any) -> None:
    """BatchNorm running statistics and affine parameters away from their (0, 1) defaults, so
    that folding them is exercised with values that matter."""
    import torch
    g = torch.Generator().manual_seed(1)
    for mod in m.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            n = mod.num_features
            with torch.no_grad():
                mod.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                mod.bias.copy_(torch.randn(n, generator=g) * 0.1)


def _slim_resnet18(widths: Tuple[int, ...] = (16, 32, 48, 64), num_classes: int = 10) -> Any:
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]) with stage widths `widths` (torchvision:
    64, 128, 256, 512)."""
    import torch.nn as nn
    from torchvision.models.resnet import BasicBlock, ResNet

    class SlimResNet(ResNet):
        def __init__(self) -> None:
            nn.Module.__init__(self)
            self._norm_layer = nn.BatchNorm2d
            self.inplanes = widths[0]
            self.dilation = 1
            self.groups = 1
            self.base_width = 64
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(BasicBlock, widths[0], 2)
            self.layer2 = self._make_layer(BasicBlock, widths[1], 2, stride=2)
            self.layer3 = self._make_layer(BasicBlock, widths[2], 2, stride=2)
            self.layer4 = self._make_layer(BasicBlock, widths[3], 2, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(widths[3] * BasicBlock.expansion, num_classes)

    return SlimResNet()


def resnet18() -> Any:
    return _slim_resnet18()


def mobilenet_v3_small() -> Any:
    from torchvision.models import mobilenet_v3_small as mnv3
    return mnv3(weights=None, width_mult=0.35, num_classes=10)


def vit() -> Any:
    from torchvision.models.vision_transformer import VisionTransformer
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
                             hidden_dim=64, mlp_dim=128, num_classes=10)


def deeplabv3() -> Any:
    """DeepLabV3 (torchvision's DeepLabV3 + ASPP: atrous convolutions, a pooled branch upsampled
    bilinearly from 1x1, the logits upsampled bilinearly to the input size) on the slim ResNet."""
    import torch.nn as nn
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabV3
    backbone = IntermediateLayerGetter(_slim_resnet18((8, 16, 24, 32)),
                                       return_layers={"layer4": "out"})
    head = nn.Sequential(ASPP(32, [2, 4, 6], out_channels=32),
                         nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                         nn.ReLU(), nn.Conv2d(32, 5, 1))

    class Seg(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = DeepLabV3(backbone, head)

        def forward(self, x: Any) -> Any:
            return self.m(x)["out"]

    return Seg()


def _hf(model_cls: Any, config: Any, with_mask: bool = True) -> Any:
    """A transformers model whose forward takes the named tensors and returns the first output
    (last_hidden_state) only."""
    import torch.nn as nn

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model_cls(config)

        def forward(self, input_ids: Any, attention_mask: Any = None) -> Any:
            if with_mask:
                out = self.m(input_ids=input_ids, attention_mask=attention_mask)
            else:
                out = self.m(input_ids=input_ids)
            return out[0]

    return Wrapped()


VOCAB = 256


def bert() -> Any:
    from transformers import BertConfig, BertModel
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=128, max_position_embeddings=512,
                     attn_implementation="eager")
    return _hf(BertModel, cfg)


def bert_bench() -> Any:
    """The benchmarks' BERT-style encoder: the golden suite's sizes (hidden 256, 4 heads,
    FFN 1024, 2 layers), 512 positions."""
    from transformers import BertConfig, BertModel
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=256, num_hidden_layers=2,
                     num_attention_heads=4, intermediate_size=1024, max_position_embeddings=512,
                     attn_implementation="eager")
    return _hf(BertModel, cfg)


def distilbert() -> Any:
    from transformers import DistilBertConfig, DistilBertModel
    cfg = DistilBertConfig(vocab_size=VOCAB, dim=64, n_layers=2, n_heads=4, hidden_dim=128,
                           max_position_embeddings=512, attn_implementation="eager")
    return _hf(DistilBertModel, cfg)


def gpt2() -> Any:
    from transformers import GPT2Config, GPT2Model
    cfg = GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=512,
                     use_cache=False, attn_implementation="eager")
    return _hf(GPT2Model, cfg)


def llama() -> Any:
    from transformers import LlamaConfig, LlamaModel
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, use_cache=False,
                      attn_implementation="eager")
    return _hf(LlamaModel, cfg)


def t5_encoder() -> Any:
    from transformers import T5Config, T5EncoderModel
    cfg = T5Config(vocab_size=VOCAB, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                   use_cache=False, attn_implementation="eager")
    return _hf(T5EncoderModel, cfg)


def lstm_tagger() -> Any:
    """Embedding, a 2-layer bidirectional LSTM (batch first), a linear tag classifier."""
    import torch.nn as nn

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(VOCAB, 32)
            self.lstm = nn.LSTM(32, 48, num_layers=2, batch_first=True, bidirectional=True)
            self.out = nn.Linear(96, 12)

        def forward(self, input_ids: Any) -> Any:
            h, _ = self.lstm(self.emb(input_ids))
            return self.out(h).log_softmax(-1)

    return Tagger()


def _image(size: int = 32) -> List[Input]:
    return [Input("pixel_values", "float32", ["batch", 3, size, size])]


def _text(mask: bool = True) -> List[Input]:
    ins = [Input("input_ids", "int64", ["batch", "seq"], high=VOCAB)]
    if mask:
        ins.append(Input("attention_mask", "int64", ["batch", "seq"], high=2))
    return ins


VISION_SIZES = [{"batch": 1}, {"batch": 3}]
TEXT_SIZES = [{"batch": 1, "seq": 8}, {"batch": 3, "seq": 37}]

SPECS: Dict[str, Spec] = {s.name: s for s in [
    Spec("resnet18", _seeded(resnet18, vision=True), _image(), ["logits"], {"batch": 2},
         "ResNet-18 layout, widths 16-64, 32x32 images", VISION_SIZES),
    Spec("mobilenet_v3_small", _seeded(mobilenet_v3_small, vision=True), _image(), ["logits"],
         {"batch": 2}, "width_mult 0.35, 32x32 images", VISION_SIZES),
    Spec("vit", _seeded(vit, vision=True), _image(), ["logits"], {"batch": 2},
         "VisionTransformer patch 8, hidden 64, 2 layers (class-token expand)", VISION_SIZES),
    Spec("deeplabv3", _seeded(deeplabv3, vision=True), _image(96), ["out"], {"batch": 2},
         "DeepLabV3 + ASPP on a ResNet-18 of widths 8-32, 96x96 images (bilinear upsampling "
         "from 3x3 and from 1x1)", VISION_SIZES),
    Spec("bert", _seeded(bert), _text(), ["last_hidden_state"], {"batch": 2, "seq": 16},
         "BertModel hidden 64, 2 layers, 4 heads", TEXT_SIZES),
    Spec("bert_bench", _seeded(bert_bench), _text(), ["last_hidden_state"],
         {"batch": 2, "seq": 16}, "BertModel hidden 256, 2 layers, 4 heads, FFN 1024 (not in "
         "the test set)", [{"batch": 1, "seq": n} for n in (8, 64, 128, 512)], bench_only=True),
    Spec("distilbert", _seeded(distilbert), _text(), ["last_hidden_state"],
         {"batch": 2, "seq": 16}, "DistilBertModel dim 64, 2 layers", TEXT_SIZES),
    Spec("gpt2", _seeded(gpt2), _text(), ["last_hidden_state"], {"batch": 2, "seq": 16},
         "GPT2Model n_embd 64, 2 layers (causal mask)", TEXT_SIZES),
    Spec("llama", _seeded(llama), _text(), ["last_hidden_state"], {"batch": 2, "seq": 16},
         "LlamaModel hidden 64, 2 layers, GQA 4/2 heads, RoPE", TEXT_SIZES),
    Spec("t5_encoder", _seeded(t5_encoder), _text(), ["last_hidden_state"],
         {"batch": 2, "seq": 16}, "T5EncoderModel d_model 64, 2 layers (relative position "
         "buckets)", TEXT_SIZES),
    Spec("lstm_tagger", _seeded(lstm_tagger), _text(mask=False), ["log_probs"],
         {"batch": 2, "seq": 16}, "Embedding + 2-layer bidirectional LSTM + Linear",
         TEXT_SIZES),
]}


DEFAULT = [n for n, s in SPECS.items() if not s.bench_only]


# ---------------------------------------------------------------------------------------------
# inputs and export


def _torch_args(spec: Spec, sizes: Dict[str, int]) -> Tuple[Any, ...]:
    import torch

    from tests.models.real_models import make_feed
    feed = make_feed([vars(i) for i in spec.inputs], sizes)
    return tuple(torch.from_numpy(feed[i.name]) for i in spec.inputs)


def export(spec: Spec, exporter: str, path: str, static: bool = False) -> None:
    """Export `spec` with `exporter` ("ts" or "dynamo") to `path`; raises on failure."""
    import torch
    model = spec.build()
    args = _torch_args(spec, spec.example)
    names = [i.name for i in spec.inputs]
    axes = {i.name: {k: d for k, d in enumerate(i.dims) if isinstance(d, str)}
            for i in spec.inputs}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if exporter == "ts":
            torch.onnx.export(model, args, path, dynamo=False, opset_version=OPSET,
                              input_names=names, output_names=spec.outputs,
                              dynamic_axes=None if static else axes, do_constant_folding=True)
        else:
            shapes = None
            if not static:
                dims = {a: torch.export.Dim(a, min=1, max=512 if a == "seq" else 64)
                        for a in spec.example}
                # by position: torch.export names the arguments after forward's parameters
                shapes = tuple({k: dims[a] for k, a in axes[n].items()} for n in names)
            prog = torch.onnx.export(model, args, dynamo=True, opset_version=OPSET,
                                     input_names=names, output_names=spec.outputs,
                                     dynamic_shapes=shapes, external_data=False,
                                     report=False, verbose=False)
            prog.save(path, external_data=False)
    _check(spec, path, static)


def _check(spec: Spec, path: str, static: bool) -> None:
    """The exported graph's inputs are the spec's, with the dynamic axes symbolic."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    got = [i.name for i in m.graph.input if i.name not in {t.name for t in m.graph.initializer}]
    want = [i.name for i in spec.inputs]
    if got != want:
        raise RuntimeError(f"exported inputs {got}, expected {want}")
    if static:
        return
    for inp, vi in zip(spec.inputs, m.graph.input):
        dims = vi.type.tensor_type.shape.dim
        for k, d in enumerate(inp.dims):
            if isinstance(d, str) and dims[k].HasField("dim_value"):
                raise RuntimeError(f"{inp.name} dim {k} ({d}) was exported static "
                                   f"({dims[k].dim_value})")


def _reason(e: Exception) -> str:
    """The first line of what went wrong (for the exporter's wrapped errors, the cause's)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    lines = text.splitlines() or [""]
    name = type(e).__name__
    if "## Exception summary" in lines:
        rest = [ln for ln in lines[lines.index("## Exception summary") + 1:] if ln.strip()]
        if rest:
            lines, name = rest, "cause"
    return f"{name}: {lines[0][:400]}"


def export_all(out_dir: str, names: List[str], static: bool = False,
               stream: Any = sys.stderr) -> Dict[str, Any]:
    """Export `names` with both exporters into `out_dir`; write and return the manifest."""
    import onnx
    import torch
    import torchvision
    import transformers
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, "manifest.json")
    manifest: Dict[str, Any] = {"models": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                            "transformers": transformers.__version__,
                            "onnx": onnx.__version__, "opset": OPSET}
    for name in names:
        spec = SPECS[name]
        entry: Dict[str, Any] = {"note": spec.note, "inputs": [vars(i) for i in spec.inputs],
                                 "outputs": spec.outputs, "example": spec.example,
                                 "sizes": spec.sizes, "exports": {}}
        for exporter in EXPORTERS:
            for is_static in ((False, True) if static else (False,)):
                suffix = ".static.onnx" if is_static else ".onnx"
                fname = f"{name}.{exporter}{suffix}"
                path = os.path.join(out_dir, fname)
                key = exporter + (".static" if is_static else "")
                t0 = time.perf_counter()
                try:
                    export(spec, exporter, path, static=is_static)
                except Exception as e:  # recorded in the manifest: the other exporter goes on
                    if os.path.exists(path):
                        os.remove(path)
                    msg = _reason(e)
                    entry["exports"][key] = {"error": msg}
                    print(f"  {fname}: FAILED {msg}", file=stream)
                    continue
                size = os.path.getsize(path)
                entry["exports"][key] = {"file": fname, "bytes": size}
                print(f"  {fname}: {size / 1e6:.2f} MB in {time.perf_counter() - t0:.1f} s",
                      file=stream)
        manifest["models"][name] = entry
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    return manifest


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--models", default=",".join(DEFAULT),
                    help=f"comma-separated subset of: {', '.join(SPECS)} (default: all but "
                    "bert_bench)")
    ap.add_argument("--static", action="store_true",
                    help="also export every model with static shapes (*.static.onnx)")
    ap.add_argument("--json", action="store_true", help="print the manifest")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}")
    manifest = export_all(args.out_dir, names, static=args.static)
    if args.json:
        print(json.dumps(manifest, indent=1, sort_keys=True))
    failed = [f"{n}.{e}" for n, m in manifest["models"].items()
              for e, r in m["exports"].items() if "error" in r]
    if failed:
        print(f"export failed for: {', '.join(failed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
