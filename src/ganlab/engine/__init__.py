"""The engine: what every family shares and none of them names.

The loop (:mod:`~ganlab.engine.loop`: schedule, logging, snapshots, checkpoints, exact resume,
divergence guard), checkpoints on disk, the runtime (device, precision, processes), the
random streams, lr schedule, optimisers and EMA helpers, and the :class:`Family` contract
(:mod:`~ganlab.engine.family`) that a family implements. Families live in
:mod:`ganlab.families`; the engine never imports them.
"""
