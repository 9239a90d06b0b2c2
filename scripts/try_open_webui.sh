#!/usr/bin/env bash
# Try docqa as a model in Open WebUI, offline, in a real headless Chromium (not run by CI).
#
#   scripts/try_open_webui.sh [FOLDER] [OUT]
#
# Ingests FOLDER (default: data/) into a temporary store, starts `docqa serve` and Open WebUI on
# free loopback ports (Open WebUI gets both connections to docqa: OpenAI at /v1 and Ollama at
# /, as a user would set them up), asks QUESTION in Open WebUI's page with the
# model MODEL, opens the first source chip and saves to OUT (default: a new temporary folder):
# answer.png, popup.png, page.json (what the page showed: chips, pop-up), chat.json and
# sources.json (the chat as Open WebUI saved it), logs/. Prints a summary of the sources.
#
# Open WebUI (~3 GB with CPU torch) is installed once into OWUI_VENV with torch pinned first, as
# an unpinned torch pulls a multi-GB CUDA build. Nothing else is downloaded at run time.
#
# Environment:
#   QUESTION      default "What is the latest stable release of Debian?" (its sources are PDF pages)
#   MODEL         the model to pick in the page: default docqa (as a user sees it: where both
#                 connections list an id, Open WebUI keeps one of them; page.json says which)
#   PREFIXES      set (=1) to give the connections prefix ids, so both stay apart: then MODEL
#                 defaults to openai.docqa (the OpenAI connection); ollama.docqa is the other
#   DOCQA         command that runs docqa (default: .venv/bin/python -m docqa, else docqa)
#   OWUI_VENV     default ~/.cache/docqa/open-webui-venv;  OWUI_PYTHON: Python 3.11 or 3.12 for it
#   OWUI_VERSION  default 0.12.4;  TORCH: default torch==2.13.0 (a CPU build where pip finds one;
#                 elsewhere add the CPU wheels' index to OWUI_PIP_ARGS, e.g. "--extra-index-url URL")
#   CHROMIUM      default /usr/bin/chromium-headless-shell (puppeteer-core from tests/browser)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

FOLDER=${1:-data}
OUT=${2:-$(mktemp -d "${TMPDIR:-/tmp}/docqa-owui-out-XXXXXX")}
QUESTION=${QUESTION:-What is the latest stable release of Debian?}
PREFIXES=${PREFIXES:-}
if [[ -n $PREFIXES ]]; then MODEL=${MODEL:-openai.docqa}; else MODEL=${MODEL:-docqa}; fi
OWUI_VENV=${OWUI_VENV:-$HOME/.cache/docqa/open-webui-venv}
OWUI_PYTHON=${OWUI_PYTHON:-$(command -v python3.11 || command -v python3.12 || echo python3)}
OWUI_VERSION=${OWUI_VERSION:-0.12.4}
TORCH=${TORCH:-torch==2.13.0}
if [[ -z ${DOCQA:-} ]]; then
    if [[ -x .venv/bin/python ]]; then DOCQA=".venv/bin/python -m docqa"; else DOCQA=docqa; fi
fi
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
say() { printf '==> %s\n' "$*" >&2; }

# 1. Open WebUI in its own venv (once)
if [[ ! -x $OWUI_VENV/bin/open-webui ]]; then
    say "installing Open WebUI $OWUI_VERSION into $OWUI_VENV (10-20 minutes; log: $OUT/logs/pip.log)"
    "$OWUI_PYTHON" -m venv "$OWUI_VENV"
    constraints=$OWUI_VENV/constraints.txt
    echo "$TORCH" >"$constraints"
    {
        "$OWUI_VENV/bin/pip" install ${OWUI_PIP_ARGS:-} "$TORCH"
        "$OWUI_VENV/bin/pip" install ${OWUI_PIP_ARGS:-} -c "$constraints" "open-webui==$OWUI_VERSION"
    } >"$OUT/logs/pip.log" 2>&1 || { tail -20 "$OUT/logs/pip.log" >&2; exit 1; }
fi
if [[ ! -d tests/browser/node_modules/puppeteer-core ]]; then
    say "installing puppeteer-core (npm ci in tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund >"$OUT/logs/npm.log" 2>&1)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/docqa-owui-XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$OWUI_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # URL SECONDS PID NAME
    local i
    for ((i = 0; i < $2; i++)); do
        curl -sf -o /dev/null "$1" && return 0
        kill -0 "$3" 2>/dev/null || { say "$4 exited; see $OUT/logs"; exit 1; }
        sleep 1
    done
    say "$4 did not answer at $1 within $2 s"
    exit 1
}

# 2. docqa: a temporary store, then the server
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
say "ingesting $FOLDER"
$DOCQA --store "$WORK/store" ingest "$FOLDER" --yes >"$OUT/logs/ingest.log" 2>&1 ||
    { tail -20 "$OUT/logs/ingest.log" >&2; exit 1; }
DOCQA_PORT=$(free_port)
$DOCQA --store "$WORK/store" serve --host 127.0.0.1 --port "$DOCQA_PORT" >"$OUT/logs/docqa.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$DOCQA_PORT/v1/models" 120 $! "docqa serve"
say "docqa serve on http://127.0.0.1:$DOCQA_PORT"

