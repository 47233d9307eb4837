"""Stage 8, reports: leaderboards, figures and the paper's analyses, regenerated from the records.

:mod:`.leaderboard` (boards built from records), :mod:`.leaderboard_page` and
:mod:`.readers_page` (Markdown sections and figures), :mod:`.gallery`,
:mod:`.regenerate` (writes the pages), :mod:`.external` (external predictions
placed on the pages), :mod:`.analysis`, :mod:`.paper` (the
numbers reported in the MTMR-Net paper), :mod:`.figures` and :mod:`.memo`.
Imports every stage below it; nothing but the CLI imports it.
"""
