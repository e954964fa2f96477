"""The modality embedding subnetworks of TFN and LMF (Zadeh et al., EMNLP 2017, Sec. 3.1).

Each turns one prepared modality sequence (B, L, W) with its real-frame mask into z_m (B, width):

    dnn   mean over the real frames -> BatchNorm -> dropout -> 3 x (Linear -> ReLU)   (acoustic, visual)
    lstm  LSTM over the sequence -> its output at the last real frame -> dropout -> Linear  (language)

An item without frames of the modality gets z_m = 0, so in TFN's and LMF's [1, z_m] only the
constant 1 remains: the other modalities' terms are kept and nothing is read from the padding.
The LSTM runs over the padded sequence and is read at each item's last real frame (a forward LSTM's
output at frame t depends on frames <= t only), so padding never matters and no packing is needed.
`SubnetFusion` is what TFN and LMF share: the subnetworks and the fold of [1, z_m] over modalities.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sseft.core.fusion.base import FusionModule, last_frame, masked_mean


class DNNSubnet(nn.Module):
    def __init__(self, in_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(in_dim)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            [nn.Linear(in_dim, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)]
        )

    def forward(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        pooled = masked_mean(x, frames)  # (B, W)
        bn = self.norm
        # batch statistics need two items: a lone training item uses the running ones
        batch_stats = self.training and pooled.shape[0] > 1
        y = F.batch_norm(
            pooled, bn.running_mean, bn.running_var, bn.weight, bn.bias,
            training=batch_stats, momentum=bn.momentum or 0.1, eps=bn.eps,
        )  # fmt: skip
        y = self.drop(y)
        for layer in self.layers:
            y = F.relu(layer(y))
        return y


class LSTMSubnet(nn.Module):
    def __init__(self, in_dim: int, hidden: int, out: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(in_dim, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden, out)

    def forward(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 0:  # a batch where no item has this modality
            x, frames = x.new_zeros(x.shape[0], 1, x.shape[2]), frames.new_zeros(frames.shape[0], 1)
        out, _ = self.rnn(x)  # (B, L, hidden)
        return self.linear(self.drop(last_frame(out, frames)))


def build_subnets(specs: list[Any], cfg: Any) -> tuple[nn.ModuleDict, dict[str, int]]:
    """One subnetwork per modality (cfg.subnet(name)) and the width z_m each produces."""
    nets: dict[str, nn.Module] = {}
    widths: dict[str, int] = {}
    for s in specs:
        sub = cfg.subnet(s.name)
        if sub.kind == "lstm":
            nets[s.name] = LSTMSubnet(s.width, sub.hidden, sub.width, sub.dropout)
        else:
            nets[s.name] = DNNSubnet(s.width, sub.hidden, sub.dropout)
        widths[s.name] = sub.width
    return nn.ModuleDict(nets), widths


def embed(
    nets: nn.ModuleDict, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """z_m (B, width_m) per modality, zero for an item without frames of m."""
    out = {}
    for m, net in nets.items():
        z = net(seqs[m], frames[m])
        out[m] = z * frames[m].any(dim=1).to(z.dtype)[:, None]
    return out


def with_one(z: torch.Tensor) -> torch.Tensor:
    """[1, z] (B, 1 + width): the constant 1 keeps every lower-order (unimodal, bimodal) term."""
    return torch.cat([z.new_ones(z.shape[0], 1), z], dim=1)


class SubnetFusion(FusionModule):
    """TFN's and LMF's common part: a subnetwork per modality (`cfg.subnet(name)`) gives z_m, and
    `fuse` folds the modalities' [1, z_m] in declared order with the subclass's `combine`."""

    def __init__(self, specs: list[Any], cfg: Any) -> None:
        super().__init__(specs)
        self.cfg = cfg
        self.subnets, self.z_widths = build_subnets(self.specs, cfg)

    def term(self, m: str, z1: torch.Tensor) -> torch.Tensor:
        """Modality m's term of the fold from its [1, z_m] (B, 1 + width); [1, z_m] itself by default."""
        return z1

    def combine(self, done: torch.Tensor, term: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """The fold so far combined with the next modality's term."""
        raise NotImplementedError

    def fold(self, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor]) -> torch.Tensor:
        """combine(... combine(term_1, term_2) ..., term_N) over the modalities in declared order."""
        z = embed(self.subnets, seqs, frames)
        return functools.reduce(self.combine, [self.term(m, with_one(z[m])) for m in self.names])
