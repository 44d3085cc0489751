"""The one list of the DSL's ops: every op-shaped name of every DSL surface, in `TABLE`.

Surfaces (`SURFACES`), and the module that builds each from this table:

    tf      the symbolic namespace (`mlir_lite.dsl`, ops.py)          `tf.add`, `tf.reduce_sum`
    nn      `tf.nn` (nn.py)                                          `tf.nn.relu`, `tf.nn.conv2d`
    math    `tf.math` (symbolic.py): the tf / nn functions again     `tf.math.exp`
    graph   operators of the symbolic `Tensor` (graph.py; ops.py)    `x + y`, `x[0]`
    torch   the eager functions (functional.py, `from mlir_lite.dsl import eager as F`)
    tensor  methods and operators of the eager `Tensor` (eager.py; functional.py)

Each row (`OpDef`) names the `ml` op it records (`op`), how its operands and attributes map
(`kind`, `args`, `attrs`, `fixed`), and its names on each surface; `()` means "not on that
surface". `unary` and `binary` rows are generated on every surface that lists them (functions
with proper names, signatures and docstrings; methods that forward to the surface's function).
A surface in `custom` has a hand-written wrapper instead (TF's `axis`/`keep_dims` against
torch's `dim`/`keepdim`, matmul's transpose flags, NHWC convolutions, composite losses): the
module must define it under the row's first name for that surface, and `populate` / `attach`
check that, so every surface stays what this table says (tests/dsl/test_op_table.py).

Adding an elementwise op to every surface (`tf.X`, `F.X`, `Tensor.X`) is one row, e.g.

    unary("atan"),              # tf.atan(x, name=None), F.atan(x), Tensor.atan() on ml.atan
    binary("mod", "ml.mod"),    # when the DSL name and the ml op differ

(`tf=()`, `torch=()`, `tensor=()`, `nn=(...)`, `math=(...)`, `graph=(...)` pick the surfaces.)

Methods: a reflected operator (`__radd__`) calls the function with the operands swapped, an
in-place one (`__iadd__`) calls it and stores the result through `Tensor._inplace`, any other
name calls it with `self` first.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import (
                    TYPE_CHECKING,
                    Any,
                    Callable,
                    Dict,
                    FrozenSet,
                    List,
                    Mapping,
                    MutableMapping,
                    Optional,
                    Tuple,
                    Union,
)

__all__ = ["SURFACES", "FUNCTION_SURFACES", "METHOD_SURFACES", "Attr", "OpDef", "TABLE",
           "BY_NAME", "unary", "binary", "custom", "entries", "names", "populate", "attach",
           "attr_values", "operand_names", "signature", "default_doc", "BINARY_OPERATORS",
           "UNARY_OPERATORS", "OperatorStubs"]

SURFACES = ("tf", "nn", "math", "graph", "torch", "tensor")
FUNCTION_SURFACES = ("tf", "nn", "torch")
METHOD_SURFACES = ("graph", "tensor")

# Python's binary operators: `__X__`, its reflected `__rX__` and in-place `__iX__` forms
BINARY_OPERATORS = ("add", "sub", "mul", "truediv", "pow", "matmul", "lt", "le", "gt", "ge")
UNARY_OPERATORS = ("__neg__", "__abs__")
_ARITHMETIC = ("add", "sub", "mul", "truediv", "pow", "matmul")  # the ones with __rX__, __iX__
_REFLECTED = {f"__r{n}__" for n in _ARITHMETIC}
_INPLACE = {f"__i{n}__" for n in _ARITHMETIC}
_FORWARD = {f"__{n}__" for n in BINARY_OPERATORS}

REQUIRED = inspect.Parameter.empty


def _ints(v: Any) -> Tuple[int, ...]:
    return tuple(int(d) for d in v)


@dataclass(frozen=True)
class Attr:
    """A parameter of a generated function that becomes attribute `attr` of the op:
    `convert(value)`; with `default=None`, leaving it out leaves the attribute out."""
    param: str
    attr: str
    default: Any = REQUIRED
    convert: Callable[[Any], Any] = int


@dataclass(frozen=True)
class OpDef:
    """One op of the DSL: the `ml` op(s) it records and its names on each surface."""
    name: str                                 # the row's key (unique)
    op: Union[str, Tuple[str, ...]]           # the ml op; composites list every op they record
    kind: str = "custom"                      # "unary" | "binary" | "reduction" | "custom"
    tf: Tuple[str, ...] = ()
    nn: Tuple[str, ...] = ()
    math: Tuple[str, ...] = ()
    graph: Tuple[str, ...] = ()
    torch: Tuple[str, ...] = ()
    tensor: Tuple[str, ...] = ()
    args: Tuple[str, ...] = ()                # symbolic operand parameters (default x / x, y)
    torch_args: Tuple[str, ...] = ()          # eager operand parameters (default x / a, b)
    attrs: Tuple[Attr, ...] = ()              # attribute parameters (generated surfaces)
    fixed: Mapping[str, Any] = field(default_factory=dict)  # attributes always set
    custom: FrozenSet[str] = frozenset()      # surfaces with a hand-written wrapper
    doc: str = ""

    @property
    def ops(self) -> Tuple[str, ...]:
        return (self.op,) if isinstance(self.op, str) else tuple(self.op)

    def names(self, surface: str) -> Tuple[str, ...]:
        if surface not in SURFACES:
            raise KeyError(f"unknown DSL surface {surface!r} (one of {SURFACES})")
        return getattr(self, surface)


_DEFAULT: Any = object()


def _row(kind: str, name: str, op: Optional[Union[str, Tuple[str, ...]]], tf: Any, torch: Any,
         tensor: Any, custom: Any, **kw: Any) -> OpDef:
    dflt = (name,) if kind != "custom" else ()
    tf = dflt if tf is _DEFAULT else tf
    torch = dflt if torch is _DEFAULT else torch
    tensor = dflt if tensor is _DEFAULT else tensor
    d = OpDef(name=name, op=op or f"ml.{name}", kind=kind, tf=tuple(tf), torch=tuple(torch),
              tensor=tuple(tensor), **kw)
    if custom is _DEFAULT:  # a custom row is hand-written on each function surface it names
        custom = [s for s in FUNCTION_SURFACES if d.names(s)] if kind == "custom" else ()
    return replace(d, custom=frozenset(custom))


def unary(name: str, op: Optional[str] = None, *, tf: Any = _DEFAULT, torch: Any = _DEFAULT,
          tensor: Any = _DEFAULT, custom: Any = _DEFAULT, **kw: Any) -> OpDef:
    """An op of one operand: `tf.name(x, name=None)`, `F.name(x)`, `Tensor.name()` unless
    told otherwise; `op` defaults to `ml.<name>`."""
    return _row("unary", name, op, tf, torch, tensor, custom, **kw)


def binary(name: str, op: Optional[str] = None, *, tf: Any = _DEFAULT, torch: Any = _DEFAULT,
           tensor: Any = _DEFAULT, custom: Any = _DEFAULT, **kw: Any) -> OpDef:
    """An elementwise op of two broadcasting operands (Python scalars take the other operand's
    dtype): `tf.name(x, y, name=None)`, `F.name(a, b)`, `Tensor.name(o)` unless told otherwise."""
    return _row("binary", name, op, tf, torch, tensor, custom, **kw)


def reduction(name: str, op: Optional[str] = None, *, tf: Any = (), torch: Any = (),
              tensor: Any = (), **kw: Any) -> OpDef:
    """A `reduce_*` op: `tf.X(input_tensor, axis=None, keepdims=None, name=None,
    reduction_indices=None, keep_dims=None)` and `F.X(x, dim=None, keepdim=False)` /
    `Tensor.X(dim=None, keepdim=False)`, generated by each DSL's reduction factory."""
    return _row("reduction", name, op, tf, torch, tensor, _DEFAULT, **kw)


