"""Where the FFN neurons are: one declarative adapter per architecture family.

The *neuron vector* of a layer is the post-activation hidden vector of its feed-forward block,
i.e. the INPUT of the FFN's output projection. One table row per family says where that module is:

- ``layers``: path of the layer ``ModuleList`` relative to ``model.base_model``;
- ``module``: path, inside one layer, of the module whose input is the neuron vector;
- ``model_types``: the ``config.model_type`` names the row covers;
- ``kind``: ``"mlm"`` (masked-LM encoder) or ``"causal"`` (decoder).

Neurons are numbered layer-major, ``index = layer * n_units + unit``, as in the study's files.

To add a family, append a :class:`Family` to :data:`FAMILIES` (check the module names with
``print(model)``) and add a tiny-config case to ``tests/test_sites.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emostat.errors import InputError


class UnsupportedModelError(InputError):
    """The model's architecture has no neuron-site adapter."""


@dataclass(frozen=True)
class Family:
    """One architecture family: where its layers and FFN neurons are."""

    name: str
    model_types: tuple[str, ...]
    layers: str
    module: str
    kind: str
    note: str = ""


FAMILIES: tuple[Family, ...] = (
    Family("bert", ("bert", "roberta", "xlm-roberta", "camembert", "electra"),
           "encoder.layer", "output.dense", "mlm",
           "input of output.dense = intermediate output (post-GELU)"),
    Family("distilbert", ("distilbert",), "transformer.layer", "ffn.lin2", "mlm",
           "input of ffn.lin2 (post-GELU)"),
    # OPT is left out: it flattens [batch, seq] before its FFN, so per-row masks need other code.
    Family("gpt2", ("gpt2",), "h", "mlp.c_proj", "causal", "input of mlp.c_proj (post-GELU)"),
    Family("gpt_neox", ("gpt_neox",), "layers", "mlp.dense_4h_to_h", "causal",
           "input of mlp.dense_4h_to_h (post-GELU)"),
    Family("gated", ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text",
                     "phi3", "olmo", "olmo2", "smollm3", "granite"),
           "layers", "mlp.down_proj", "causal", "input of mlp.down_proj = act(gate(x)) * up(x)"),
)


def family_for(model_type: str) -> Family | None:
    for fam in FAMILIES:
        if model_type in fam.model_types:
            return fam
    return None


def _get(root, path: str):
    obj = root
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def _n_inputs(module) -> int:
    """Input width: Linear has in_features; GPT-2's Conv1D stores its weight as [in, out]."""
    if hasattr(module, "in_features"):
        return int(module.in_features)
    return int(module.weight.shape[0])


def supported_text() -> str:
    """One line per family: its name, the model types it covers and the neuron module."""
    return "\n".join(f"  {f.name}: {', '.join(f.model_types)} -> layer.{f.module} ({f.note})"
                     for f in FAMILIES)


@dataclass(frozen=True)
class Site:
    """The FFN neuron site of one loaded model.

    Attributes
    ----------
    family, kind : str
        Adapter name and ``"mlm"`` or ``"causal"``.
    n_layers, n_units : int
        Number of layers and of neurons per layer (``n_neurons = n_layers * n_units``).
    layers, module : str
        Path of the layer list (relative to ``model.base_model``) and of the neuron module
        inside a layer.
    """

    family: str
    kind: str
    n_layers: int
    n_units: int
    layers: str
    module: str
    model_type: str = ""
    note: str = field(default="", compare=False)

    @property
    def n_neurons(self) -> int:
        return self.n_layers * self.n_units

    def modules(self, model) -> list:
        """The neuron modules of ``model``, one per layer; hook their forward *input*."""
        layers = _get(model.base_model, self.layers)
        return [_get(layer, self.module) for layer in layers]

    def describe(self) -> dict:
        """Plain-dict description for manifests."""
        return {"family": self.family, "kind": self.kind, "model_type": self.model_type,
                "n_layers": self.n_layers, "n_units": self.n_units, "n_neurons": self.n_neurons,
                "layers_path": self.layers, "module_path": self.module,
                "neuron": f"input of <layer>.{self.module}", "note": self.note}


def site_for(model) -> Site:
    """Return the neuron :class:`Site` of a Hugging Face model.

    Raises
    ------
    UnsupportedModelError
        When ``model.config.model_type`` has no adapter or its modules are not where expected.
    """
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    fam = family_for(model_type) if model_type else None
    how = ("Supported families (model types -> neuron module):\n" + supported_text()
           + "\nTo add one, append a Family(...) to emostat.collect.sites.FAMILIES naming the "
             "layer "
             "list and the FFN output projection whose input is the neuron vector.")
    if fam is None:
        raise UnsupportedModelError(
            f"model {type(model).__name__} (model_type={model_type!r}): no neuron-site adapter for "
            f"this architecture.\n{how}")
    try:
        layers = _get(model.base_model, fam.layers)
        mods = [_get(layer, fam.module) for layer in layers]
        widths = {_n_inputs(m) for m in mods}
    except (AttributeError, IndexError, TypeError) as exc:
        raise UnsupportedModelError(
            f"model {type(model).__name__} (model_type={model_type!r}): expected "
            f"base_model.{fam.layers}[i].{fam.module} ({exc}).\n{how}") from None
    if not mods or len(widths) != 1:
        raise UnsupportedModelError(
            f"model {type(model).__name__}: {len(mods)} layers with FFN widths {sorted(widths)}; "
            "emostat needs at least one layer and equal widths.")
    kind = fam.kind
    name = type(model).__name__
    if name.endswith("ForCausalLM") or name.endswith("LMHeadModel"):
        kind = "causal"
    elif name.endswith("ForMaskedLM"):
        kind = "mlm"
    return Site(family=fam.name, kind=kind, n_layers=len(mods), n_units=widths.pop(),
                layers=fam.layers, module=fam.module, model_type=model_type, note=fam.note)
