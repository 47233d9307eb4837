import numpy as np
import pytest
import torch

from lidcbench.methods.mtmr_model import (
    MtmrNet,
    classification_loss,
    ranking_loss,
    regression_loss,
    total_loss,
    weight_decay,
    weight_penalty,
)
from lidcbench.training.torch_setup import create_backbone


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    backbone, _ = create_backbone("resnet18", "none")
    return MtmrNet(backbone)


def test_output_shapes_and_ranges(net):
    logits, attributes = net(torch.randn(5, 1, 32, 32))
    assert logits.shape == (5,) and attributes.shape == (5, 8)
    assert ((attributes >= 0) & (attributes <= 1)).all()
    assert net.classifier.in_features == net.backbone.num_features + 256
    rank_only = MtmrNet(create_backbone("resnet18", "none")[0], with_regression=False)
    logits, attributes = rank_only(torch.randn(2, 1, 32, 32))
    assert logits.shape == (2,) and attributes is None
    assert rank_only.classifier.in_features == rank_only.backbone.num_features


def test_resnet50_is_the_papers_2048_feature_extractor():
    backbone, _ = create_backbone("resnet50", "none")
    assert backbone.num_features == 2048
    assert MtmrNet(backbone).classifier.in_features == 2304


def test_losses_on_hand_computed_cases():
    logits, labels = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    expected = (np.log(2) + np.log(1 + np.exp(2.0))) / 2
    assert classification_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    predicted = torch.tensor([[0.5] * 8, [0.0] * 8])
    targets = torch.tensor([[0.0] * 8, [0.25] * 8])
    assert regression_loss(predicted, targets).item() == pytest.approx((8 * 0.25 + 8 * 0.0625) / 2)
    # t_i > t_j and p_i - p_j = -0.2: hinge 0.1 + 0.2; equal t: nothing; correct beyond margin: nothing.
    p_i, p_j = torch.tensor([0.3, 0.5, 0.9]), torch.tensor([0.5, 0.1, 0.2])
    t_i, t_j = torch.tensor([0.75, 0.5, 1.0]), torch.tensor([0.25, 0.5, 0.0])
    assert ranking_loss(p_i, p_j, t_i, t_j, margin=0.1).item() == pytest.approx(0.3 / 3)
    layer = torch.nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0]]))
        layer.bias.fill_(3.0)
    assert weight_penalty(layer).item() == pytest.approx(1 + 4 + 9)


def test_ranking_gradient_pushes_a_wrongly_ordered_pair_and_ignores_a_settled_one():
    p_i = torch.tensor([0.3], requires_grad=True)
    p_j = torch.tensor([0.6], requires_grad=True)
    ranking_loss(p_i, p_j, torch.tensor([0.9]), torch.tensor([0.1])).backward()
    assert p_i.grad.item() < 0 < p_j.grad.item()  # descent raises p_i and lowers p_j
    p_i = torch.tensor([0.9], requires_grad=True)
    p_j = torch.tensor([0.2], requires_grad=True)
    ranking_loss(p_i, p_j, torch.tensor([0.9]), torch.tensor([0.1])).backward()
    assert p_i.grad.item() == 0 and p_j.grad.item() == 0


def _softplus(x):
    return np.logaddexp(0.0, x)


def _pairs(seed=2):
    torch.manual_seed(seed)
    images_i, images_j = torch.randn(4, 1, 32, 32), torch.randn(4, 1, 32, 32)
    labels_i, labels_j = torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 0.0, 1.0])
    attributes_i, attributes_j = torch.rand(4, 8), torch.rand(4, 8)
    malignancy_i, malignancy_j = torch.tensor([0.1, 0.9, 0.3, 0.6]), torch.tensor([0.8, 0.2, 0.3, 0.1])
    return images_i, images_j, labels_i, labels_j, attributes_i, attributes_j, malignancy_i, malignancy_j