def custom(name: str, op: Union[str, Tuple[str, ...]], *, tf: Any = (), torch: Any = (),
           tensor: Any = (), custom: Any = _DEFAULT, **kw: Any) -> OpDef:
    """An op whose functions are hand-written (methods still forward to them unless `custom`
    names "tensor" / "graph" too)."""
    return _row("custom", name, op, tf, torch, tensor, custom, **kw)


TABLE: Tuple[OpDef, ...] = (
    # -- elementwise, one operand --------------------------------------------------------------
    unary("exp", math=("exp",)),
    unary("log", math=("log",)),
    unary("log1p", math=("log1p",)),
    unary("sqrt", math=("sqrt",)),
    unary("rsqrt", torch=(), tensor=(), math=("rsqrt",)),
    unary("abs", math=("abs",), graph=("__abs__",)),
    unary("sign", torch=(), tensor=()),
    unary("tanh", nn=("tanh",), math=("tanh",)),
    unary("sigmoid", nn=("sigmoid",), math=("sigmoid",)),
    unary("relu", nn=("relu",)),
    unary("floor", torch=(), tensor=()),
    unary("ceil", torch=(), tensor=()),
    unary("reciprocal", torch=(), tensor=(), math=("reciprocal",)),
    unary("sin", torch=(), tensor=()),
    unary("cos", torch=(), tensor=()),
    unary("erf", torch=(), tensor=()),
    unary("identity", torch=(), tensor=("clone",)),
    unary("logical_not", "ml.not", torch=(), tensor=()),
    unary("negative", "ml.neg", tf=("negative", "neg"), torch=("neg",), tensor=("__neg__",),
          graph=("__neg__",), math=("negative",)),
    unary("elu", tf=(), nn=("elu",), torch=(), tensor=(), args=("features",)),
    unary("softplus", tf=(), nn=("softplus",), torch=(), tensor=(), args=("features",)),
    unary("leaky_relu", tf=(), nn=("leaky_relu",), torch=(), tensor=(), args=("features",),
          attrs=(Attr("alpha", "alpha", 0.2, float),)),
    # tf.nn.softmax(logits, axis=-1, dim=None) is hand-written; F.softmax(x, dim=-1) is not
    unary("softmax", tf=(), nn=("softmax",), math=("softmax",), custom={"nn"},
          attrs=(Attr("dim", "axis", -1),)),
    unary("log_softmax", tf=(), nn=("log_softmax",), math=("log_softmax",), custom={"nn"},
          attrs=(Attr("dim", "axis", -1),)),
    # -- elementwise, two operands -------------------------------------------------------------
    binary("add", math=("add",), tensor=("__add__", "__radd__", "__iadd__"),
           graph=("__add__", "__radd__")),
    binary("subtract", "ml.sub", tf=("subtract", "sub"), torch=("sub",), math=("subtract",),
           tensor=("__sub__", "__rsub__", "__isub__"), graph=("__sub__", "__rsub__")),
    binary("multiply", "ml.mul", tf=("multiply", "mul"), torch=("mul",), math=("multiply",),
           tensor=("__mul__", "__rmul__", "__imul__"), graph=("__mul__", "__rmul__")),
    binary("divide", "ml.div", tf=("divide", "truediv", "div"), torch=("div",),
           math=("divide",), tensor=("__truediv__", "__rtruediv__", "__itruediv__"),
           graph=("__truediv__", "__rtruediv__")),
    binary("pow", math=("pow",), tensor=("__pow__",), graph=("__pow__", "__rpow__")),
    binary("maximum", "ml.max", math=("maximum",), tensor=()),
    binary("minimum", "ml.min", math=("minimum",), tensor=()),
    # comparisons: no F.less etc. (the eager Tensor has the operators)
    binary("equal", math=("equal",), tensor=("eq",), torch=()),
    binary("less", tensor=("__lt__",), graph=("__lt__",), torch=()),
    binary("less_equal", tensor=("__le__",), graph=("__le__",), torch=()),
    binary("greater", tensor=("__gt__",), graph=("__gt__",), torch=()),
    binary("greater_equal", tensor=("__ge__",), graph=("__ge__",), torch=()),
    binary("logical_and", torch=(), tensor=()),
    binary("logical_or", torch=(), tensor=()),
    # tf.matmul has transpose_a / transpose_b; F.matmul(a, b) is the plain binary op
    binary("matmul", custom={"tf"}, tensor=("matmul", "__matmul__", "__rmatmul__"),
           graph=("__matmul__", "__rmatmul__")),
    custom("not_equal", ("ml.equal", "ml.not"), tf=("not_equal",)),
    custom("add_n", "ml.sum", tf=("add_n",)),
    custom("square", "ml.mul", tf=("square",), math=("square",)),
    custom("where", "ml.where", tf=("where",), torch=("where",)),
    custom("cast", "ml.cast", tf=("cast",), torch=("cast",), tensor=("float", "long", "to"),
           custom={"tf", "torch", "tensor"}),
    # -- shapes --------------------------------------------------------------------------------
    unary("reshape", tf=("reshape",), torch=("reshape",), tensor=("reshape", "view"),
          args=("tensor",), attrs=(Attr("shape", "shape", convert=_ints),),
          fixed={"allowzero": 1}, custom={"tensor"},
          doc="Reshape; one dim may be -1 (inferred). 0 means a dim of size 0, as in "
              "TensorFlow."),
    unary("transpose", tf=("transpose",), torch=(), tensor=(), args=("a",),
          attrs=(Attr("perm", "perm", None, _ints),),
          doc="Permute the dims by `perm` (reverse them when None)."),
    unary("permute", "ml.transpose", tf=(), torch=("permute",), tensor=("permute", "T"),
          attrs=(Attr("dims", "perm", convert=_ints),), custom={"tensor"}),
    custom("swap_dims", "ml.transpose", torch=("transpose",), tensor=("transpose",),
           custom={"torch", "tensor"}),
    custom("flatten", "ml.reshape", torch=("flatten",), tensor=("flatten",),
           custom={"torch", "tensor"}),
    custom("concat", "ml.concat", tf=("concat",), torch=("cat",)),
    custom("squeeze", "ml.squeeze", tf=("squeeze",)),
    custom("expand_dims", "ml.unsqueeze", tf=("expand_dims",)),
    custom("one_hot", "ml.one_hot", tf=("one_hot",), torch=("one_hot",)),
    # indexing: `x[...]` on both Tensors, and F.getitem (ops.getitem is a helper, not tf.getitem)
    custom("getitem", ("ml.slice", "ml.squeeze", "ml.unsqueeze", "ml.gather"),
           torch=("getitem",), tensor=("__getitem__",), graph=("__getitem__",)),
    custom("shape", "ml.shape", tf=("shape",)),
    # -- reductions (TF: axis / keepdims / keep_dims / reduction_indices; torch: dim / keepdim)
    reduction("reduce_sum", tf=("reduce_sum",), torch=("sum",), tensor=("sum",),
              math=("reduce_sum",)),
    reduction("reduce_mean", tf=("reduce_mean",), torch=("mean",), tensor=("mean",),
              math=("reduce_mean",)),
    reduction("reduce_max", tf=("reduce_max",), torch=("amax",), tensor=("max",),
              math=("reduce_max",)),
    reduction("reduce_min", tf=("reduce_min",), torch=("amin",), tensor=("min",),
              math=("reduce_min",)),
    reduction("reduce_prod", tf=("reduce_prod",)),
    reduction("reduce_any", tf=("reduce_any",), torch=("any",), tensor=("any",),
              math=("reduce_any",)),
    custom("argmax", "ml.argmax", tf=("argmax",), torch=("argmax",), tensor=("argmax",),
           math=("argmax",)),
    custom("argmin", "ml.argmin", tf=("argmin",), math=("argmin",)),
    # -- neural-network layers and losses ------------------------------------------------------
    custom("linear", ("ml.transpose", "ml.matmul", "ml.add"), torch=("linear",)),
    custom("bias_add", "ml.add", nn=("bias_add",)),
    custom("conv2d", ("ml.conv", "ml.transpose"), nn=("conv2d",), torch=("conv2d",)),
    custom("max_pool", ("ml.max_pool", "ml.transpose"), nn=("max_pool",),
           torch=("max_pool2d",)),
    custom("avg_pool", ("ml.avg_pool", "ml.transpose"), nn=("avg_pool",),
           torch=("avg_pool2d",)),
    custom("l2_loss", ("ml.mul", "ml.reduce_sum"), nn=("l2_loss",)),
    custom("softmax_cross_entropy_with_logits", ("ml.log_softmax", "ml.reduce_sum", "ml.neg"),
           nn=("softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2")),
    custom("sparse_softmax_cross_entropy_with_logits",
           ("ml.one_hot", "ml.log_softmax", "ml.reduce_sum", "ml.neg"),
           nn=("sparse_softmax_cross_entropy_with_logits",)),
    custom("sigmoid_cross_entropy_with_logits", ("ml.relu", "ml.mul", "ml.softplus"),
           nn=("sigmoid_cross_entropy_with_logits",)),
    custom("cross_entropy", ("ml.log_softmax", "ml.one_hot", "ml.reduce_mean"),
           torch=("cross_entropy",)),
    custom("nll_loss", ("ml.one_hot", "ml.mul", "ml.reduce_sum", "ml.neg"),
           torch=("nll_loss",)),
    custom("mse_loss", ("ml.sub", "ml.mul", "ml.reduce_mean"), torch=("mse_loss",)),
)

