"""The ``cls`` training/testing engine: runner, hooks, optimizer, lr policies, logs, evaluation.

Modules: :mod:`.runner` (loops, resume), :mod:`.hooks` (base, priorities, ``custom_hooks``
registry), :mod:`.custom_hooks` / :mod:`.ema` (hooks configs add), :mod:`.lr_schedule`, :mod:`.optimizer`, :mod:`.checkpoint_hook`,
:mod:`.evaluation` (``EvalHook``, ``save_best``), :mod:`.logger` / :mod:`.logger_hook`,
:mod:`.data` (reproducible loaders), :mod:`.device` (device, AMP), :mod:`.seed`, :mod:`.dist`.
Import from the modules; this package imports nothing heavy itself.
"""
