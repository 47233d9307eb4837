"""Deep methods registered with lidcbench (MTMR-Net and its ablations)."""