BY_NAME: Dict[str, OpDef] = {d.name: d for d in TABLE}


def entries(surface: str) -> List[OpDef]:
    """The rows that name something on `surface`, in table order."""
    return [d for d in TABLE if d.names(surface)]


def names(surface: str) -> List[str]:
    """Every name the table puts on `surface`."""
    return [n for d in TABLE for n in d.names(surface)]


def operand_names(d: OpDef, surface: str) -> Tuple[str, ...]:
    given = d.torch_args if surface == "torch" else d.args
    if given:
        return given
    if surface == "torch":
        return ("x",) if d.kind == "unary" else ("a", "b")
    return ("x",) if d.kind == "unary" else ("x", "y")


def signature(d: OpDef, surface: str, ret: Any) -> inspect.Signature:
    """The signature of the generated function: operands, attribute parameters, and `name`
    on the symbolic surfaces."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind, annotation=Any) for n in operand_names(d, surface)]
    params += [inspect.Parameter(a.param, kind, default=a.default, annotation=Any)
               for a in d.attrs]
    if surface != "torch":
        params.append(inspect.Parameter("name", kind, default=None, annotation=Optional[str]))
    return inspect.Signature(params, return_annotation=ret)


def attr_values(d: OpDef, arguments: Mapping[str, Any]) -> Dict[str, Any]:
    """The op's attributes from the bound arguments of a generated function."""
    out: Dict[str, Any] = {}
    for a in d.attrs:
        v = arguments[a.param]
        if v is None and a.default is None:
            continue
        out[a.attr] = a.convert(v)
    out.update(d.fixed)
    return out


