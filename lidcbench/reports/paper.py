"""Numbers reported in the MTMR-Net paper, shown beside ours and never mixed with them.

Liu et al., "Multi-Task Deep Model with Margin Ranking Loss for Lung Nodule
Analysis", IEEE TMI 2019: Table II (classification, mean over its 5 folds of
its 1422-nodule cohort) and Table III (attribute absolute error on the
original rating scale). The other methods' rows are as that paper reports
them. Table IV: its recursive feature elimination on the eight attributes.
"""
from __future__ import annotations

from lidcbench.protocol.card import REPORTED

SOURCE = "Liu et al., MTMR-Net, IEEE TMI 2019"
MARK = "reported, not reproduced here"

# Table II: accuracy, sensitivity, specificity in percent; AUC; None where the paper gives "-".
TABLE_II: tuple[tuple[str, float, float, float, float | None], ...] = (
    ("Anand et al. 2015", 86.3, 89.6, 86.7, None),
    ("Xie et al. 2016", 93.4, 91.4, 94.1, 0.978),
    ("Shen et al. 2017", 87.1, 77.0, 93.0, 0.930),
    ("MTMR-Net (w L_reg)", 90.1, 90.5, 88.5, 0.974),
    ("MTMR-Net (w L_rank)", 90.9, 91.2, 91.6, 0.961),
    ("MTMR-Net", 93.5, 93.0, 89.4, 0.979),
)

# Table III: absolute error per attribute, in the order of lidcbench.protocol.attributes.ATTRIBUTES
# (Sub, Int, Cal, Sph, Mar, Lob, Spi, Tex). The IB row is the card's reported inter-observer variation.
TABLE_III: tuple[tuple[str, dict[str, float]], ...] = (
    ("IB (inter-observer)", REPORTED["inter_observer"]),
    ("MTR", dict(subtlety=0.75, internal_structure=0.04, calcification=0.48, sphericity=0.81, margin=0.86,
                 lobulation=0.87, spiculation=0.80, texture=0.58)),
    ("LASSO", dict(subtlety=1.25, internal_structure=0.02, calcification=2.18, sphericity=1.25, margin=1.13,
                   lobulation=0.95, spiculation=0.89, texture=1.04)),
    ("EN", dict(subtlety=1.20, internal_structure=0.14, calcification=1.44, sphericity=1.09, margin=0.98,
                lobulation=0.96, spiculation=0.86, texture=1.24)),
    ("MTMR-Net", dict(subtlety=0.54, internal_structure=0.03, calcification=0.56, sphericity=0.59, margin=0.54,
                      lobulation=0.54, spiculation=0.49, texture=0.44)),
)


# Table IV: recursive feature elimination, a logistic regression from the eight attributes to the label
# (the paper does not say whether on the readers' ratings or its network's; Fig. 5 names the network's):
# (importance mean, std, ranking) per attribute as printed (Sub's std is printed 0.19, likely 0.019).
# Which attributes are above the average importance is computed from these, not copied.
TABLE_IV: dict[str, tuple[float, float, int]] = dict(
    subtlety=(0.251, 0.19, 1), internal_structure=(0.007, 0.001, 8), calcification=(0.133, 0.020, 4),
    sphericity=(0.072, 0.006, 6), margin=(0.125, 0.009, 5), lobulation=(0.171, 0.027, 2),
    spiculation=(0.164, 0.030, 3), texture=(0.067, 0.003, 7),
)
