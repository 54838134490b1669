"""The embedded server stops cleanly, whatever is in flight, from whichever thread asks."""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from app import app as chalice_app
from chalice.app import Chalice

from beian.server import Listener, build_server, create_listener

pytestmark = pytest.mark.parametrize("backend_env", ["embedded"], indirect=True)


@pytest.fixture
def thread_errors(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    """``thread_errors()``: every exception a thread died of so far, and every error waitress
    logged (a worker writing to the closed wake-up pipe, EBADF, is logged, not raised)."""
    died: list[str] = []
    previous = threading.excepthook

    def record(args: threading.ExceptHookArgs) -> None:
        died.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")

    def seen() -> list[str]:
        return died + [f"waitress: {entry.getMessage()} {entry.exc_info[1] if entry.exc_info else ''}"
                       for entry in caplog.records if entry.name.startswith("waitress")
                       and entry.levelno >= logging.ERROR]

    threading.excepthook = record
    caplog.set_level(logging.WARNING, logger="waitress")
    try:
        yield seen
    finally:
        threading.excepthook = previous


def started(site: Path) -> tuple[Listener, threading.Thread, str]:
    listener = create_listener(build_server(chalice_app, site), "127.0.0.1", 0)
    thread = threading.Thread(target=listener.run, name="server-loop", daemon=True)
    thread.start()
    return listener, thread, f"http://127.0.0.1:{listener.port}"


def hammer(url: str, until: threading.Event, answered: list[int]) -> None:
    with requests.Session() as session:  # keep-alive: open channels when the stop comes
        while not until.is_set():
            try:
                answered.append(session.get(f"{url}/api/health", timeout=5).status_code)
            except requests.RequestException:
                return  # the server went away mid-request: expected once it stops


def test_stopping_under_load_closes_everything_without_a_thread_error(
        backend_env: dict[str, str], tmp_path: Path, thread_errors: Callable[[], list[str]]) -> None:
    for _ in range(5):
        listener, loop, url = started(tmp_path)
        done, answered = threading.Event(), []
        clients = [threading.Thread(target=hammer, args=(url, done, answered)) for _ in range(6)]
        for client in clients:
            client.start()
        while len(answered) < 20:
            loop.join(0.01)
        listener.stop()
        loop.join(timeout=40)
        done.set()
        for client in clients:
            client.join(timeout=10)
        assert not loop.is_alive(), "the server did not stop"
        assert set(answered) == {200}
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/api/health", timeout=5)
    assert thread_errors() == []


def test_the_stop_wakes_the_loop_before_the_loop_can_close_its_wake_up_pipe(
        backend_env: dict[str, str], tmp_path: Path, thread_errors: Callable[[], list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop may wake for a worker's reply between the stop queueing its closing work and
    writing its own wake-up byte. That closing work must not run before the byte is written."""
    listener, loop, _ = started(tmp_path)
    trigger = listener._server.trigger
    pull, about_to_write = trigger._physical_pull, threading.Event()

    def slow_pull() -> None:
        if threading.current_thread().name == "beian-stop":
            about_to_write.set()
            time.sleep(0.3)  # meanwhile a worker's reply wakes the loop
        pull()

    monkeypatch.setattr(trigger, "_physical_pull", slow_pull)
    listener.stop()
    assert about_to_write.wait(timeout=40)
    os.write(trigger.trigger, b"x")  # what a worker handing the loop its reply writes
    loop.join(timeout=40)
    for stopping in [thread for thread in threading.enumerate() if thread.name == "beian-stop"]:
        stopping.join(timeout=40)
    assert not loop.is_alive()
    assert thread_errors() == []


def test_stop_can_come_twice_and_from_the_servers_own_thread(
        backend_env: dict[str, str], tmp_path: Path, thread_errors: Callable[[], list[str]]) -> None:
    listener, loop, url = started(tmp_path)
    assert requests.get(f"{url}/api/health", timeout=5).status_code == 200
    # What the SIGTERM handler does: it runs on the thread that runs the loop.
    listener._server.trigger.pull_trigger(listener.stop)
    listener.stop()
    loop.join(timeout=40)
    assert not loop.is_alive()
    assert thread_errors() == []


def test_the_server_refuses_an_app_that_shares_one_request_between_threads(
        backend_env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="ThreadSafeChalice"):
        build_server(Chalice(app_name="shared"), tmp_path)  # type: ignore[arg-type]


def test_the_server_answers_when_its_descriptors_are_past_select_s_limit(
        backend_env: dict[str, str], tmp_path: Path, thread_errors: Callable[[], list[str]]) -> None:
    """select() cannot watch a descriptor numbered 1024 or more; a server that has many
    connections and files open must still answer (its loop polls)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, f"the test needs 2048 descriptors; the hard limit is {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    pipes = [os.pipe() for _ in range(600)]
    try:
        listener, loop, url = started(tmp_path)
        assert listener._server.socket.fileno() >= 1024
        assert requests.get(f"{url}/api/health", timeout=10).status_code == 200
        listener.stop()
        loop.join(timeout=40)
        assert not loop.is_alive()
    finally:
        for pipe in pipes:
            for descriptor in pipe:
                os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert thread_errors() == []
