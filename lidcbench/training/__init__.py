"""Stage 4, training helpers shared by the torch methods: the loop, the data on the device, weights.

:mod:`.loop` (the shared epoch loop), :mod:`.devicedata` (the fold's patches as
one tensor, batches drawn on the device), :mod:`.torch_setup` (device, seeds,
backbones), :mod:`.pretrained` and :mod:`.checkpoints`. Imports the plugin
contract and the stages below it, never running or scoring.
"""
