"""``gridsearch``: train every combination of a search space with ``minim train`` and rank the results.

Each combination runs as its own ``python -m minim train CODEBASE CONFIG --work-dir ROOT/<name>
--cfg-options ... KEY=VALUE ...`` process (with the given train/launcher arguments), its output
captured in ``ROOT/<name>/gridsearch.log`` (and shown live when one job runs at a time). A run that
finishes writes ``gridsearch_done.json``; a later search with the same config and arguments skips it.
A failed run is reported with its log and the others go on. Parallel runs on a GPU machine each get
their own GPUs through ``CUDA_VISIBLE_DEVICES`` (see :mod:`minim.gridsearch.devices`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from minim.codebases import Codebase
from minim.errors import ConfigError, MinimError, UsageError, warning_line
from minim.suggest import did_you_mean
from minim.gridsearch import summary
from minim.gridsearch.devices import gpu_pool, option_value
from minim.gridsearch.space import Combination, check_keys, expand, parse_search_args
from minim.launch.commands import usable_cpu_count

DONE_MARKER = "gridsearch_done.json"
OUTPUT_LOG = "gridsearch.log"
DEFAULT_METRIC = "accuracy_top-1"
#: ``minim train`` arguments the search sets itself
RESERVED_TRAIN_ARGS = ("--work-dir", "--cfg-options", "--resume", "--launcher-worker", "--dry-run")


@dataclass
class RunResult:
    """One combination: its values, what happened, and its best metric."""

    name: str
    values: dict
    status: str  # 'done' | 'skipped' (finished by an earlier search) | 'failed' | 'planned' (dry run)
    work_dir: str
    log: str
    best: float | None = None
    best_at: int | None = None
    json_log: str | None = None
    returncode: int | None = None
    seconds: float = 0.0
    error: str | None = None
    command: list = field(default_factory=list)


@dataclass
class GridSearchResult:
    """The ranked runs of a search and where its summary files are."""

    root: Path
    metric: str
    rule: str
    runs: list[RunResult]
    #: the searched keys, in --search-args order
    keys: list[str] = field(default_factory=list)
    #: names the search in the printed table (``gridsearch <config file>: N runs``)
    title: str = ""
    #: True when nothing ran: ``runs`` hold the planned commands
    dry_run: bool = False
    summary_json: Path | None = None
    summary_csv: Path | None = None

    @property
    def failed(self) -> list[RunResult]:
        return [run for run in self.runs if run.status == "failed"]

    @property
    def best(self) -> RunResult | None:
        return self.runs[0] if self.runs and self.runs[0].best is not None else None

    def raise_for_failures(self) -> None:
        """One :class:`MinimError` line naming the failed combinations and their logs, if any failed."""
        failed = self.failed
        if not failed:
            return
        shown = "; ".join(f"{run.name} (exit {run.returncode}, log {run.log})" for run in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise MinimError(f"{len(failed)} of {len(self.runs)} combinations failed: {shown}{more}",
                         hint=f"see {self.summary_json}" if self.summary_json else None)


def gridsearch(
    codebase: str,
    config: str,
    search_args: str | Sequence[str],
    *,
    work_dir: str | None = None,
    cfg_options: Sequence[str] = (),
    train_args: Sequence[str] = (),
    max_jobs: int = 1,
    metric: str | None = None,
    rule: str | None = None,
    allow_stale: bool = False,
    dry_run: bool = False,
    console: bool = True,
    python: str | None = None,
) -> GridSearchResult:
    """Train every combination of ``search_args`` (see :mod:`minim.gridsearch.space`) and rank them.

    ``train_args``: more ``minim train`` arguments for every run (``--launcher pytorch --gpus 2``,
    ``--seed 1``...). ``metric``: the key to rank by (default: ``evaluation.save_best``, else the
    first metric of the validation records, e.g. ``accuracy_top-1``); ``rule``: 'greater'/'less'
    (default: the config's ``evaluation.rule``, else inferred from the key). A searched top-level
    variable whose old value other keys still hold (``base_lr`` feeding ``optimizer.lr``) is an
    error unless ``allow_stale``. Returns the ranked result; call ``raise_for_failures()`` on it.
    """
    from minim.codebases import get_codebase
    from minim.index.configs import load_config_arg, resolve_config_path

    codebase_object = get_codebase(codebase)
    if max_jobs < 1:
        raise UsageError(f"--max-jobs must be >= 1, got {max_jobs}")
    _check_train_args(train_args, max_jobs)
    space = parse_search_args(search_args)
    cfg = load_config_arg(codebase, config, list(cfg_options))
    config_path = resolve_config_path(codebase, config)
    _check_no_overlap(space, cfg_options)
    check_keys(cfg, space, str(config))
    combos = expand(space)
    fingerprints = _fingerprints(cfg, combos, train_args, allow_stale, console)
    root = Path(work_dir).expanduser() if work_dir else Path("work_dirs") / f"{config_path.stem}_gridsearch"
    metric, rule = _metric_and_rule(cfg, metric, rule, codebase_object)
    base = [python or sys.executable, "-m", "minim", "train", codebase, str(config)]
    runs = []
    for combo in combos:
        folder = root / combo.name
        command = [*base, "--work-dir", str(folder), *train_args, "--cfg-options", *cfg_options, *combo.options]
        runs.append(RunResult(combo.name, dict(combo.values), "planned", str(folder), str(folder / OUTPUT_LOG),
                              command=command))
    keys = [item.key for item in space]
    title = f"gridsearch {config_path.name}: {len(runs)} runs"
    if dry_run:
        return GridSearchResult(root, metric or DEFAULT_METRIC, rule or "greater", runs, keys, title, dry_run=True)
    _Runner(runs, fingerprints, max_jobs, console, train_args).run_all()
    metric = metric or _metric_from_logs(runs) or DEFAULT_METRIC
    rule = rule or _infer_rule(metric, codebase_object)
    logged: set[str] = set()
    for run in runs:
        if run.json_log and run.status != "failed":
            log = summary.read_log(Path(run.json_log))
            logged.update(summary.metric_keys(log))
            run.best, run.best_at = summary.best_of(log, metric, rule)
    if logged and all(run.best is None for run in runs):  # a misspelt --metric: say so, keep the old summary
        raise UsageError(f"no run logged the metric {metric!r}; the runs logged {', '.join(sorted(logged))}",
                         hint=did_you_mean(metric, logged))
    ranked = summary.rank_runs(runs, rule)
    payload = {"config": str(config), "codebase": codebase, "search_args": search_args if isinstance(search_args, str)
               else " ".join(search_args), "cfg_options": list(cfg_options), "train_args": list(train_args),
               "metric": metric, "rule": rule, "keys": keys}
    json_path, csv_path = summary.write_summary(root, payload, ranked, keys, metric)
    return GridSearchResult(root, metric, rule, ranked, keys, title, summary_json=json_path, summary_csv=csv_path)


def _check_train_args(train_args: Sequence[str], max_jobs: int) -> None:
    if max_jobs > 1 and any(token.split("=", 1)[0] == "--master-port" for token in train_args):
        raise UsageError("--master-port with --max-jobs > 1: parallel runs would share one port",
                         hint="leave --master-port out: each run picks a free one")
    for token in train_args:
        name = token.split("=", 1)[0]
        if name in RESERVED_TRAIN_ARGS:
            why = "finished combinations are skipped on a re-run" if name == "--resume" else "gridsearch sets it"
            raise UsageError(f"{name} cannot be passed to the runs of a grid search ({why})")
    gpus = option_value(train_args, "--gpus")
    if gpus is not None and gpus.isdigit() and int(gpus) > 1 and option_value(train_args, "--launcher") in (None, "none"):
        raise UsageError(f"--gpus {gpus} needs one process per GPU: add --launcher pytorch (or slurm)",
                         hint=f"e.g. --launcher pytorch --gpus {gpus}; or -j {gpus} to run {gpus} combinations at "
                              "once, one GPU each")


def _check_no_overlap(space, cfg_options: Sequence[str]) -> None:
    from minim.config import parse_cfg_options

    fixed = parse_cfg_options(list(cfg_options)) if cfg_options else {}
    for item in space:
        for key in fixed:
            if key == item.key or key.startswith(item.key + ".") or item.key.startswith(key + "."):
                raise UsageError(f"{item.key} is searched by --search-args and set by --cfg-options {key}=...; "
                                 "keep it in one of them")


def _fingerprints(cfg, combos: list[Combination], train_args, allow_stale: bool, console: bool) -> dict[str, str]:
    """Per combination: a digest of its full config and run arguments (a changed config is re-run);
    also where a searched intermediate variable would leave stale copies behind."""
    fingerprints = {}
    stale: dict[str, str] = {}
    for combo in combos:
        merged = copy.deepcopy(cfg)
        before = len(merged.warnings)
        merged.merge_from_options(list(combo.options))
        for warning in merged.warnings[before:]:
            stale.setdefault(warning.replace("--cfg-options", "--search-args", 1), combo.name)
        text = merged.dump() + "\0" + "\0".join(train_args)
        fingerprints[combo.name] = hashlib.sha256(text.encode()).hexdigest()
    for warning in stale:
        if not allow_stale:
            raise ConfigError(warning, hint="search the keys it feeds instead, or pass --allow-stale to search it anyway")
        if console:
            print(warning_line(warning), file=sys.stderr, flush=True)
    return fingerprints


def _metric_and_rule(cfg, metric: str | None, rule: str | None, codebase: Codebase
                     ) -> tuple[str | None, str | None]:
    evaluation = cfg.get("evaluation") or {}
    save_best = evaluation.get("save_best") if isinstance(evaluation, dict) else None
    if metric is None and isinstance(save_best, str) and save_best != "auto":
        metric = save_best
    if rule is None and isinstance(evaluation, dict) and evaluation.get("rule") in ("greater", "less"):
        rule = evaluation["rule"]
    if rule is not None and rule not in ("greater", "less"):
        raise UsageError(f"--rule must be greater or less, got {rule!r}")
    if metric is not None:
        _check_metric(metric, evaluation if isinstance(evaluation, dict) else {}, cfg, codebase)
    return metric, rule


def _check_metric(metric: str, evaluation: dict, cfg, codebase: Codebase) -> None:
    """A metric the runs' evaluation will not log is an error now, not after every run has trained."""
    metric_keys = codebase.metrics_function("metric_keys")
    if metric_keys is None:  # the codebase does not say which keys its evaluation logs
        return
    head = (cfg.get("model") or {}).get("head") or {}
    num_classes = head.get("num_classes") if isinstance(head, dict) else None
    try:
        logged = metric_keys(evaluation.get("metric", "accuracy"), evaluation.get("metric_options"),
                             num_classes if isinstance(num_classes, int) else None)
    except MinimError:
        return  # the runs report a broken evaluation config themselves
    if metric not in logged:
        raise UsageError(f"--metric {metric!r} is not logged by the runs' evaluation, which logs "
                         f"{', '.join(logged)}", hint=did_you_mean(metric, logged))


def _metric_from_logs(runs: list[RunResult]) -> str | None:
    for run in runs:
        if run.json_log and Path(run.json_log).is_file():
            key = summary.first_metric_key(summary.read_log(Path(run.json_log)))
            if key:
                return key
    return None


def _infer_rule(metric: str, codebase: Codebase) -> str:
    infer_rule = codebase.metrics_function("infer_rule")
    try:
        if infer_rule is not None:
            return infer_rule(metric)
    except (MinimError, ValueError):
        pass
    return "less" if "loss" in metric.lower() else "greater"


class _Runner:
    """Runs the pending combinations, ``max_jobs`` at a time, and fills in their results."""

    def __init__(self, runs: list[RunResult], fingerprints: dict[str, str], max_jobs: int, console: bool,
                 train_args: Sequence[str] = ()):
        self.runs = runs
        self.train_args = list(train_args)
        self.fingerprints = fingerprints
        self.max_jobs = max_jobs
        self.console = console
        self.stream = console and max_jobs == 1
        self.lock = threading.Lock()
        self.finished = 0

    def run_all(self) -> None:
        pending = []
        for run in self.runs:
            if self._finished_before(run):
                run.status = "skipped"
                self._say(f"{run.name}: finished by an earlier search, skipped")
            else:
                pending.append(run)
        self.total = len(pending)
        if not pending:
            return
        env = dict(os.environ)
        self.gpus = gpu_pool(self.train_args, self.max_jobs, env)
        at_once = min(self.max_jobs, len(pending))
        if self.gpus is not None and self.gpus.concurrent_runs < at_once:
            at_once = self.gpus.concurrent_runs
            self._say(f"{len(self.gpus.free)} GPU(s), {self.gpus.per_run} per run: {at_once} run(s) at a time")
        if self.max_jobs > 1 and "OMP_NUM_THREADS" not in env:  # share the cores between parallel runs
            env["OMP_NUM_THREADS"] = str(max(1, usable_cpu_count() // at_once))
        if self.max_jobs == 1:
            for run in pending:
                self._run(run, env)
        else:
            with ThreadPoolExecutor(max_workers=self.max_jobs) as pool:
                list(pool.map(lambda run: self._run(run, env), pending))

    def _finished_before(self, run: RunResult) -> bool:
        marker = Path(run.work_dir) / DONE_MARKER
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if data.get("fingerprint") != self.fingerprints[run.name]:
            self._say(f"{run.name}: config or arguments changed since it finished; running it again")
            return False
        json_log = Path(run.work_dir) / str(data.get("json_log") or "")
        run.json_log = str(json_log) if data.get("json_log") and json_log.is_file() else None
        run.seconds = float(data.get("seconds") or 0.0)
        run.returncode = 0
        return True

    def _run(self, run: RunResult, env: dict) -> None:
        if self.gpus is None:
            self._run_on(run, env, "")
            return
        gpus = self.gpus.acquire()
        try:
            visible = ",".join(gpus)
            self._run_on(run, {**env, "CUDA_VISIBLE_DEVICES": visible}, f"CUDA_VISIBLE_DEVICES={visible} ")
        finally:
            self.gpus.release(gpus)

    def _run_on(self, run: RunResult, env: dict, prefix: str) -> None:
        folder = Path(run.work_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DONE_MARKER).unlink(missing_ok=True)
        self._say(f"{run.name}: starting" + (f" on GPU {env['CUDA_VISIBLE_DEVICES']}" if prefix else ""))
        start = time.perf_counter()
        with open(run.log, "w", encoding="utf-8") as log:
            log.write("$ " + prefix + " ".join(run.command) + "\n")
            log.flush()
            process = subprocess.Popen(run.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       errors="replace", env=env, bufsize=1)
            first_error = None
            for line in process.stdout:
                log.write(line)
                if line.startswith("minim: error:") and first_error is None:  # the cause, not a launcher's summary
                    first_error = line.strip()
                if self.stream:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            run.returncode = process.wait()
        run.seconds = time.perf_counter() - start
        json_log = summary.newest_json_log(folder)
        run.json_log = str(json_log) if json_log else None
        if run.returncode == 0:
            run.status = "done"
            from minim.atomic import write_text_atomic

            marker = {"fingerprint": self.fingerprints[run.name], "values": run.values, "seconds": run.seconds,
                      "json_log": json_log.name if json_log else None, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
            write_text_atomic(folder / DONE_MARKER, json.dumps(marker, indent=2) + "\n")
            self._say(f"{run.name}: done in {run.seconds:.0f}s", count=True)
        elif run.returncode in (-signal.SIGINT, 130):  # Ctrl-C reached the run too: the search stops, nothing failed
            run.status = "interrupted"
            raise KeyboardInterrupt
        else:
            run.status = "failed"
            run.error = first_error
            self._say(f"{run.name}: FAILED (exit {run.returncode}) {first_error or ''} -> log {run.log}", count=True)

    def _say(self, message: str, count: bool = False) -> None:
        if not self.console:
            return
        with self.lock:
            if count:
                self.finished += 1
                message = f"[{self.finished}/{self.total}] {message}"
            print(f"gridsearch: {message}", file=sys.stderr, flush=True)
