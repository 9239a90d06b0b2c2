"""Nothing leaves the machine: every dependency's usage-reporting switch is turned off.

``docqa/__init__.py`` imports this module before anything else, and importing it calls
:func:`disable_telemetry`: the switches are in the environment before onnxruntime,
huggingface_hub, transformers or sentence-transformers load (each reads its switch once, when it
loads or starts its reporter). The only network traffic
docqa makes is to the configured LLM and Qdrant URLs.

What each switch stops (checked against the installed versions):

- ``ORT_DISABLE_TELEMETRY``: onnxruntime 1.32 (the int8 embedder) looks up
  ``mobile.events.data.microsoft.com`` during ingest and ask and keeps a device id and queued
  events under ``~/.cache/Microsoft/DeveloperTools/`` (seen with ``strace -e connect,sendto``).
- ``HF_HUB_DISABLE_TELEMETRY`` (also read by transformers and sentence-transformers through
  huggingface_hub), ``DISABLE_TELEMETRY`` (older transformers) and ``DO_NOT_TRACK`` (the common
  convention, https://donottrack.sh/, read by huggingface_hub and others).
- ``GRADIO_ANALYTICS_ENABLED``, ``ANONYMIZED_TELEMETRY`` (chromadb), ``SCARF_NO_ANALYTICS``,
  ``POSTHOG_DISABLED`` and ``LLAMA_INDEX_DISABLE_TELEMETRY``: for libraries a user may load next
  to docqa in the same process (a notebook); docqa itself does not use them.
- ``NNCF_CI``: NNCF 3.4 (which quantizes the openvino-int8 embedder once per machine) builds an
  openvino_telemetry reporter without an opt-in dialog, so with no consent file it counts as
  consent. Under ``NNCF_CI`` (as under pytest) NNCF keeps a stub that sends nothing.

OpenVINO 2026.4 has no switch: ``import openvino`` starts openvino_telemetry's reporter (for its
model converter) without an opt-in dialog, which takes a missing consent file as consent and
writes a client id to ``~/intel/openvino_ga_cid`` (seen). :func:`quiet_openvino`, called before
docqa imports openvino or NNCF, makes that reporter read "declined" for this process.

llama-index-core, qdrant-client, qdrant-edge, fastembed, tqdm, ollama, httpx and xllamacpp report
nothing. The values are forced, not defaulted: docqa's promise does not depend on the shell.
"""

from __future__ import annotations

import os
import sys

TELEMETRY_SWITCHES: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "SCARF_NO_ANALYTICS": "true",
    "POSTHOG_DISABLED": "1",
    "LLAMA_INDEX_DISABLE_TELEMETRY": "1",
    "NNCF_CI": "1",
}
"""Environment variable -> the value that turns its library's reporting off."""


def disable_telemetry() -> None:
    """Set every switch in :data:`TELEMETRY_SWITCHES`; if onnxruntime is already loaded (a
    notebook imported it before docqa), also turn its events off through its own API."""
    os.environ.update(TELEMETRY_SWITCHES)
    ort = sys.modules.get("onnxruntime")
    off = getattr(ort, "disable_telemetry_events", None)
    if callable(off):
        off()


def quiet_openvino() -> None:
    """Decline openvino_telemetry's consent for this process (before ``import openvino``)."""
    try:
        from openvino_telemetry.utils import opt_in_checker  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return
    declined = opt_in_checker.ConsentCheckResult.DECLINED

    def check(self: object, enable_opt_in_dialog: bool, disable_in_ci: bool = False) -> object:
        return declined

    opt_in_checker.OptInChecker.check = check


disable_telemetry()
