"""Engines that run training jobs, each in a fresh process: `local` (this machine) or `ray` (a Ray cluster).

    from mnistlab.training.engines import Job, run_jobs
    jobs = [Job("lr=0.001,seed=0", {"run_dir": "sweeps/a/lr=0.001,seed=0", ...}), ...]
    results = run_jobs(train_point, jobs, engine="ray", workers=2)   # {job name: what the task returned}

A fresh process per job keeps TensorFlow's process-wide state (threads, seeds, precision policy) apart.
`local` runs `workers` jobs at a time (default 1) in spawned processes. `ray` starts a local Ray instance, or
joins the cluster at `address` (or $RAY_ADDRESS); each job is a Ray task in a worker used once
(max_calls=1) with `cpus_per_run` CPUs (and `gpus_per_run` GPUs) reserved; Ray hides the GPUs from a task
that reserved none, and a $KERAS_BACKEND set here (jax, to train on a GPU) is set in every task's process
too. A task whose worker or node dies is run again, up to
`retries` times: the task itself must pick up where the dead one left off (sweep.train_point resumes the
run from its last epoch checkpoint). An error the task raises is not retried: it would only fail again.

Jobs start in the order given. `admit(job, results)`, when given, is asked just before each job starts,
with the results of the jobs finished so far: False leaves that job and every later one out (an
ensemble's wall-clock budget). So that "before it starts" holds, at most `workers` jobs are in flight
(with Ray and no `workers`: as many as the cluster's CPUs hold, at `cpus_per_run` each).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from mnistlab import reporter
from mnistlab.errors import MnistlabError
from mnistlab.imports import skip_unused_imports

ENGINES = ("local", "ray")
DEFAULT_RETRIES = 3  # times a Ray task is run again after its worker or node died
RAY_MISSING = "--engine ray needs Ray: pip install 'mnistlab[ray]'"
GPUS_NEED_RAY = (
    "GPUs are reserved per run by Ray; add --engine ray (ensembles, sweep, bench: a single run, or one of "
    "the local engine, trains on whatever GPU its process sees)"
)


@dataclass(frozen=True)
class Job:
    """One call of the task: `name` identifies it in messages (e.g. "lr=0.001,seed=0")."""

    name: str
    kwargs: dict[str, Any]


Admit = Callable[[Job, dict[str, Any]], bool]  # (the next job, results so far) -> start it?


def in_own_process(task, kwargs: dict):
    """task(**kwargs) in a process started for it alone: mnistlab's own, so Keras may load lean."""
    skip_unused_imports()
    return task(**kwargs)


def check_engine(
    engine: str, workers: int | None, cpus_per_run: int, address: str | None = None, gpus_per_run: float = 0
) -> None:
    """Refuse a bad engine setting before anything starts: Ray must be importable, its cluster answer."""
    if engine not in ENGINES:
        raise MnistlabError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")
    if workers is not None and workers < 1:
        raise MnistlabError(f"workers={workers}: run at least 1 job at a time")
    if cpus_per_run < 1:
        raise MnistlabError(f"cpus_per_run={cpus_per_run}: reserve at least 1 CPU per run")
    if gpus_per_run < 0:
        raise MnistlabError(f"gpus_per_run={gpus_per_run}: reserve 0 or more GPUs per run (0.5: two share 1)")
    if gpus_per_run and engine != "ray":
        raise MnistlabError(f"gpus_per_run={gpus_per_run}: {GPUS_NEED_RAY}")
    if engine == "ray":
        import_ray()
        target = address or os.environ.get("RAY_ADDRESS")
        if target and not _ray_is_up():
            _check_reachable(target)


def import_ray():
    try:
        import ray
    except ImportError:
        raise MnistlabError(RAY_MISSING) from None
    return ray


def run_jobs(
    task: Callable[..., Any],
    jobs: Sequence[Job],
    *,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    cpus_per_run: int = 1,
    gpus_per_run: float = 0,
    retries: int = DEFAULT_RETRIES,
    admit: Admit | None = None,
) -> dict[str, Any]:
    """Run task(**job.kwargs) for every job, each in a fresh process -> {job.name: result}.

    Every job is run even when some fail; then the failures are raised together as one MnistlabError.
    `task` must be a module-level function (it is pickled by reference into the worker processes).
    A job that `admit` turned away is absent from the results.
    """
    check_engine(engine, workers, cpus_per_run, address, gpus_per_run)
    if not jobs:
        return {}
    if engine == "local":
        results, failures = _run_local(task, jobs, workers or 1, admit)
    else:
        reserved = {"num_cpus": cpus_per_run, "num_gpus": gpus_per_run}
        results, failures = _run_ray(task, jobs, workers, address, reserved, retries, admit)
    if failures:
        listed = "; ".join(f"{name}: {message}" for name, message in failures.items())
        raise MnistlabError(f"{len(failures)} of {len(jobs)} runs failed ({listed})")
    return results


