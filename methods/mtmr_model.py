"""MTMR-Net's network and losses (Liu et al., IEEE TMI 2019, Fig. 3, Table I, eqs. 1-6).

Deviations from the paper as printed, each deliberate:

* Eqs. 3-4 put the sign function on the *predictions*, which leaves the
  ranking loss without a gradient with respect to them. The working form is
  used: ``max(0, gamma - sign(t_i - t_j) * (p_i - p_j))`` with ``t`` the
  ground-truth malignancy score scaled to [0, 1] and ``p`` the predicted
  probability; pairs with equal ``t`` contribute nothing.
* The text says a 152-layer ResNet, Table I lists ResNet-50's 3-4-6-3 blocks
  and the authors' code uses ResNet-50: ResNet-50 is the default backbone.
* Table I's second regression layer reads "fc 2048x8"; its input is the
  256 attribute features, so it is 256 -> 8. A sigmoid keeps the eight
  attribute scores in [0, 1], the range of their targets.

Not a deviation, but where eq. 6 lives: ``eta R`` is not added to the loss but
applied as Adam's weight decay ``2 * eta``, the same gradient without a
Python loop over every parameter in every step (a test checks that both
give the same parameters).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

N_ATTRIBUTES = 8
ATTRIBUTE_FEATURES = 256


class MtmrNet(nn.Module):
    """One branch: backbone -> (regression module, classification module).

    The Siamese network applies this one module to both slices of a pair, so
    the two branches share every weight by construction.
    """

    def __init__(self, backbone: nn.Module, with_regression: bool = True):
        super().__init__()
        self.backbone = backbone
        width = backbone.num_features  # 2048 for ResNet-50, after global average pooling
        self.with_regression = with_regression
        if with_regression:
            self.attribute_features = nn.Linear(width, ATTRIBUTE_FEATURES)
            self.attribute_scores = nn.Linear(ATTRIBUTE_FEATURES, N_ATTRIBUTES)
        # The classifier sees the classification features and, through the
        # concatenation, the attribute features: its loss reaches the regression module.
        self.classifier = nn.Linear(width + (ATTRIBUTE_FEATURES if with_regression else 0), 1)
        for layer in self.heads():
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def heads(self) -> list[nn.Linear]:
        layers = [self.classifier]
        if self.with_regression:
            layers += [self.attribute_features, self.attribute_scores]
        return layers

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(malignancy logit of shape [B], attribute scores [B, 8] in [0, 1] or None)."""
        features = self.backbone(images)
        if not self.with_regression:
            return self.classifier(features).squeeze(1), None
        attribute_features = self.attribute_features(features)
        attributes = torch.sigmoid(self.attribute_scores(attribute_features))
        logit = self.classifier(torch.cat([features, attribute_features], dim=1)).squeeze(1)
        return logit, attributes


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 1: cross-entropy of the benign/malignant label (one logit, so binary)."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


def regression_loss(predicted: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Eq. 2: squared L2 distance over the eight scaled attributes, averaged over samples."""
    return ((predicted.float() - targets.float()) ** 2).sum(dim=1).mean()


def ranking_loss(p_i: torch.Tensor, p_j: torch.Tensor, t_i: torch.Tensor, t_j: torch.Tensor,
                 margin: float = 0.1) -> torch.Tensor:
    """Eqs. 3-4 in their working form (see the module docstring), averaged over pairs."""
    order = torch.sign(t_i.float() - t_j.float())
    hinge = torch.clamp(margin - order * (p_i.float() - p_j.float()), min=0.0)
    return (hinge * (order != 0)).mean()


def weight_penalty(model: nn.Module) -> torch.Tensor:
    """Eq. 6's R: squared L2 norm of every weight (W_s, W_cls, W_reg). Training applies it as weight
    decay (see :func:`weight_decay`); this is its value, for the history and the tests."""
    return sum((parameter.float() ** 2).sum() for parameter in model.parameters() if parameter.requires_grad)


def weight_decay(eta: float) -> float:
    """Eq. 6's ``eta * ||W||^2`` as Adam's (coupled) weight decay: its gradient ``2 * eta * W`` is what
    Adam's ``weight_decay`` adds to every gradient, so the two train the same parameters."""
    return 2.0 * eta


def total_loss(model: MtmrNet, images: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor,
               malignancy: torch.Tensor, *, lam: float, beta: float, margin: float
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 5 over one batch of pairs, but for its ``eta R`` term (the optimiser's weight decay, see
    :func:`weight_decay`): L_cls + lambda L_reg + beta L_rank.

    Pairs come stacked: the first half of every argument holds the pairs' slices i,
    the second half their slices j, so both branches run as one forward pass of the
    same module. The parts come back detached, on the device.
    """
    logits, predicted = model(images)
    parts = {"cls": classification_loss(logits, labels)}
    if lam and predicted is not None:
        parts["reg"] = regression_loss(predicted, attributes)
    if beta:
        p_i, p_j = torch.sigmoid(logits.float()).chunk(2)
        t_i, t_j = malignancy.chunk(2)
        parts["rank"] = ranking_loss(p_i, p_j, t_i, t_j, margin)
    weights = {"cls": 1.0, "reg": lam, "rank": beta}
    loss = sum(weights[name] * value for name, value in parts.items())
    return loss, {name: value.detach() for name, value in parts.items()}
