"""Stage 3, the plugin contract: what a method is, how it is named, checked and what it must return.

:mod:`.method` (``Method``, ``FoldData``), :mod:`.params` (typed, checked
parameters), :mod:`.predictions` (the predictions table) and :mod:`.registry`
(names to methods; imports no method). Plugins import the stable paths
``lidcbench.method`` and ``lidcbench.params``. Imports protocol, patches and the base.
"""
