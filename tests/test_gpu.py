"""MTMR-Net's GPU path (bf16 autocast, channels_last, pinned memory); skipped without CUDA."""
import pytest
import torch

from lidcbench.testing import check_method
from methods.mtmr import Mtmr

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_mtmr_conforms_on_the_gpu():
    check_method(Mtmr, {"backbone": "resnet18", "pretrained": "none", "patch_size": 32, "crop": 28, "epochs": 1,
                        "pairs_per_batch": 4, "max_slices_per_nodule": 1, "device": "cuda"})
