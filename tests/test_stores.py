"""Both Qdrant adapters against real engines: Qdrant Edge in tmp_path, qdrant-client ":memory:"."""

from __future__ import annotations

import gc
import math
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from docqa.config import Settings
from docqa.errors import IndexMismatchError, StoreError, StoreLockedError
from docqa.sparse import Bm25Encoder
from docqa.stores import Store, StorePoint, open_store
from docqa.stores._shared import RRF_K, RRF_WEIGHTS
from docqa.stores.edge import EdgeStore
from docqa.stores.server import ServerStore

DIM = 16
ENC = Bm25Encoder(("en", "fr"))
DOCS = [  # text, lang, sha256, files
    ("Les paquets sont installés automatiquement par le gestionnaire", "fr", "sha-fr", ["/d/a.md"]),
    ("La sauvegarde de la base de données se fait chaque nuit", "fr", "sha-fr", ["/d/a.md"]),
    ("Backups of the database run every night at midnight", "en", "sha-en", ["/d/b.md"]),
    ("Configure the network interface with a static address", "en", "sha-en", ["/d/b.md"]),
    ("Le réseau se configure dans le fichier interfaces", "fr", "sha-x", ["/d/c.md"]),
    ("Kernel modules load at boot from the initramfs", "en", "sha-x", ["/d/c.md"]),
]
LOCK_MESSAGE = "is in use by another docqa process"
SPARSE0 = ENC.encode_document("word", "en")
FILES = {"sha256": "s", "files": ["/d/s.md"]}


