"""Serving from several processes, each with its own listening socket on the same port (Linux).

    run_workers(config, workers=2)   # config: uvicorn.Config whose app is a picklable app factory

A request's work is mostly Python, which one process runs one thread at a time, so `mnistlab serve`
answers from one process per core. uvicorn's own supervisor hands every process the same listening
socket, and whichever process wakes first accepts: under 32 keep-alive clients one process held 28 of
the connections and the other 4, and two processes answered no more than one
(benchmarks/RESULTS.md, "Serving throughput"). Here each process binds its own socket with
SO_REUSEPORT, and the kernel spreads new connections over the sockets evenly by their addresses.

The parent only supervises: it restarts a process that dies after it started serving, stops with an
error when one cannot start at all, and on Ctrl-C or SIGTERM stops them all. Where SO_REUSEPORT does not
balance (not Linux), uvicorn's supervisor is used as it is.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time

from mnistlab.errors import MnistlabError

STEADY_S = 10.0  # a process that ran this long before dying is restarted; one dying sooner is broken
POLL_S = 0.5


def balanced() -> bool:
    """Whether the kernel balances connections across sockets sharing a port (Linux's SO_REUSEPORT)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket listening on host:port that other sockets of this user may share (SO_REUSEPORT)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def check_port(host: str, port: int) -> None:
    """MnistlabError when host:port cannot be served: a server already answers there (another mnistlab
    serve would otherwise share the port with it, SO_REUSEPORT allowing it), or another program holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    try:
        with socket.create_connection((address, port), timeout=0.5):
            pass
    except OSError:
        pass  # nobody answers: free, unless another program holds it without listening (below)
    else:
        raise MnistlabError(f"{host}:{port} is already in use by another server; choose another port")
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):  # not on Windows
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            probe.bind((host, port))  # bound, never listening: no connection can land on it
        except OSError as error:
            problem = f"cannot listen on {host}:{port} ({error.strerror})"
            raise MnistlabError(f"{problem}; choose another port") from None


def _serve_one(config, host: str, port: int) -> None:
    """A worker process: its own socket on the shared port, then uvicorn until told to stop."""
    import uvicorn

    sock = listening_socket(host, port, config.backlog)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(config, workers: int) -> None:
    """Serve config's app from `workers` processes until Ctrl-C or SIGTERM."""
    if not balanced():
        from uvicorn.supervisors import Multiprocess

        config.workers = workers
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or sessions forked

    def start():
        process = spawn.Process(target=_serve_one, args=(config, config.host, config.port), daemon=True)
        process.start()
        return process, time.monotonic()

    stopping = []
    previous = {sig: signal.signal(sig, lambda number, frame: stopping.append(number)) for sig in
                (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(POLL_S)
            for index, (process, started) in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if time.monotonic() - started < STEADY_S:
                    raise MnistlabError(
                        f"a server process stopped {time.monotonic() - started:.0f} s after it started "
                        f"(exit status {process.exitcode}); serve with one worker process to see why"
                    )
                processes[index] = start()
    finally:
        for process, _ in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits
        for process, _ in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
