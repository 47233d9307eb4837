"""The device-resident data path and the shared training loop (on CPU tensors; the GPU runs the same code).

The batched augmentation is compared with the per-sample one it replaced
(``PatchDataset.__getitem__`` at 4925a1b, reproduced below as the reference):
every output is an exact window of its image, flipped or not, and the offsets
and flips are drawn from the same distribution, uniform offsets and fair,
independent flips.
"""
import numpy as np
import pytest
import torch
from scipy import stats
from torch.utils.data import WeightedRandomSampler

from lidcbench.errors import LidcbenchError
from lidcbench.training.devicedata import TrainingSet, balanced_indices, centre_batches, crop_and_flip
from lidcbench.training.loop import TrainLoop, adam

SIZE, CROP = 12, 8  # 5 valid offsets per axis


def _numbered(count: int, size: int = SIZE) -> torch.Tensor:
    """Images whose every pixel says where it is: value = image * size^2 + row * size + column."""
    return torch.arange(count * size * size, dtype=torch.float64).reshape(count, size, size)


def _reference_augment(image: torch.Tensor, crop: int) -> torch.Tensor:
    """The per-sample augmentation of PatchDataset.__getitem__ before the batched path."""
    size = image.shape[-1]
    top, left = (int(torch.randint(0, size - crop + 1, ())) for _ in range(2))
    image = image[top: top + crop, left: left + crop]
    if torch.rand(()) < 0.5:
        image = image.flip(-1)
    if torch.rand(()) < 0.5:
        image = image.flip(-2)
    return image


def _recover(windows: torch.Tensor, index: torch.Tensor, size: int = SIZE) -> dict[str, np.ndarray]:
    """(top, left, horizontal flip, vertical flip) of each window of a numbered image."""
    windows = windows.reshape(len(windows), CROP, CROP) - (index * size * size)[:, None, None]
    rows, columns = windows // size, windows % size
    horizontal = (columns[:, 0, 1] < columns[:, 0, 0]).numpy()
    vertical = (rows[:, 1, 0] < rows[:, 0, 0]).numpy()
    return {"top": rows.amin(dim=(1, 2)).long().numpy(), "left": columns.amin(dim=(1, 2)).long().numpy(),
            "horizontal": horizontal, "vertical": vertical}


def _expected(image: torch.Tensor, top: int, left: int, horizontal: bool, vertical: bool) -> torch.Tensor:
    window = image[top: top + CROP, left: left + CROP]
    window = window.flip(-1) if horizontal else window
    return window.flip(-2) if vertical else window


def test_every_batched_crop_is_an_exact_window_of_its_image_flipped_as_drawn():
    images = _numbered(20)
    index = torch.tensor([3, 3, 0, 19, 7] * 40)
    out = crop_and_flip(images, index, CROP, torch.Generator().manual_seed(0))
    assert out.shape == (len(index), 1, CROP, CROP) and out.dtype == images.dtype
    drawn = _recover(out, index)
    for k in range(len(index)):
        expected = _expected(images[index[k]], drawn["top"][k], drawn["left"][k], drawn["horizontal"][k],
                             drawn["vertical"][k])
        assert torch.equal(out[k, 0], expected)
    # All four flip combinations and every offset occur among 200 draws.
    assert len(set(zip(drawn["horizontal"], drawn["vertical"]))) == 4
    assert set(drawn["top"]) == set(drawn["left"]) == set(range(SIZE - CROP + 1))


def test_batched_augmentation_draws_from_the_same_distribution_as_the_per_sample_one():
    draws = 6000
    images = _numbered(1)
    batched = _recover(crop_and_flip(images, torch.zeros(draws, dtype=torch.long), CROP,
                                     torch.Generator().manual_seed(1)), torch.zeros(draws, dtype=torch.long))
    torch.manual_seed(2)
    reference = _recover(torch.stack([_reference_augment(images[0], CROP) for _ in range(draws)]),
                         torch.zeros(draws, dtype=torch.long))
    offsets = SIZE - CROP + 1
    for name in ("top", "left"):
        counts = {key: np.bincount(drawn[name], minlength=offsets) for key, drawn in
                  (("batched", batched), ("reference", reference))}
        assert stats.chisquare(counts["batched"]).pvalue > 1e-3  # uniform over every valid offset
        assert stats.chi2_contingency(np.stack([counts["batched"], counts["reference"]])).pvalue > 1e-3
    for name in ("horizontal", "vertical"):
        assert stats.binomtest(int(batched[name].sum()), draws, 0.5).pvalue > 1e-3  # a fair coin
        table = [[batched[name].sum(), draws - batched[name].sum()],
                 [reference[name].sum(), draws - reference[name].sum()]]
        assert stats.chi2_contingency(table).pvalue > 1e-3
    # Offsets and flips independent of each other, as the reference draws them.
    joint = np.zeros((offsets, offsets))
    np.add.at(joint, (batched["top"], batched["left"]), 1)
    assert stats.chi2_contingency(joint).pvalue > 1e-3
    both = np.zeros((2, 2))
    np.add.at(both, (batched["horizontal"].astype(int), batched["vertical"].astype(int)), 1)
    assert stats.chi2_contingency(both).pvalue > 1e-3


