"""Read and silence FFN neurons with forward pre-hooks that never outlive their ``with`` block.

Both context managers hook the *input* of each layer's neuron module (see :mod:`.sites`) and remove
every hook in ``finally``, so an exception inside the block leaves the model clean.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from emostat.errors import InputError


def count_hooks(model) -> int:
    """Number of forward (pre-)hooks registered on all modules of ``model``."""
    n = 0
    for m in model.modules():
        n += len(m._forward_pre_hooks) + len(m._forward_hooks)
    return n


def _register(model, site, fn_for_layer, layers=None):
    handles = []
    mods = site.modules(model)
    wanted = range(len(mods)) if layers is None else layers
    try:
        for i in wanted:
            handles.append(mods[i].register_forward_pre_hook(fn_for_layer(i)))
    except BaseException:
        for h in handles:
            h.remove()
        raise
    return handles


def _reduce(x, positions):
    """Reduce the neuron tensor ``x`` [batch, seq, units] as asked by ``positions``."""
    if positions is None or (isinstance(positions, str) and positions == "all"):
        return x
    if isinstance(positions, str):
        raise InputError(f"positions: expected 'all', a LongTensor [batch] or weights "
                         f"[batch, seq], got {positions!r}")
    p = positions.to(x.device)
    if p.dim() == 1:                                   # one token index per row
        if p.shape[0] != x.shape[0]:
            raise InputError(f"positions: {p.shape[0]} rows for a batch of {x.shape[0]}")
        return x[torch.arange(x.shape[0], device=x.device), p]
    if p.dim() == 2:                                   # weights over tokens per row
        if tuple(p.shape) != tuple(x.shape[:2]):
            raise InputError(f"positions: weights of shape {tuple(p.shape)} for activations of "
                             f"shape {tuple(x.shape[:2])}")
        return torch.einsum("bs,bsu->bu", p.to(x.dtype), x)
    raise InputError(f"positions: expected 1 or 2 dimensions, got {p.dim()}")


@contextmanager
def capture(model, site, positions=None, layers=None):
    """Record the neuron vector of every layer during forward passes inside the block.

    Parameters
    ----------
    model : torch.nn.Module
    site : Site
    positions : None, "all", LongTensor [batch] or FloatTensor [batch, seq]
        None or "all" keeps every position ([batch, seq, n_units]); a LongTensor keeps one token per
        row ([batch, n_units]); a 2-D float tensor gives per-token weights and keeps the
        weighted sum ([batch, n_units]), e.g. a mean over a word's tokens.
    layers : iterable of int, optional
        Only these layers (default all).

    Yields
    ------
    dict[int, torch.Tensor]
        Layer -> detached activations of the LAST forward pass run inside the block.
    """
    out: dict[int, torch.Tensor] = {}

    def make(i):
        def hook(module, args):
            out[i] = _reduce(args[0], positions).detach()
        return hook

    handles = _register(model, site, make, layers)
    try:
        yield out
    finally:
        for h in handles:
            h.remove()


class Ablation:
    """Per-row neuron masks applied by :func:`ablate`; ``set_masks`` swaps them between forwards."""

    def __init__(self, site, masks, mode, means, device, dtype):
        if mode not in ("zero", "mean"):
            raise InputError(f"mode: expected 'zero' or 'mean', got {mode!r}")
        self.site, self.mode = site, mode
        self.device, self.dtype = device, dtype
        self.values = None
        if mode == "mean":
            if means is None:
                raise InputError("means: mode='mean' needs the mean activation of every neuron")
            means = torch.as_tensor(means, dtype=dtype, device=device).reshape(-1)
            if means.numel() != site.n_neurons:
                raise InputError(f"means: {means.numel()} values for {site.n_neurons} neurons")
            self.values = means.reshape(site.n_layers, site.n_units)
        self.set_masks(masks)

    def set_masks(self, masks):
        """Use ``masks`` (bool [n_neurons] or [batch, n_neurons]) from the next forward on."""
        m = torch.as_tensor(masks, device=self.device)
        if m.dtype != torch.bool:
            raise InputError(f"masks: expected a bool tensor, got {m.dtype}")
        if m.dim() == 1:
            m = m[None]
        if m.dim() != 2 or m.shape[1] != self.site.n_neurons:
            raise InputError(f"masks: expected shape [n_neurons] or [batch, n_neurons] with "
                             f"n_neurons = {self.site.n_neurons}, got {tuple(m.shape)}")
        m = m.reshape(m.shape[0], self.site.n_layers, self.site.n_units)
        self.masks = m
        self.active = m.any(dim=(0, 2)).tolist()       # skip layers with nothing to silence

    def apply(self, i, x):
        if not self.active[i]:
            return None
        m = self.masks[:, i]                           # [rows, units]
        if m.shape[0] not in (1, x.shape[0]):
            raise InputError(f"masks: {m.shape[0]} rows for a batch of {x.shape[0]}")
        m = m.unsqueeze(1) if x.dim() == 3 else m      # broadcast over token positions
        fill = (torch.zeros((), dtype=x.dtype, device=x.device) if self.values is None
                else self.values[i].to(x.dtype))
        return torch.where(m, fill, x)


@contextmanager
def ablate(model, site, masks, mode="zero", means=None):
    """Silence the selected neurons at every token position during forwards inside the block.

    Parameters
    ----------
    masks : bool array-like [n_neurons] or [batch, n_neurons]
        True = silence. One row applies to every row of the batch; ``batch`` rows apply per row,
        so several conditions run in one forward pass.
    mode : {"zero", "mean"}
        Set the neurons to 0 or to ``means``.
    means : array-like [n_neurons], optional
        Mean activations for ``mode="mean"``.

    Yields
    ------
    Ablation
        Handle whose ``set_masks(masks)`` changes the masks for the following forwards.
    """
    param = next(model.parameters())
    state = Ablation(site, masks, mode, means, param.device, param.dtype)

    def make(i):
        def hook(module, args):
            new = state.apply(i, args[0])
            return None if new is None else (new,) + tuple(args[1:])
        return hook

    handles = _register(model, site, make)
    try:
        yield state
    finally:
        for h in handles:
            h.remove()
