"""MedMNIST's published NoduleMNIST3D baselines, shown beside our runs and never mixed with them.

Yang et al., "MedMNIST v2", Scientific Data 10, 41 (2023), its benchmark of the
3D datasets, as the project site (medmnist.com, "Benchmarking Performance on
MedMNIST3D") gives it after the NoduleMNIST3D fix of April 2022 (medmnist
2.1.0); the first arXiv version's numbers were made on the data before that fix.
"""
from __future__ import annotations

SOURCE = "Yang et al., MedMNIST v2, Scientific Data 2023 (medmnist.com's MedMNIST3D benchmark table)"
MARK = "reported, not reproduced here"
WHAT = ("test AUC and ACC on NoduleMNIST3D at 28³, MedMNIST's own split (1,158 training, 165 validation and 310 "
        "test cubes of 1,633 nodules), each model trained by MedMNIST's code.")
NOT_COMPARABLE = ("MedMNIST's cubes are CT (its own cohort and label rule, split by nodule, so one patient's "
                  "nodules can sit in training and test), scored on its 310 test cubes; a row above on "
                  "lidcbench's export has our cohort's `contours` cubes (the readers' outlines rendered, no CT "
                  "texture), split by patient, scored on one of our folds.")

# (method, AUC, ACC) on NoduleMNIST3D, as published.
NODULEMNIST3D: tuple[tuple[str, float, float], ...] = (
    ("ResNet-18 + 2.5D", 0.838, 0.835),
    ("ResNet-18 + 3D", 0.863, 0.844),
    ("ResNet-18 + ACS", 0.873, 0.847),
    ("ResNet-50 + 2.5D", 0.835, 0.848),
    ("ResNet-50 + 3D", 0.875, 0.847),
    ("ResNet-50 + ACS", 0.886, 0.841),
    ("auto-sklearn", 0.914, 0.874),
    ("AutoKeras", 0.844, 0.834),
)