def test_a_statistical_check_that_can_fail_does_fail_on_a_biased_draw():
    # The distribution checks above would catch a crop that never reaches the last offset.
    counts = np.bincount(np.random.default_rng(0).integers(0, SIZE - CROP, 6000), minlength=SIZE - CROP + 1)
    assert stats.chisquare(counts).pvalue < 1e-3


def test_balanced_sampling_draws_what_the_weighted_sampler_drew():
    labels = torch.tensor([1] * 10 + [0] * 90)
    ours = balanced_indices(labels, len(labels), torch.Generator().manual_seed(5))
    weights = torch.from_numpy(1.0 / np.bincount(labels.numpy())[labels.numpy()])
    theirs = list(WeightedRandomSampler(weights, len(labels), replacement=True,
                                        generator=torch.Generator().manual_seed(5)))
    assert ours.tolist() == theirs
    many = balanced_indices(labels, 20000, torch.Generator().manual_seed(6))
    assert labels[many].float().mean().item() == pytest.approx(0.5, abs=0.02)


def _training_set(count: int = 40, targets: int = 3) -> TrainingSet:
    rng = np.random.default_rng(0)
    images = rng.random((count, SIZE, SIZE)).astype(np.float16)
    labels = (np.arange(count) % 4 == 0).astype(int)
    return TrainingSet.on(torch.device("cpu"), images, rng.random((count, targets)), labels, CROP)


def test_epochs_are_reproducible_under_a_seed_and_differ_between_seeds():
    data = _training_set()

    def epoch(seed):
        return list(data.epoch(8, torch.Generator().manual_seed(seed)))

    first, again, other = epoch(7), epoch(7), epoch(8)
    assert len(first) == len(data) // 8  # the incomplete last batch is dropped
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other))
    images, targets = first[0]
    assert images.shape == (8, 1, CROP, CROP) and images.dtype == torch.float32 and targets.shape == (8, 3)


def test_the_training_set_keeps_the_cache_values_and_rejects_a_crop_too_large():
    images = np.random.default_rng(1).random((4, SIZE, SIZE)).astype(np.float16)
    data = TrainingSet.on(torch.device("cpu"), images, np.zeros((4, 1)), np.array([0, 1, 0, 1]), CROP)
    assert np.array_equal(data.images.numpy(), images.astype(np.float32))
    with pytest.raises(LidcbenchError, match="larger than the patch size"):
        TrainingSet.on(torch.device("cpu"), images, np.zeros((4, 1)), np.array([0, 1, 0, 1]), SIZE + 1)
    (batch,) = centre_batches(images, CROP, 8, torch.device("cpu"))
    assert torch.equal(batch[:, 0], torch.from_numpy(images[:, 2:10, 2:10].astype(np.float32)))


def _loop(seed: int, epochs: int = 3, compile: bool = False) -> TrainLoop:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(CROP * CROP, 3))
    optimiser = adam([{"params": model.parameters(), "lr": 1e-2}], torch.device("cpu"))

    def loss(model, images, targets):
        value = ((model(images) - targets) ** 2).mean()
        return value, {"mse": value.detach(), "twice": 2 * value.detach()}

    return TrainLoop(model, optimiser, _training_set(), loss, batch_size=8, epochs=epochs, lr_steps=(2,),
                     seed=seed, compile=compile, extra_history=lambda m: {"weights": sum((p ** 2).sum() for p in m.parameters())})


def test_the_loop_trains_records_each_epoch_once_and_repeats_itself_under_a_seed():
    loop = _loop(seed=3)
    model = loop.run()
    assert loop.epoch == 3 and not model.training
    assert [set(row) for row in loop.history] == [{"mse", "twice", "weights"}] * 3
    assert all(row["twice"] == pytest.approx(2 * row["mse"]) for row in loop.history)
    assert loop.history[-1]["mse"] < loop.history[0]["mse"]
    assert loop.optimiser.param_groups[0]["lr"] == pytest.approx(1e-3)  # the x0.1 step after epoch 2
    again = _loop(seed=3)
    again.run()
    assert again.history == loop.history
    other = _loop(seed=4)
    other.run()
    assert other.history != loop.history


def test_a_loop_continues_from_the_epoch_it_holds():
    whole = _loop(seed=3)
    whole.run()
    split = _loop(seed=3, epochs=1)
    split.run()
    split.epochs = 3
    split.run()  # the same object carries on: epochs 2 and 3 only
    assert split.epoch == 3 and split.history == whole.history


@pytest.mark.slow
def test_the_compiled_step_trains_as_the_eager_one():
    eager, compiled = _loop(seed=3), _loop(seed=3, compile=True)
    eager.run()
    compiled.run()
    assert compiled.compiled
    for a, b in zip(eager.history, compiled.history):
        assert a["mse"] == pytest.approx(b["mse"], rel=1e-4)