def default_doc(d: OpDef, surface: str, api: str) -> str:
    if d.doc:
        return d.doc
    args = ", ".join(operand_names(d, surface) + tuple(f"{a.param}={a.default!r}"
                                                        if a.default is not REQUIRED
                                                        else a.param for a in d.attrs))
    what = "elementwise " if d.kind == "binary" or not d.attrs else ""
    tail = " with numpy broadcasting" if d.kind == "binary" else ""
    return f"`{api}({args})`: {what}{d.ops[0]}{tail}."


def _name(fn: Callable[..., Any], name: str, module: str, qualname: Optional[str] = None
          ) -> None:
    fn.__name__ = name
    fn.__qualname__ = qualname or name
    fn.__module__ = module


def populate(surface: str, ns: MutableMapping[str, Any],
             make: Callable[[OpDef, str], Callable[..., Any]],
             reuse: Optional[Mapping[str, Callable[..., Any]]] = None
             ) -> Dict[str, Callable[..., Any]]:
    """Put every function the table lists for `surface` into module namespace `ns`.

    Generated rows get `make(row, public_name)` (or the same function object from `reuse`,
    keyed by row name: `tf.nn.relu is tf.relu`); a row that is custom on `surface` must
    already be defined in `ns` under its first name, and a generated one must not be. Aliases
    (`tf.sub` for `tf.subtract`) are the same object. Returns {row name: function}."""
    module = str(ns["__name__"])
    out: Dict[str, Callable[..., Any]] = {}
    for d in entries(surface):
        first, *aliases = d.names(surface)
        if surface in d.custom:
            fn = ns.get(first)
            if not callable(fn):
                raise TypeError(f"op_table: {d.name!r} is custom on {surface!r}, but {module} "
                                f"defines no function {first!r}")
        else:
            if first in ns:
                raise TypeError(f"op_table: {module}.{first} is hand-written, but the table "
                                f"generates it (add {surface!r} to the row's custom set)")
            fn = reuse.get(d.name) if reuse else None
            if fn is None:
                fn = make(d, first)
                _name(fn, first, module)
                fn.__doc__ = fn.__doc__ or default_doc(d, surface, first)
        for n in aliases:
            ns[n] = fn
        ns[first] = fn
        out[d.name] = fn
    return out


