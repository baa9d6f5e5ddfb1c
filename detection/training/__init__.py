"""Training: the loop, its settings and result, optimizers and schedules, batch-norm re-estimation.

The package itself imports nothing, so its constants are cheap for the CLI's parser and the components.
"""

BN_REESTIMATE_MODES = ("auto", "on", "off")   # batch_norm_stats: when to re-estimate before export
