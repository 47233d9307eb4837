"""The paper's analyses of how the eight attributes relate to malignancy (its section III-D).

- :mod:`.inputs`: the attribute table an analysis reads, from the readers'
  ratings or from a method's result records.
- :mod:`.rfe`: recursive feature elimination with a logistic regression,
  repeated over the folds (the paper's Table IV).
- :mod:`.tsne`: two t-SNE embeddings, the below-average attributes and all
  eight (the paper's Fig. 5).
- :mod:`.view` and :mod:`.write`: Markdown, PNG and terminal output under
  ``leaderboards/analyses/``.
"""