def _method(d: OpDef, impl: Callable[..., Any], name: str) -> Callable[..., Any]:
    """Method `name` of row `d`, calling the surface's function `impl`."""
    def reflected(self: Any, o: Any) -> Any:
        return impl(o, self)

    def inplace(self: Any, o: Any) -> Any:
        return self._inplace(impl(self, o))

    def binary(self: Any, o: Any) -> Any:
        return impl(self, o)

    def unary(self: Any) -> Any:
        return impl(self)

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        return impl(self, *args, **kwargs)

    m: Callable[..., Any]
    if name in _REFLECTED:
        m = reflected
    elif name in _INPLACE:
        m = inplace
    elif name in _FORWARD or (d.kind == "binary" and not d.attrs):  # x.eq(o), x.matmul(o)
        m = binary
    elif name in UNARY_OPERATORS:
        m = unary
    else:  # x.sum(dim, keepdim): the function's own parameters after self
        m = forward
        try:
            sig = inspect.signature(impl)
            ps = list(sig.parameters.values())
            m.__signature__ = sig.replace(  # type: ignore[attr-defined]
                parameters=[ps[0].replace(name="self", annotation=inspect.Parameter.empty)]
                + ps[1:])
        except (TypeError, ValueError, IndexError):
            pass
    m.__doc__ = impl.__doc__
    return m