def test_total_loss_is_eq_5_computed_from_each_branch_on_its_own(net):
    # The Siamese pairing: the first half of the batch is branch i, the second branch j, each with its
    # own labels; computed here by plain numpy from two separate passes of the same network.
    images_i, images_j, labels_i, labels_j, attributes_i, attributes_j, mal_i, mal_j = _pairs()
    net.eval()  # batch statistics would differ between one stacked pass and two separate ones
    try:
        with torch.no_grad():
            loss, parts = total_loss(net, torch.cat([images_i, images_j]), torch.cat([labels_i, labels_j]),
                                     torch.cat([attributes_i, attributes_j]), torch.cat([mal_i, mal_j]),
                                     lam=0.7, beta=0.3, margin=0.1)
            (logit_i, predicted_i), (logit_j, predicted_j) = net(images_i), net(images_j)
    finally:
        net.train()
    logits = np.r_[logit_i.numpy(), logit_j.numpy()].astype(float)
    labels = np.r_[labels_i.numpy(), labels_j.numpy()]
    cls = np.mean(_softplus(logits) - labels * logits)
    reg = np.mean(((np.r_[predicted_i.numpy(), predicted_j.numpy()]
                    - np.r_[attributes_i.numpy(), attributes_j.numpy()]) ** 2).sum(axis=1))
    p_i, p_j = 1 / (1 + np.exp(-logits[:4])), 1 / (1 + np.exp(-logits[4:]))
    order = np.sign(mal_i.numpy() - mal_j.numpy())
    rank = np.mean(np.where(order != 0, np.maximum(0.0, 0.1 - order * (p_i - p_j)), 0.0))
    assert tuple(parts[name].item() for name in ("cls", "reg", "rank")) == pytest.approx((cls, reg, rank), rel=1e-5, abs=1e-7)
    assert loss.item() == pytest.approx(cls + 0.7 * reg + 0.3 * rank, rel=1e-5)


@pytest.mark.parametrize("weight", ["lam", "beta"])
def test_lambda_and_beta_change_the_loss_by_exactly_their_weight(net, weight):
    images_i, images_j, labels_i, labels_j, attributes_i, attributes_j, mal_i, mal_j = _pairs()
    net.eval()
    try:
        with torch.no_grad():
            losses = {}
            for value in (0.5, 2.0):
                weights = {"lam": 1.0, "beta": 1.0, **{weight: value}}
                losses[value], parts = total_loss(net, torch.cat([images_i, images_j]),
                                                  torch.cat([labels_i, labels_j]),
                                                  torch.cat([attributes_i, attributes_j]),
                                                  torch.cat([mal_i, mal_j]), margin=0.1, **weights)
    finally:
        net.train()
    term = parts["reg" if weight == "lam" else "rank"].item()
    assert term > 0
    assert (losses[2.0] - losses[0.5]).item() == pytest.approx(1.5 * term, rel=1e-4)


def _term(net, term):
    torch.manual_seed(1)
    logits, attributes = net(torch.randn(8, 1, 32, 32))
    if term == "cls":
        return classification_loss(logits, torch.tensor([0.0, 1.0] * 4))
    if term == "reg":
        return regression_loss(attributes, torch.rand(8, 8))
    if term == "rank":  # malignancy scores that the untrained network cannot already order with margin
        p_i, p_j = torch.sigmoid(logits).chunk(2)
        return ranking_loss(p_i, p_j, torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([1.0, 0.0, 1.0, 0.0]), 0.5)
    return weight_penalty(net)


@pytest.mark.parametrize("term", ["cls", "reg", "rank", "l2"])
def test_every_loss_term_reaches_the_backbone(net, term):
    loss = _term(net, term)
    assert loss.item() > 0
    gradient = torch.autograd.grad(loss, net.backbone.conv1.weight)[0]
    assert gradient.abs().sum() > 0


def test_classification_loss_reaches_the_regression_module_through_the_concatenation(net):
    gradient = torch.autograd.grad(_term(net, "cls"), net.attribute_features.weight)[0]
    assert gradient.abs().sum() > 0


def test_total_loss_weights_the_terms_as_eq_5(net):
    torch.manual_seed(2)
    images = torch.randn(8, 1, 32, 32)
    labels, attributes, malignancy = torch.tensor([0.0, 1.0, 0.0, 1.0] * 2), torch.rand(8, 8), torch.rand(8)
    loss, parts = total_loss(net, images, labels, attributes, malignancy, lam=1.0, beta=0.5, margin=0.1)
    assert set(parts) == {"cls", "reg", "rank"}
    assert all(not part.requires_grad for part in parts.values())
    assert loss.item() == pytest.approx((parts["cls"] + parts["reg"] + 0.5 * parts["rank"]).item(), rel=1e-5)
    # The first half of the batch pairs with the second: the ranking term is eq. 3-4 on those pairs.
    logits, _ = net(images)
    p_i, p_j = torch.sigmoid(logits).chunk(2)
    assert parts["rank"].item() == pytest.approx(ranking_loss(p_i, p_j, malignancy[:4], malignancy[4:]).item(),
                                                 rel=1e-5)
    _, without_ranking = total_loss(net, images, labels, attributes, malignancy, lam=1.0, beta=0.0, margin=0.1)
    assert "rank" not in without_ranking


