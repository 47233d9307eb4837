"""The volume networks: cubes drawn and augmented on the device, and the networks' shapes (cnn3d's and
cnn25d's conformance is in test_conformance.py with every built-in)."""
import numpy as np
import pytest
import torch
from torch import nn

from lidcbench.baselines.nets3d import NarrowResNet3d, OrthogonalPlanes, r3d_18_one_channel
from lidcbench.baselines.volume_cnn import CubeLoop, _loss
from lidcbench.training import loop
from lidcbench.training.volumedata import VolumeSet, centre_cube, shift_flip_rotate


def _symmetries(cube: torch.Tensor) -> list[tuple[tuple[bool, ...], torch.Tensor]]:
    """The 16 transforms the augmentation may apply: z flip x in-plane transpose x row flip x column flip."""
    found = []
    for z_flip in (False, True):
        for transpose in (False, True):
            for row_flip in (False, True):
                for column_flip in (False, True):
                    c = cube.flip(0) if z_flip else cube
                    c = c.transpose(1, 2) if transpose else c
                    c = c.flip(1) if row_flip else c
                    c = c.flip(2) if column_flip else c
                    found.append(((z_flip, transpose, row_flip, column_flip), c))
    return found


def test_each_augmented_cube_is_a_flip_or_in_plane_rotation_and_all_sixteen_occur():
    volumes = torch.arange(2 * 4 ** 3, dtype=torch.float32).reshape(2, 4, 4, 4)
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        out = shift_flip_rotate(volumes, torch.tensor([1]), 4, generator)
        assert out.shape == (1, 1, 4, 4, 4)
        matches = [name for name, c in _symmetries(volumes[1]) if torch.equal(c, out[0, 0])]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 16


def test_shifts_stay_inside_the_cube_and_the_centre_window_is_centred():
    volumes = torch.rand(3, 10, 10, 10)
    generator = torch.Generator().manual_seed(1)
    out = shift_flip_rotate(volumes, torch.tensor([0, 2, 2]), 6, generator)
    assert out.shape == (3, 1, 6, 6, 6)
    assert torch.equal(centre_cube(volumes, 6)[:, 0], volumes[:, 2:8, 2:8, 2:8])


def test_batches_are_class_balanced_and_an_epoch_holds_the_set():
    labels = np.array([0] * 90 + [1] * 10)
    data = VolumeSet.on(torch.device("cpu"), np.zeros((100, 8, 8, 8), np.float16), labels[:, None], labels, 6)
    drawn = torch.cat([targets for _, targets in data.epoch(10, torch.Generator().manual_seed(0))])
    assert len(drawn) == 100 and 0.35 < drawn.float().mean() < 0.65


def test_the_networks_take_cubes_and_give_pooled_features():
    narrow = NarrowResNet3d(width=4)
    assert narrow(torch.rand(2, 1, 16, 16, 16)).shape == (2, 32)
    r3d = r3d_18_one_channel()
    assert r3d.stem[0].in_channels == 1 and r3d(torch.rand(2, 1, 16, 16, 16)).shape == (2, 512)
    assert 30e6 < sum(p.numel() for p in r3d.parameters()) < 36e6


def test_the_planes_are_the_three_orthogonal_ones_through_the_centre():
    seen = {}

    class Record(torch.nn.Module):
        num_features = 1

        def forward(self, planes):
            seen["planes"] = planes
            return planes.mean(dim=(1, 2, 3))[:, None]

    cube = torch.rand(1, 1, 8, 8, 8)
    OrthogonalPlanes(Record())(cube)
    planes = seen["planes"][0]
    assert torch.equal(planes[0], cube[0, 0, 4]) and torch.equal(planes[1], cube[0, 0, :, 4])
    assert torch.equal(planes[2], cube[0, 0, :, :, 4])


def test_the_cube_loop_hands_5d_batches_to_the_network_without_the_4d_layout(monkeypatch):
    # On a GPU the shared loop lays each batch out channels_last, a 4D format that a 5D batch refuses; on the
    # CPU that step is a no-op, so the GPU's behaviour stands in for it here.
    monkeypatch.setattr(loop, "prepare_images", lambda images: images.contiguous(memory_format=torch.channels_last))
    labels = np.arange(8) % 2
    data = VolumeSet.on(torch.device("cpu"), np.zeros((8, 12, 12, 12), np.float16), labels[:, None], labels, 8)
    cubes, targets = next(data.epoch(4, torch.Generator().manual_seed(0)))

    def make(kind):
        model = nn.Sequential(nn.Conv3d(1, 2, 3), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(2, 1))
        optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
        return kind(model, optimiser, data, _loss, batch_size=4, epochs=1, lr_steps=(), seed=0)

    with pytest.raises(RuntimeError, match="rank 4"):
        make(loop.TrainLoop).step(cubes, targets)
    assert set(make(CubeLoop).step(cubes, targets)) == {"cls"}
