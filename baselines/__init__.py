"""Baseline methods registered with lidcbench: diameter, lasso, elastic-net, cnn."""
