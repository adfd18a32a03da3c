"""``minim train CODEBASE CONFIG``: train a model from a config file or index name."""

from __future__ import annotations

import click

from minim.cli.launch_options import LaunchCommand, launch_if_requested, launcher_options
from minim.cli.options import HELP, cfg_options_option, codebase_argument, training_options


@click.command("train", cls=LaunchCommand, context_settings=HELP)
@codebase_argument
@click.argument("config")
@click.option("--work-dir", type=click.Path(file_okay=False), help="Folder for logs, checkpoints and the config copy "
              "(default: the config's work_dir, else work_dirs/<config name>).")
@click.option("--resume", is_flag=False, flag_value="auto", default=None, metavar="[CKPT]",
              help="Resume training from CKPT, or, without a value, from the newest checkpoint in the work dir.")
@cfg_options_option
@training_options
@click.option("--no-validate", is_flag=True, help="Do not evaluate on the val set during training.")
@launcher_options
@click.pass_context
def command(ctx, codebase, config, work_dir, resume, cfg_options, device, seed, deterministic, amp, channels_last,
            auto_scale_lr, sync_bn, no_validate, **launch):
    """Train CONFIG (a config file, or a model name/alias from the index).

    \b
    Examples:
      minim train cls mobilenet-v2_digits
      minim train cls my_config.py --work-dir runs/exp1 --cfg-options runner.max_epochs=5
      minim train cls my_config.py --resume            # continue from the newest checkpoint
      minim train cls my_config.py --launcher pytorch --gpus 4            # 4 GPUs with torchrun
      minim train cls my_config.py --launcher slurm --gpus 16 --gpus-per-node 8 --partition gpu
      minim train cls my_config.py --launcher pytorch --gpus 2 --dry-run  # show the command
    """
    mode = launch_if_requested(ctx, codebase, "train", config, dict(launch), device)
    if mode == "launched":
        return
    codebase.engine_function("train")(
        config,
        work_dir=work_dir,
        resume=resume,
        cfg_options=list(cfg_options),
        device=device,
        gpus=launch["gpus"] if mode == "single" else None,
        seed=seed,
        deterministic=deterministic,
        amp=amp,
        channels_last=channels_last,
        auto_scale_lr=auto_scale_lr,
        validate=not no_validate,
        launcher=launch["launcher_worker"] or "none",
        sync_bn=sync_bn,
    )