# 3. Open WebUI, offline, auth off, both connections to docqa
OWUI_PORT=$(free_port)
(
    cd "$WORK"
    export DATA_DIR=$WORK/open-webui WEBUI_SECRET_KEY=docqa-try-open-webui WEBUI_AUTH=False
    export OFFLINE_MODE=true HF_DATASETS_OFFLINE=1
    export SCARF_NO_ANALYTICS=true DO_NOT_TRACK=true ANONYMIZED_TELEMETRY=false
    export ENABLE_VERSION_UPDATE_CHECK=false ENABLE_COMMUNITY_SHARING=false
    export ENABLE_OPENAI_API=True OPENAI_API_BASE_URLS=http://127.0.0.1:$DOCQA_PORT/v1 OPENAI_API_KEYS=none
    if [[ -n $PREFIXES ]]; then
        export OPENAI_API_CONFIGS='{"0": {"enable": true, "prefix_id": "openai"}}'
        export OLLAMA_API_CONFIGS='{"0": {"enable": true, "prefix_id": "ollama"}}'
    fi
    export ENABLE_OLLAMA_API=True OLLAMA_BASE_URLS=http://127.0.0.1:$DOCQA_PORT
    # its own RAG stays off: no embedding model to load (none can be downloaded)
    export BYPASS_EMBEDDING_AND_RETRIEVAL=true RAG_EMBEDDING_MODEL= RAG_EMBEDDING_MODEL_AUTO_UPDATE=false
    export RAG_RERANKING_MODEL_AUTO_UPDATE=false WHISPER_MODEL_AUTO_UPDATE=false ENABLE_WEB_SEARCH=false
    # no extra model calls around the question (titles, tags, follow-ups)
    export ENABLE_TITLE_GENERATION=false ENABLE_TAGS_GENERATION=false
    export ENABLE_FOLLOW_UP_GENERATION=false ENABLE_AUTOCOMPLETE_GENERATION=false
    exec "$OWUI_VENV/bin/open-webui" serve --host 127.0.0.1 --port "$OWUI_PORT"
) >"$OUT/logs/open-webui.log" 2>&1 &
PIDS+=($!)
say "starting Open WebUI (about a minute)"
wait_for "http://127.0.0.1:$OWUI_PORT/health" 300 $! "Open WebUI"
say "Open WebUI $("$OWUI_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("open-webui"))') on http://127.0.0.1:$OWUI_PORT"

# 4. the page: pick MODEL, ask, open a source; then the summary
say "asking in Chromium: $QUESTION ($MODEL)"
status=0
node scripts/try_open_webui.mjs "http://127.0.0.1:$OWUI_PORT" "$OUT" "$MODEL" "$QUESTION" \
    2>"$OUT/logs/driver.log" || status=$?
"$OWUI_VENV/bin/python" - "$OUT" <<'EOF'
import collections
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])
page = json.loads((out / "page.json").read_text())
if page.get("error"):
    print("driver error:", page["error"].splitlines()[0])
print("answer:", (page.get("answer") or "").split("\n\nSources:")[0].strip()[:300])
print("model:", page.get("selected_model"), "from the", page.get("model_owned_by"), "connection")
print("chips:", (page.get("sources_button") or "none").replace("\n", " "))
for chip in page.get("chips", []):
    print("  ", chip["text"].replace("\n", " "))
print("answer's [n] pills:", page.get("inline_pills", []))
popup = page.get("popup") or {}
if popup:
    print("pop-up of chip 1:", popup["text"].split("\n")[0])
    print("   page / relevance badges:", popup["badges"])
    print("   links:", [link["href"] for link in popup["links"]])
print("requests off loopback:", page.get("outside_requests", []))
path = out / "sources.json"
sources = json.loads(path.read_text()) if path.exists() else []
print(f"saved sources: {len(sources)} entries")
# Open WebUI merges saved sources into one chip by metadata.source (else source.id)
def chip_id(s, i):
    meta = s["metadata"][i] if i < len(s.get("metadata") or []) else {}
    return meta.get("source") or s.get("source", {}).get("id") or "N/A"

copies = collections.Counter(chip_id(s, i) for s in sources for i in range(len(s.get("document", []))))
for s in sources:
    src = s.get("source", {})
    for i, doc in enumerate(s.get("document", [])):
        meta = s["metadata"][i] if i < len(s.get("metadata") or []) else {}
        dist = s["distances"][i] if i < len(s.get("distances") or []) else None
        print(
            f"  name={src.get('name')!r} metadata.source={meta.get('source')!r}"
            f" metadata.page={meta.get('page')!r} distance={dist!r}"
            f" entries_in_its_chip={copies[chip_id(s, i)]} document={doc[:45]!r}"
        )

# does each link open the page that holds its passage? (the PDF as docqa serves it, read by pypdf)
import io, logging, re, urllib.request

import pypdf

logging.getLogger("pypdf").setLevel(logging.ERROR)
norm = lambda text: re.sub(r"[^0-9a-z]", "", text.lower())
pdfs, checked = {}, set()
for s in sources:
    url = s.get("source", {}).get("url") or ""
    for i, doc in enumerate(s.get("document", [])):
        meta = s["metadata"][i] if i < len(s.get("metadata") or []) else {}
        link = url or meta.get("source") or ""
        base, _, fragment = link.partition("#")
        page = re.match(r"page=(\d+)", fragment)
        if not base.startswith("http") or not page or doc == s["source"].get("name"):
            continue
        if (link, doc) in checked:
            continue
        checked.add((link, doc))
        if base not in pdfs:
            with urllib.request.urlopen(base, timeout=30) as r:
                body = r.read()
            pdfs[base] = [norm(p.extract_text() or "") for p in pypdf.PdfReader(io.BytesIO(body)).pages]
        head = norm(doc)[:150]
        found = [n + 1 for n, text in enumerate(pdfs[base]) if head and head in text]
        if not found:
            middle = norm(doc)[len(norm(doc)) // 2 :][:60]
            found = [n + 1 for n, text in enumerate(pdfs[base]) if middle and middle in text]
        verdict = "right page" if int(page[1]) in found else "WRONG PAGE"
        print(f"  link {link} opens page {page[1]}; its passage is on page(s) {found}: {verdict}")
EOF
say "saved in $OUT"
exit "$status"
