"""What ``docqa serve`` adds over calling the library in-process, and how it holds 8 clients.

Store: the repo's data/ with the default embedder (benchmarks/.cache/answer/, shared with
answer_overhead.py). The server runs in this process on a free loopback port (real uvicorn).

- *overhead*: the same questions through ``Session.ask`` in-process and through
  ``POST /v1/chat/completions`` (not streamed, then streamed to the last byte), with an LLM that
  answers at once, so the difference is HTTP, JSON, the thread hops and the citation rendering.
- *first token*: SmolLM2-135M in-process (1 thread, 32 tokens): from the call to the first
  piece in-process, and to the first content delta over HTTP.
- *load*: 8 clients asking in a loop for ``--seconds`` (default 60) over SmolLM2 in-process
  (one request at a time, the rest queued): errors, latency p50/p95, queue wait p50/p95.

Run: ``.venv/bin/python benchmarks/serve.py [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable

import httpx
from answer_overhead import QUESTIONS, STORE, InstantLLM

import docqa
from docqa.config import Settings
from docqa.embedding import make_embedder
from docqa.server import start
from docqa.server.streams import Gate
from docqa.session import Session, close_sessions

HERE_DATA = STORE.parents[3] / "data"


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _interleaved(fns: list[Callable[[str], object]], rounds: int) -> list[list[float]]:
    """Milliseconds per call of each function, called in turn on each question (so that load
    from elsewhere on the machine falls on all of them alike); one warm-up call each."""
    for fn in fns:
        fn(QUESTIONS[0])
    times: list[list[float]] = [[] for _ in fns]
    for r in range(rounds):
        for q in QUESTIONS:
            order = list(enumerate(fns))
            if r % 2:
                order.reverse()
            for i, fn in order:
                started = time.perf_counter()
                fn(q)
                times[i].append((time.perf_counter() - started) * 1000)
    return times


def _body(q: str, stream: bool = False) -> dict[str, object]:
    return {"model": "docqa", "messages": [{"role": "user", "content": q}], "stream": stream}


def _first_delta(client: httpx.Client, q: str) -> float:
    started = time.perf_counter()
    with client.stream("POST", "/v1/chat/completions", json=_body(q, True)) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    if choice["delta"].get("content"):
                        return time.perf_counter() - started
    return float("nan")


def overhead(settings: Settings, rounds: int) -> None:
    session = Session(settings, embedder=make_embedder(settings), llm=InstantLLM())  # type: ignore[arg-type]
    with start(settings, session=session) as server, httpx.Client(base_url=server.url) as client:

        def streamed(q: str) -> None:
            with client.stream("POST", "/v1/chat/completions", json=_body(q, True)) as r:
                for _ in r.iter_bytes():
                    pass

        local, plain, sse = _interleaved(
            [
                lambda q: session.ask(q),
                lambda q: client.post("/v1/chat/completions", json=_body(q)).json(),
                streamed,
            ],
            rounds,
        )
    session.close()
    p50 = statistics.median
    base = p50(local)
    print(f"overhead (instant LLM, {len(local)} questions each), p50: in-process {base:.1f} ms,")
    print(
        f"  HTTP {p50(plain):.1f} ms (+{p50(plain) - base:.1f}), "
        f"streamed {p50(sse):.1f} ms (+{p50(sse) - base:.1f})"
    )


def first_token(session: Session, url: str, rounds: int) -> None:
    def local(q: str) -> float:
        started = time.perf_counter()
        stream = session.ask(q, stream=True)
        for _piece in stream:
            return time.perf_counter() - started
        return float("nan")

    with httpx.Client(base_url=url, timeout=300) as client:
        firsts: list[list[float]] = [[], []]
        for r in range(rounds):
            for q in QUESTIONS:  # in turn, the order flipped every round
                pair = [(0, local), (1, lambda q: _first_delta(client, q))]
                for i, fn in pair if r % 2 == 0 else reversed(pair):
                    firsts[i].append(fn(q) * 1000)
    lib, http = (statistics.median(f) for f in firsts)
    print(
        f"first token, SmolLM2-135M in-process, p50 over {len(firsts[0])} questions: library "
        f"{lib:.0f} ms, over HTTP {http:.0f} ms (+{http - lib:.0f} ms)"
    )


def load(url: str, gate: Gate, seconds: float, clients: int = 8) -> None:
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as http:
            i = n
            while time.monotonic() < stop:
                q = QUESTIONS[i % len(QUESTIONS)]
                i += 1
                started = time.perf_counter()
                try:
                    response = http.post("/v1/chat/completions", json=_body(q))
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.text[:80]}")
                        continue
                    response.json()["choices"][0]["message"]["content"]
                except httpx.HTTPError as error:
                    errors.append(repr(error))
                    continue
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    waits = list(gate.waits)
    print(
        f"{clients} clients for {seconds:.0f} s (SmolLM2 in-process, one at a time): "
        f"{len(latencies)} answers, {len(errors)} errors; latency p50 {_q(latencies, 0.5):.1f} s, "
        f"p95 {_q(latencies, 0.95):.1f} s; queue wait p50 {_q(waits, 0.5):.1f} s, "
        f"p95 {_q(waits, 0.95):.1f} s"
    )
    for error in errors[:3]:
        print("  error:", error)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(store=STORE, llm="gguf", max_tokens=32, num_ctx=2048, threads=1)
    if not (STORE / "manifest.sqlite").is_file():
        docqa.ingest(HERE_DATA, settings)
        close_sessions()  # the benchmark's own sessions open the store
    overhead(settings, args.rounds)
    session = Session(settings)
    with start(settings, session=session, queue=8) as server:
        first_token(session, server.url, max(1, args.rounds // 2))
        if args.seconds > 0:
            server.serving.gate.waits.clear()
            load(server.url, server.serving.gate, args.seconds)
    session.close()


if __name__ == "__main__":
    main()
