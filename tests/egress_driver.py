"""Run one ``docqa`` command with the socket layer watched; used by tests/test_privacy.py.

    python tests/egress_driver.py REPORT.json ingest DOCS -- search "a question"

Commands are separated by ``--`` and run one after the other in this process; the report lists
each one's exit code.

An audit hook (PEP 578) records every ``socket.connect``/``sendto``/``getaddrinfo``/
``gethostbyname`` whose address is neither loopback, a Unix socket, nor the host of
``DOCQA_LLM_URL`` / ``DOCQA_QDRANT_URL``, and every import of a library with a telemetry switch
made while that switch is off. Native code (onnxruntime's C++ reporter) does not pass through
Python's socket module; the test checks what it leaves on disk instead.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from typing import Any
from urllib.parse import urlsplit

# library -> the switch that must be on before it loads (see docqa.privacy)
SWITCHES = {
    "onnxruntime": "ORT_DISABLE_TELEMETRY",
    "huggingface_hub": "HF_HUB_DISABLE_TELEMETRY",
    "transformers": "HF_HUB_DISABLE_TELEMETRY",
    "sentence_transformers": "HF_HUB_DISABLE_TELEMETRY",
}
EVENTS = {"socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname"}


def allowed_hosts() -> set[str]:
    hosts = {"localhost", "localhost.localdomain", "ip6-localhost"}
    for var in ("DOCQA_LLM_URL", "DOCQA_QDRANT_URL"):
        host = urlsplit(os.environ.get(var, "")).hostname
        if host:
            hosts.add(host)
    return hosts


def is_allowed(host: Any, allowed: set[str]) -> bool:
    if host is None or isinstance(host, bytes):  # AF_UNIX paths (bytes: the abstract namespace)
        return True
    host = str(host)
    if host.startswith("/") or host in allowed or host == "":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def main() -> None:
    report_path, argv = sys.argv[1], sys.argv[2:]
    allowed = allowed_hosts()
    found: list[str] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in EVENTS:
            # connect/sendto: (socket, address); getaddrinfo/gethostbyname: (host, ...)
            target = args[1] if event in ("socket.connect", "socket.sendto") else args[0]
            host = target[0] if isinstance(target, tuple) else target
            if not is_allowed(host, allowed):
                found.append(f"{event} {target!r}")
        elif event == "import" and args[0] in SWITCHES and not os.environ.get(SWITCHES[args[0]]):
            found.append(f"import {args[0]} with {SWITCHES[args[0]]} unset")

    sys.addaudithook(hook)
    from docqa.cli import cli

    commands: list[list[str]] = [[]]
    for arg in argv:
        if arg == "--":
            commands.append([])
        else:
            commands[-1].append(arg)
    codes: list[int | str | None] = []
    for command in commands:
        try:
            cli.main(command, prog_name="docqa", standalone_mode=True)
            codes.append(0)
        except SystemExit as exc:
            codes.append(exc.code)
    with open(report_path, "w", encoding="utf-8") as out:
        json.dump({"violations": found, "exits": codes}, out)


if __name__ == "__main__":
    main()