def unit(seed: int) -> list[float]:
    rnd = random.Random(seed)
    vector = [rnd.gauss(0.0, 1.0) for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def pid(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


def make_points() -> list[StorePoint]:
    return [
        StorePoint(
            id=pid(i),
            dense=unit(i),
            sparse=ENC.encode_document(text, lang),
            payload={"text": text, "lang": lang, "sha256": sha, "files": files, "position": i},
        )
        for i, (text, lang, sha, files) in enumerate(DOCS)
    ]


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = (
        EdgeStore(tmp_path / ".docqa", "docqa")
        if request.param == "edge"
        else ServerStore(QdrantClient(":memory:"), "docqa")
    )
    yield made
    made.close()


@pytest.fixture
def filled(store: Store) -> Store:
    store.ensure(DIM)
    store.upsert(make_points())
    return store


@pytest.fixture(scope="module", params=["edge", "server"])
def ready(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A filled store shared by the read-only tests (creating an Edge shard costs fsyncs)."""
    made: Store = (
        EdgeStore(tmp_path_factory.mktemp("ready"), "docqa")
        if request.param == "edge"
        else ServerStore(QdrantClient(":memory:"), "docqa")
    )
    made.ensure(DIM)
    made.upsert(make_points())
    yield made
    made.close()


def texts(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.payload["text"] for h in hits]


# --- shared suite -----------------------------------------------------------------------------


def test_empty_store_answers_without_a_collection(store: Store) -> None:
    assert store.dim() is None
    assert store.count() == 0
    assert store.search(unit(0), None, 3, mode="dense") == []
    assert list(store.points()) == []


def test_ensure_and_dim_round_trip(store: Store) -> None:
    store.ensure(DIM)
    assert store.dim() == DIM
    store.ensure(DIM)  # idempotent
    assert store.dim() == DIM
    assert store.count() == 0


def test_other_dim_is_an_index_mismatch(store: Store) -> None:
    store.ensure(DIM)
    with pytest.raises(IndexMismatchError, match=r"16-d vectors, the embedder makes 8-d.*reset"):
        store.ensure(8)


def test_upsert_and_count(ready: Store) -> None:
    assert ready.count() == len(DOCS)
    assert ready.count("sha-fr") == 2
    assert ready.count("missing") == 0


def test_upsert_same_ids_replaces(filled: Store) -> None:
    points = make_points()
    changed = [StorePoint(p.id, p.dense, p.sparse, {**p.payload, "position": 99}) for p in points]
    filled.upsert(changed)
    assert filled.count() == len(DOCS)
    assert {p.payload["position"] for p in filled.points()} == {99}


def test_delete_content_removes_only_that_content(filled: Store) -> None:
    filled.delete_content("sha-en")
    assert filled.count() == len(DOCS) - 2
    assert filled.count("sha-en") == 0
    assert filled.count("sha-fr") == 2
    left = list(filled.points())
    assert left and all(p.payload["sha256"] != "sha-en" for p in left)


def test_delete_content_can_keep_one_fingerprint(filled: Store) -> None:
    newer = [
        StorePoint(pid(100 + i), unit(i), p.sparse, {**p.payload, "fingerprint": "new"})
        for i, p in enumerate(make_points())
        if p.payload["sha256"] == "sha-fr"
    ]
    filled.upsert(newer)
    assert filled.count("sha-fr") == 4
    filled.delete_content("sha-fr", keep_fingerprint="new")
    assert {p.id for p in filled.points() if p.payload["sha256"] == "sha-fr"} == {
        p.id for p in newer
    }
    assert filled.count() == len(DOCS)


def test_unpublished_points_are_counted_but_never_searched(filled: Store) -> None:
    """Points with no ``files`` are a file being written: no search mode returns them."""
    hidden = [
        StorePoint(
            pid(200 + i), unit(i), ENC.encode_document(text, lang), {"sha256": "new", "files": []}
        )
        for i, (text, lang, _sha, _files) in enumerate(DOCS)
    ]
    filled.upsert(hidden)
    assert filled.count() == 2 * len(DOCS) and filled.count("new") == len(DOCS)
    query, words = unit(1), ENC.encode_query("database backups every night")
    for mode in ("dense", "bm25", "hybrid"):
        hits = filled.search(query, words, 50, mode=mode)  # type: ignore[arg-type]
        assert hits and all(h.payload["sha256"] != "new" for h in hits), mode
        where = filled.search(query, words, 50, mode=mode, where={"lang": ["en"]})  # type: ignore[arg-type]
        assert where and all(h.payload["sha256"] != "new" for h in where), mode
    filled.set_files("new", ["/d/new.md"])  # published: now found, by path too
    hits = filled.search(query, words, 50, mode="hybrid", files=["/d/new.md"])
    assert {h.id for h in hits} == {p.id for p in hidden}


def test_set_files_rewrites_payload_and_filter_finds_either_path(filled: Store) -> None:
    filled.set_files("sha-fr", ["/d/a.md", "/copy/a.md"])
    found = [p for p in filled.points() if p.payload["sha256"] == "sha-fr"]
    assert [p.payload["files"] for p in found] == [["/d/a.md", "/copy/a.md"]] * 2
    for path in ("/d/a.md", "/copy/a.md"):
        hits = filled.search(unit(0), None, 10, mode="dense", files=[path])
        assert {h.payload["sha256"] for h in hits} == {"sha-fr"} and len(hits) == 2
    filled.set_files("sha-fr", ["/copy/a.md"])
    assert filled.search(unit(0), None, 10, mode="dense", files=["/d/a.md"]) == []
    both = filled.search(unit(0), None, 10, mode="dense", files=["/copy/a.md", "/d/b.md"])
    assert {h.payload["sha256"] for h in both} == {"sha-fr", "sha-en"}


def test_dense_search_ranks_the_exact_vector_first(ready: Store) -> None:
    hits = ready.search(unit(3), None, 3, mode="dense")
    assert hits[0].id == pid(3)
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].dense_score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_bm25_finds_french_and_english_in_a_mixed_store(ready: Store) -> None:
    french = ready.search(None, ENC.encode_query("installer un paquet"), 3, mode="bm25")
    assert texts(french)[0] == DOCS[0][0]
    english = ready.search(None, ENC.encode_query("database backup"), 3, mode="bm25")
    assert texts(english)[0] == DOCS[2][0]
    assert all(h.dense_score is None for h in english)
    assert ready.search(None, ENC.encode_query("the of"), 3, mode="bm25") == []


def test_hybrid_fuses_both_lists_with_dense_scores(ready: Store) -> None:
    dense_q, sparse_q = unit(3), ENC.encode_query("sauvegarde de la base")
    dense = ready.search(dense_q, None, len(DOCS), mode="dense")
    bm25 = ready.search(None, sparse_q, len(DOCS), mode="bm25")
    hybrid = ready.search(dense_q, sparse_q, len(DOCS), mode="hybrid")
    assert {h.id for h in hybrid} == {h.id for h in dense} | {h.id for h in bm25}
    # The dense top hit and the BM25 top hit lead the fused list; RRF scores decrease.
    assert {h.id for h in hybrid[:2]} == {dense[0].id, bm25[0].id}
    assert [h.score for h in hybrid] == sorted((h.score for h in hybrid), reverse=True)
    by_id = {h.id: h.score for h in dense}
    for hit in hybrid:
        assert hit.dense_score == pytest.approx(by_id[hit.id], abs=1e-5)


def test_hybrid_scores_are_weighted_rrf_of_both_lists(ready: Store) -> None:
    # Qdrant's weighted RRF: sum over lists of 1 / ((rank + 1) / weight + k - 1), rank from 0.
    dense_q, sparse_q = unit(1), ENC.encode_query("sauvegarde de la base database backup")
    dense = ready.search(dense_q, None, len(DOCS), mode="dense")
    bm25 = ready.search(None, sparse_q, len(DOCS), mode="bm25")
    expected: dict[str, float] = {}
    for weight, hits in zip(RRF_WEIGHTS, (dense, bm25), strict=True):
        for rank, hit in enumerate(hits):
            term = 1 / ((rank + 1) / weight + RRF_K - 1)
            expected[hit.id] = expected.get(hit.id, 0.0) + term
    hybrid = ready.search(dense_q, sparse_q, len(DOCS), mode="hybrid")
    assert {h.id: h.score for h in hybrid} == pytest.approx(expected, abs=1e-6)


def test_hybrid_with_filter_and_fallbacks(ready: Store) -> None:
    sparse_q = ENC.encode_query("database backup")
    hits = ready.search(unit(0), sparse_q, 5, files=["/d/b.md"])
    assert {h.payload["sha256"] for h in hits} == {"sha-en"}
    only_dense = ready.search(unit(4), ENC.encode_query("the of"), 2, mode="hybrid")
    assert only_dense[0].id == pid(4)
    only_bm25 = ready.search(None, sparse_q, 2, mode="hybrid")
    assert texts(only_bm25)[0] == DOCS[2][0]
    with pytest.raises(ValueError, match="dense query vector"):
        ready.search(None, sparse_q, 2, mode="dense")


def test_points_read_back_vectors_and_payload(ready: Store) -> None:
    written = {p.id: p for p in make_points()}
    read = {p.id: p for p in ready.points(with_vectors=True)}
    assert read.keys() == written.keys()
    for point_id, point in read.items():
        assert point.dense == pytest.approx(written[point_id].dense, abs=1e-6)
        assert point.sparse.indices == written[point_id].sparse.indices
        assert point.sparse.values == pytest.approx(written[point_id].sparse.values, abs=1e-6)
        assert point.payload == written[point_id].payload
    bare = next(iter(ready.points()))
    assert bare.dense == () and bare.sparse.indices == ()


def test_points_scroll_past_one_page(store: Store) -> None:
    store.ensure(DIM)
    # Every other point has an empty BM25 vector (a chunk of stopwords only).
    points = [
        StorePoint(
            pid(i), unit(i), ENC.encode_document("word" if i % 2 else "the", "en"), {"files": ["f"]}
        )
        for i in range(600)
    ]
    store.upsert(points)
    read = list(store.points(with_vectors=True))
    assert len({p.id for p in read}) == 600
    assert sum(1 for p in read if not p.sparse.indices) == 300
    assert len(store.search(None, ENC.encode_query("words"), 1000, mode="bm25")) == 300


def test_drop_deletes_the_collection(filled: Store) -> None:
    filled.drop()
    assert filled.dim() is None
    assert filled.count() == 0
    filled.ensure(8)
    assert filled.dim() == 8


def test_both_adapters_rank_alike(tmp_path: Path) -> None:
    results = []
    for store in (EdgeStore(tmp_path, "docqa"), ServerStore(QdrantClient(":memory:"), "docqa")):
        with store:
            store.ensure(DIM)
            store.upsert(make_points())
            found = store.search(unit(1), ENC.encode_query("configurer le réseau"), 4)
            results.append([(h.id, round(h.score, 5)) for h in found])
    assert results[0] == results[1]


# --- Edge only --------------------------------------------------------------------------------


def test_edge_persists_across_close_and_reopen(tmp_path: Path) -> None:
    with EdgeStore(tmp_path, "docqa") as first:
        first.ensure(DIM)
        first.upsert(make_points())
    again = EdgeStore(tmp_path, "docqa")
    assert again.dim() == DIM
    assert again.count() == len(DOCS)
    assert again.search(unit(2), None, 1, mode="dense")[0].id == pid(2)
    assert again.size_bytes() > 0
    again.close()


CHILD = """
import sys
from pathlib import Path
from typing import Any
from docqa.errors import StoreLockedError
from docqa.stores.edge import EdgeStore
store = EdgeStore(Path(sys.argv[1]), "docqa", lock_wait_s=float(sys.argv[2]))
for step in (store.count, store.drop):
    try:
        step()
        print("ok")
    except StoreLockedError as exc:
        print("locked:", exc)
store.close()
"""


def run_child(root: Path, wait_s: float = 0.3) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(wait_s)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_edge_second_process_is_locked_out_until_close(tmp_path: Path) -> None:
    holder = EdgeStore(tmp_path, "docqa")
    holder.ensure(DIM)
    holder.upsert(make_points())
    lines = run_child(tmp_path)
    assert len(lines) == 2 and all(line.startswith("locked:") for line in lines)
    assert LOCK_MESSAGE in lines[0] and "close it (or the notebook" in lines[0]
    assert f"(pid {os.getpid()} " in lines[0], "the message names the process holding it"
    assert holder.count() == len(DOCS)  # the refused drop deleted nothing
    holder.close()
    assert run_child(tmp_path) == ["ok", "ok"]
    assert EdgeStore(tmp_path, "docqa").dim() is None


PROBER = """
import sys, time
from pathlib import Path
from docqa.errors import StoreLockedError
from docqa.stores.edge import EdgeStore
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    store = EdgeStore(Path(sys.argv[1]), "docqa")
    store.lock_wait_s = 0
    try:
        store.count()
    except StoreLockedError:
        pass
    finally:
        store.close()
"""


def test_edge_refused_opens_leave_the_holder_intact(tmp_path: Path) -> None:
    """qdrant-edge 0.9 touches a held shard's files before refusing a second opener: without
    docqa's own lock in front of it, the holder's next flush fails or its points vanish."""
    holder = EdgeStore(tmp_path, "docqa")
    holder.ensure(DIM)
    prober = subprocess.Popen([sys.executable, "-c", PROBER, str(tmp_path), "3"])
    try:
        for k in range(40):
            holder.upsert(
                [
                    StorePoint(str(uuid.UUID(int=1000 * k + i + 1)), unit(i), SPARSE0, FILES)
                    for i in range(5)
                ]
            )
            holder.flush()
            time.sleep(0.05)
    finally:
        assert prober.wait(timeout=60) == 0
    assert holder.count() == 200
    holder.close()
    with EdgeStore(tmp_path, "docqa") as again:
        assert again.count() == 200


def test_edge_waits_for_a_holder_that_lets_go(tmp_path: Path) -> None:
    """Another process meeting the shard held retries until it is released, within its wait."""
    holder = EdgeStore(tmp_path, "docqa")
    holder.ensure(DIM)
    holder.upsert(make_points())
    timer = threading.Timer(1.0, holder.release)
    timer.start()
    try:
        lines = run_child(tmp_path, wait_s=20)
    finally:
        timer.join()
    assert lines == ["ok", "ok"]


def test_edge_optimize_keeps_results(tmp_path: Path) -> None:
    with EdgeStore(tmp_path, "docqa") as store:
        store.ensure(DIM)
        store.upsert(
            [
                StorePoint(
                    pid(i), unit(i), ENC.encode_document(f"doc {i}", "en"), {"files": ["/d/s.md"]}
                )
                for i in range(500)
            ]
        )
        store.optimize()
        assert store.count() == 500
        assert store.search(unit(123), None, 1, mode="dense")[0].id == pid(123)


def test_edge_other_engine_errors_are_store_errors(tmp_path: Path) -> None:
    with EdgeStore(tmp_path, "docqa") as store:
        store.ensure(DIM)
        bad = StorePoint(pid(0), [1.0, 0.0], ENC.encode_document("x y", "en"), {})
        with pytest.raises(StoreError, match="Qdrant Edge failed on") as info:
            store.upsert([bad])
        assert "\n" not in str(info.value)
        assert not isinstance(info.value, StoreLockedError)


# --- server only ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_server_not_running_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreError, match="no Qdrant server at .*unset DOCQA_QDRANT_URL"):
        ServerStore.from_url(url, None, "docqa").count()


class _Refuse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.end_headers()
        self.wfile.write(b'{"status": "Unauthorized"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_server_refusing_the_key_says_which_setting() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = ServerStore.from_url(f"http://127.0.0.1:{server.server_port}", None, "docqa")
        with pytest.raises(StoreError, match="check DOCQA_QDRANT_API_KEY"):
            store.dim()
        store.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_local_path_opened_twice_is_locked(tmp_path: Path) -> None:
    holder = ServerStore.from_path(tmp_path / "local", "docqa")
    try:
        with pytest.raises(StoreLockedError, match=LOCK_MESSAGE):
            ServerStore.from_path(tmp_path / "local", "docqa")
        # qdrant-client leaks the refused instance's lock file handle: collect it here.
        gc.collect()
    finally:
        holder.close()


# --- factory and imports ----------------------------------------------------------------------


def test_open_store_picks_the_adapter(tmp_path: Path) -> None:
    edge = open_store(Settings(), tmp_path)
    assert isinstance(edge, EdgeStore) and edge.shard_path == tmp_path / "qdrant" / "docqa"
    remote = open_store(Settings(qdrant_url="http://127.0.0.1:1", collection="c"), tmp_path)
    assert isinstance(remote, ServerStore) and remote.collection == "c"
    remote.close()


class _OldServerClient(QdrantClient):
    """A local client that answers like a Qdrant server without parametrised RRF."""

    rejected = 0

    def query_points(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("query"), models.RrfQuery):
            type(self).rejected += 1
            body = b'{"status":{"error":"Format error in JSON body: unknown variant `rrf`"}}'
            raise UnexpectedResponse(400, "Bad Request", body, httpx.Headers())
        return super().query_points(*args, **kwargs)


def test_server_without_weighted_rrf_falls_back_to_plain_rrf(
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = ServerStore(_OldServerClient(":memory:"), "docqa")
    old.ensure(DIM)
    old.upsert(make_points())
    dense_q, sparse_q = unit(3), ENC.encode_query("sauvegarde de la base")
    with caplog.at_level("WARNING"):
        first = old.search(dense_q, sparse_q, 3, mode="hybrid")
        again = old.search(dense_q, sparse_q, 3, mode="hybrid")
    assert [h.id for h in first] == [h.id for h in again] and len(first) == 3
    assert _OldServerClient.rejected == 1  # asked once, then plain RRF straight away
    assert sum("plain RRF" in r.message for r in caplog.records) == 1
    # plain RRF is Qdrant's k = 2 with equal weights: the top hit scores 1/2 + 1/(2 + its rank)
    assert first[0].score >= 0.5