def test_the_penalty_as_weight_decay_trains_the_same_parameters_as_the_explicit_penalty():
    """Eq. 6's eta * ||W||^2 in the loss and Adam's weight decay 2 * eta: the same parameters
    after several steps (float64 on the CPU, so only rounding separates them)."""
    eta = 0.05  # large enough that the penalty moves the weights visibly within a few steps

    def trained(explicit: bool) -> list[torch.Tensor]:
        torch.manual_seed(3)
        net = MtmrNet(create_backbone("resnet18", "none")[0]).double()
        heads = [p for layer in net.heads() for p in layer.parameters()]
        optimiser = torch.optim.Adam([{"params": net.backbone.parameters(), "lr": 3e-4},
                                      {"params": heads, "lr": 3e-3}],
                                     weight_decay=0.0 if explicit else weight_decay(eta), foreach=True)
        generator = torch.Generator().manual_seed(4)
        for _ in range(4):
            images = torch.randn(8, 1, 32, 32, generator=generator, dtype=torch.float64)
            labels = torch.tensor([0.0, 1.0] * 4, dtype=torch.float64)
            targets = torch.rand(8, 8, generator=generator, dtype=torch.float64)
            malignancy = torch.rand(8, generator=generator, dtype=torch.float64)
            loss, _ = total_loss(net, images, labels, targets, malignancy, lam=1.0, beta=0.5, margin=0.1)
            if explicit:
                loss = loss + eta * sum((p ** 2).sum() for p in net.parameters())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return [p.detach().clone() for p in net.parameters()]

    with_penalty, with_decay = trained(explicit=True), trained(explicit=False)
    torch.manual_seed(3)
    untouched = list(MtmrNet(create_backbone("resnet18", "none")[0]).double().parameters())
    for a, b in zip(with_penalty, with_decay):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    # ... and the weights did move, so the comparison is not between two untrained copies.
    assert max((a - u).abs().max().item() for a, u in zip(with_penalty, untouched)) > 1e-3


def test_limit_slices_per_nodule_keeps_the_central_ones_in_order():
    from lidcbench.training.torch_setup import limit_slices_per_nodule

    ids = np.array(["a"] * 7 + ["b"] * 2 + ["c"] * 4)
    assert limit_slices_per_nodule(ids, 3, seed=0).tolist() == [2, 3, 4, 7, 8, 9, 10, 11]
    assert limit_slices_per_nodule(ids, None, seed=0).tolist() == list(range(13))


def test_fit_gives_backbone_and_heads_their_own_rates_and_steps_them_down(monkeypatch):
    from lidcbench.methods.mtmr import Mtmr
    from lidcbench.testing.data import synthetic_split

    optimisers = []
    original = torch.optim.Optimizer.__init__

    def recording(self, params, defaults):
        original(self, params, defaults)
        optimisers.append(self)

    monkeypatch.setattr(torch.optim.Optimizer, "__init__", recording)
    train, _ = synthetic_split(n_train=16, n_test=4, size=32)
    method = Mtmr(backbone="resnet18", pretrained="none", patch_size=32, crop=28, epochs=2, pairs_per_batch=4,
                  lr_backbone=1e-4, lr_head=1e-2, lr_steps=(1,), max_slices_per_nodule=1, device="cpu").fit(train)
    (optimiser,) = optimisers
    backbone = {id(p) for p in method.model_.backbone.parameters()}
    heads = {id(p) for layer in method.model_.heads() for p in layer.parameters()}
    groups = [{id(p) for p in group["params"]} for group in optimiser.param_groups]
    assert groups == [backbone, heads]
    # MultiStepLR with a step after epoch 1 of 2: both rates end at a tenth.
    assert [group["lr"] for group in optimiser.param_groups] == pytest.approx([1e-5, 1e-3])
    assert [group["initial_lr"] for group in optimiser.param_groups] == pytest.approx([1e-4, 1e-2])