def _run_local(task, jobs, workers: int, admit) -> tuple[dict[str, Any], dict[str, str]]:
    # spawn, not fork: a forked child would inherit this process's TensorFlow state (threads, graphs)
    context = multiprocessing.get_context("spawn")
    results, failures = {}, {}
    waiting = list(jobs)
    running: dict[Any, str] = {}  # Future -> job name
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1) as pool:
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                if admit is not None and not admit(job, results):
                    waiting.clear()
                    break
                try:
                    running[pool.submit(in_own_process, task, job.kwargs)] = job.name
                except BrokenProcessPool:  # an earlier job's process died and took the pool with it
                    failures[job.name] = "not started: the pool broke when another run's process died"
            if not running:
                break
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                try:
                    results[name] = future.result()
                except MnistlabError as error:
                    failures[name] = str(error)
                except BrokenProcessPool:
                    failures[name] = "its process died (resume to continue from the last epoch checkpoint)"
                except Exception as error:  # a bug in the run: name it, the sweep goes on with the others
                    failures[name] = f"{type(error).__name__}: {error}"
    return results, failures


def _run_ray(task, jobs, workers, address, reserved, retries, admit) -> tuple[dict, dict[str, str]]:
    """reserved: {"num_cpus": ..., "num_gpus": ...} for each task."""
    ray = import_ray()
    started = not ray.is_initialized()
    target = address or os.environ.get("RAY_ADDRESS")
    own_instance = started and not target
    if started:
        if target:
            try:
                ray.init(address=target)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise MnistlabError(f"cannot join the Ray cluster at {target}: {error}") from None
        else:
            # "local": a new instance of our own, never a cluster someone else started on this machine;
            # CPUs: workers x cpus_per_run (all of this machine's when workers is unset)
            cpus = None if workers is None else workers * reserved["num_cpus"]
            ray.init(address="local", include_dashboard=False, num_cpus=cpus)
    try:
        slots = _slots(ray.cluster_resources(), reserved, can_grow=not own_instance)
        options = {"max_calls": 1, "max_retries": retries, "retry_exceptions": False, **reserved}
        if os.environ.get("KERAS_BACKEND"):  # the backend chosen here, in every run's process
            options["runtime_env"] = {"env_vars": {"KERAS_BACKEND": os.environ["KERAS_BACKEND"]}}
        remote = ray.remote(**options)(in_own_process)
        if admit is not None and workers is None:  # admit decides at each start: never queue in Ray
            workers = slots
        submit = functools.partial(remote.remote, task)  # -> in_own_process(task, kwargs) as a Ray task
        return _submit_throttled(ray, submit, jobs, workers, retries, admit)
    finally:
        if started:
            ray.shutdown()


def _slots(resources: dict[str, float], reserved: dict[str, float], can_grow: bool) -> int:
    """How many runs the cluster holds at once (at least 1). One that cannot hold a single run fails now
    when it cannot grow (our own local instance: Ray would wait forever); a cluster joined at an address
    may be an autoscaling one, so there it is said, and the runs wait for nodes to join."""
    fits = []
    for name, kind in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
        if not reserved[name]:
            continue
        have = resources.get(kind, 0)
        if have < reserved[name]:
            short = f"{kind.lower()}s_per_run={reserved[name]:g}: the Ray cluster has {have:g} {kind}s"
            if not can_grow:
                raise MnistlabError(
                    f"{short}; join a cluster whose nodes have them (--address), or reserve fewer per run"
                )
            reporter.warn(f"{short} now; the runs wait until nodes with them join (Ctrl-C to stop)")
        fits.append(int(have // reserved[name]))
    return max(1, min(fits, default=1))


def _ray_is_up() -> bool:
    """Whether this process is already connected to Ray (then no address is joined)."""
    return import_ray().is_initialized()


def _check_reachable(address: str) -> None:
    """A HOST:PORT nobody answers on fails now, in one line (ray.init would keep retrying for minutes)."""
    host, colon, port = address.rpartition(":")
    if "://" in address or not colon or not port.isdigit():
        return  # ray://..., "auto", or a form Ray itself will judge
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise MnistlabError(f"cannot join the Ray cluster at {address}: {error.strerror or error}") from None


def _submit_throttled(ray, submit, jobs, workers, retries, admit) -> tuple[dict[str, Any], dict[str, str]]:
    """At most `workers` tasks in flight (all at once when unset: Ray queues them by free CPUs)."""
    results, failures = {}, {}
    waiting = list(jobs)
    running: dict[Any, str] = {}  # ObjectRef -> job name
    while waiting or running:
        while waiting and (workers is None or len(running) < workers):
            job = waiting.pop(0)
            if admit is not None and not admit(job, results):
                waiting.clear()
                break
            running[submit(job.kwargs)] = job.name
        if not running:
            break
        (done,), _ = ray.wait(list(running), num_returns=1)
        name = running.pop(done)
        try:
            results[name] = ray.get(done)
        except ray.exceptions.RayTaskError as error:  # the task raised: its own message, not Ray's wrapper
            cause = error.cause
            failures[name] = (
                str(cause) if isinstance(cause, MnistlabError) else f"{type(cause).__name__}: {cause}"
            )
        except ray.exceptions.RayError as error:  # worker or node died more than `retries` times
            failures[name] = f"its worker died {retries + 1} times ({type(error).__name__})"
    return results, failures
