"""Faster CPU inference: oneDNN linear kernels (fp32, same numbers up to rounding) or int8.

Measured on this project's 2-core AMD EPYC (Zen 5, AVX-512): torch's default fp32 matrix product
goes through MKL, which takes its AVX2 path on AMD CPUs (~95 GFLOP/s on one core for a
[1120 x 576] x [576 x 1536] product); oneDNN's prepacked fp32 linear runs the same product at
~230 GFLOP/s. Matrix products are ~87% of a SmolLM2-135M forward, so :func:`prepare` with
``kernel="onednn"`` roughly halves the time of a forward pass. It is still fp32 arithmetic: the
results differ from torch's only by rounding (tests/test_tasks.py checks it on tiny models,
benchmarks/bench_throughput.py on the embedded model).

``quantize="int8"`` applies ``torch.ao.quantization.quantize_dynamic`` to the layers' linear
modules. It is an approximation (activations are quantized per tensor on the fly, and small
models have outlier activations): off by default, and a run with it must first pass the
precision check (:mod:`emostat.collect.precision`; benchmarks/results/precision.json: 101 of
405 choices as in fp32 on the embedded model).

Only the linear modules inside the transformer layers are touched (not embeddings or the
output head); the neuron site's module keeps its path, so capture and ablation hooks still
apply to its input. The caller's model is never changed: :func:`prepare` swaps the kernels in a
new module tree over the same weights, so code that keeps using the caller's model (the
geometry stage of ``collect``) sees torch's kernels whether or not inference ran before it in
the same process (it did not, once: the in-place swap made the geometry tables depend on the
backend, the worker count and where a run had been killed).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

KERNELS = ("onednn", "torch")
QUANTIZE = ("none", "int8")


def onednn_available() -> bool:
    """True when torch has oneDNN's prepacked linear operators and they give ``F.linear``'s
    numbers on a small check (they are torch internals: any failure means "not available")."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        g = torch.Generator().manual_seed(0)
        x, w = torch.randn(5, 3, 16, generator=g), torch.randn(8, 16, generator=g)
        b = torch.randn(8, generator=g)
        packed = torch.ops.mkldnn._reorder_linear_weight(w)
        y = torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], "")
        return bool(torch.allclose(y, nn.functional.linear(x, w, b), atol=1e-4))
    except Exception:                                   # noqa: BLE001 - any failure: fall back
        return False


class PackedLinear(nn.Module):
    """A frozen ``nn.Linear`` whose weight is prepacked for oneDNN (inference only)."""

    def __init__(self, lin: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = lin.in_features, lin.out_features
        self.weight = lin.weight            # kept for code that reads .weight (dtype, device)
        self.bias = lin.bias
        self.packed = torch.ops.mkldnn._reorder_linear_weight(lin.weight.detach())

    def forward(self, x):
        if torch.is_grad_enabled() and x.requires_grad:
            return nn.functional.linear(x, self.weight, self.bias)
        b = None if self.bias is None else self.bias.detach()
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.packed, b, "none", [],
                                                  "")


def _layer_linears(model, cls=nn.Linear):
    """(parent module, attribute name, module) of the linear modules inside the layers."""
    base = getattr(model, "base_model", model)
    out = []
    for pname, parent in base.named_modules():
        for name, child in parent.named_children():
            if type(child) is cls and pname:         # pname "": embeddings/head level
                out.append((parent, name, child))
    return out


def prepare(lm, kernel: str = "onednn", quantize: str = "none"):
    """Return ``lm`` made faster for CPU inference, and what was done.

    Parameters
    ----------
    lm : LoadedModel
        Never changed. For ``kernel="onednn"`` (same numbers up to rounding) the kernels are
        swapped in a new module tree sharing ``lm``'s weights (:func:`module_view`); for
        ``quantize="int8"`` a quantized copy of the model. Either is put in a shallow copy of
        ``lm``.
    kernel : {"onednn", "torch"}
        "onednn" packs the fp32 linear weights for oneDNN when torch has it, the model is
        float32 and on the CPU; otherwise nothing is done.
    quantize : {"none", "int8"}

    Returns
    -------
    (LoadedModel, dict)
        The model to use and a record ``{"kernel": ..., "quantize": ..., "n_linear": ...}``.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize: expected one of {QUANTIZE}, got {quantize!r}")
    param = next(lm.model.parameters())
    on_cpu = param.device.type == "cpu"
    if quantize == "int8":
        from torch.ao.quantization import quantize_dynamic

        if not on_cpu:
            raise ValueError("quantize='int8' runs on the CPU only")
        names = {f"{pn}.{n}".lstrip(".") for pn, _, n in _named_layer_linears(lm.model)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quantize_dynamic(lm.model, {n: torch.ao.quantization.default_dynamic_qconfig
                                            for n in names}, dtype=torch.qint8, inplace=False)
        out = copy.copy(lm)
        out.model = q
        return out, {"kernel": "torch", "quantize": "int8", "n_linear": len(names)}
    if kernel == "onednn" and on_cpu and param.dtype == torch.float32 and onednn_available():
        found = _layer_linears(lm.model)
        if found:
            lm = copy.copy(lm)
            lm.model = module_view(lm.model)
            for parent, name, child in _layer_linears(lm.model):
                setattr(parent, name, PackedLinear(child))
    done = len(_layer_linears(lm.model, PackedLinear))
    return lm, {"kernel": "onednn" if done else "torch", "quantize": "none", "n_linear": done}


def module_view(model: nn.Module) -> nn.Module:
    """A new module tree over the same tensors: modules are copied, parameters, buffers and
    any other tensor a module holds are shared (no weight is copied). Swapping a child in the
    view leaves ``model`` as it was."""
    memo = {}
    for m in model.modules():
        for t in (*m.parameters(recurse=False), *m.buffers(recurse=False),
                  *(v for v in vars(m).values() if isinstance(v, torch.Tensor))):
            memo[id(t)] = t
    return copy.deepcopy(model, memo)


def _named_layer_linears(model):
    """(path of the parent within ``model``, parent, attribute name) of layer linears."""
    prefix = ""
    base = getattr(model, "base_model", model)
    for n, m in model.named_modules():
        if m is base:
            prefix = n
            break
    out = []
    for pname, parent in base.named_modules():
        for name, child in parent.named_children():
            if type(child) is nn.Linear and pname:
                out.append((f"{prefix}.{pname}".strip("."), parent, name))
    return out
