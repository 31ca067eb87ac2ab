#!/usr/bin/env python3
"""A local gate: jitgate in a real Envoy 1.40 in front of an upstream of yours.

usage: e2e/gate.py --config C.json --upstream HOST:PORT [--listen 127.0.0.1:10000]
                   [--admin-port 9901] [--filter target/jitgate_filter.wasm]

Renders the bootstrap (deploy/render.py, the shipped envoy.yaml with your configuration,
filter file and ports), starts target/envoy-venv/bin/envoy (make envoy-setup) with two
workers, prints the curl lines to try and then the audit lines as they come; Ctrl-C
stops Envoy. The configuration is refused the way Envoy refuses it (its log is printed).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import envoyrun as er


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"`{text}` is not HOST:PORT")
    return host, int(port)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="gate.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, type=Path)
    ap.add_argument("--upstream", required=True, type=host_port, metavar="HOST:PORT")
    ap.add_argument("--listen", type=host_port, default=("127.0.0.1", 10000), metavar="HOST:PORT")
    ap.add_argument("--admin-port", type=int, default=9901)
    ap.add_argument("--filter", type=Path, default=er.FILTER)
    a = ap.parse_args(argv[1:])
    cfg = er.render.resolve(json.loads(a.config.read_text(encoding="utf-8")), [])
    tmp = er.workdir("jitgate-gate-")
    e = er.Envoy(config=cfg, workdir=tmp, upstream_port=a.upstream[1], upstream_host=a.upstream[0],
                 listen_address=a.listen[0], port=a.listen[1], admin_port=a.admin_port, wasm=a.filter, name="gate")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        try:
            e.start()
        except (RuntimeError, TimeoutError) as err:
            print(f"gate.py: {err}", file=sys.stderr)
            return 1
        base = f"http://{a.listen[0]}:{a.listen[1]}"
        header = cfg.get("token", {}).get("header", "x-jit-approval")
        print(f"[envoy {er.envoy_version()}] jitgate on {base} -> {a.upstream[0]}:{a.upstream[1]}; "
              f"admin http://127.0.0.1:{a.admin_port}; bootstrap {e.bootstrap_path}; log {e.log_path}")
        print(f"  curl -i {base}/healthz")
        print(f"  curl -i -H \"{header}: $TOKEN\" {base}/orders    # TOKEN from `jitgate token sign`")
        print(f"  curl -s http://127.0.0.1:{a.admin_port}/stats?filter=wasmcustom.jitgate")
        print("Ctrl-C stops Envoy. Audit records:")
        shown = 0
        while e.proc.poll() is None:
            audits = e.audits()
            for record in audits[shown:]:
                print("  audit:", json.dumps(record, separators=(",", ":")), flush=True)
            shown = len(audits)
            time.sleep(0.5)
        print(f"gate.py: Envoy exited ({e.proc.returncode}):\n{e.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        e.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