def attach(cls: type, surface: str, impls: MutableMapping[str, Callable[..., Any]],
           make: Callable[[OpDef, str], Callable[..., Any]]) -> None:
    """Give `cls` the methods and operators the table lists for `surface` ("graph" or
    "tensor"): each calls the row's function in `impls` (made with `make` for rows that have
    no function on that DSL, e.g. `Tensor.__lt__`). Rows custom on `surface` must define
    their methods in the class body, generated ones must not."""
    for d in entries(surface):
        if surface in d.custom:
            missing = [n for n in d.names(surface) if n not in cls.__dict__]
            if missing:
                raise TypeError(f"op_table: {d.name!r} is custom on {surface!r}, but "
                                f"{cls.__qualname__} does not define {missing}")
            continue
        impl = impls.get(d.name)
        if impl is None:
            impl = impls[d.name] = make(d, d.name)
            _name(impl, d.name, cls.__module__)
            impl.__doc__ = impl.__doc__ or default_doc(d, "torch" if surface == "tensor"
                                                       else "tf", d.name)
        for n in d.names(surface):
            if n in cls.__dict__ and getattr(cls.__dict__[n], "_op_row", None) is None:
                raise TypeError(f"op_table: {cls.__qualname__}.{n} is hand-written, but the "
                                f"table generates it (add {surface!r} to {d.name!r}'s custom)")
            m = _method(d, impl, n)
            _name(m, n, cls.__module__, f"{cls.__qualname__}.{n}")
            m._op_row = d.name  # type: ignore[attr-defined]
            setattr(cls, n, m)


if TYPE_CHECKING:
    class OperatorStubs:
        """For type checkers only: the Tensor classes' operators and methods are attached
        from `TABLE` at import (see `attach`)."""

        def __getattr__(self, name: str) -> Any: ...
        def __add__(self, o: Any) -> Any: ...
        def __radd__(self, o: Any) -> Any: ...
        def __iadd__(self, o: Any) -> Any: ...
        def __sub__(self, o: Any) -> Any: ...
        def __rsub__(self, o: Any) -> Any: ...
        def __isub__(self, o: Any) -> Any: ...
        def __mul__(self, o: Any) -> Any: ...
        def __rmul__(self, o: Any) -> Any: ...
        def __imul__(self, o: Any) -> Any: ...
        def __truediv__(self, o: Any) -> Any: ...
        def __rtruediv__(self, o: Any) -> Any: ...
        def __itruediv__(self, o: Any) -> Any: ...
        def __pow__(self, o: Any) -> Any: ...
        def __rpow__(self, o: Any) -> Any: ...
        def __matmul__(self, o: Any) -> Any: ...
        def __rmatmul__(self, o: Any) -> Any: ...
        def __lt__(self, o: Any) -> Any: ...
        def __le__(self, o: Any) -> Any: ...
        def __gt__(self, o: Any) -> Any: ...
        def __ge__(self, o: Any) -> Any: ...
        def __neg__(self) -> Any: ...
        def __abs__(self) -> Any: ...
        def __getitem__(self, key: Any) -> Any: ...
else:
    OperatorStubs = object
