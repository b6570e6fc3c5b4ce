"""``chartui serve [RUN]``: the same app in a web browser, through textual-serve.

Each browser tab that opens the page starts its own ``chartui ui`` process, driven by
Textual's web driver over a websocket. Bound to this machine (127.0.0.1) unless told
otherwise: whoever reaches the page drives the app, training included. On a GPU box, keep it
on loopback and forward the port over ssh (the README shows how).
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import socket
import sys

from chartui.console.render import print_json, stderr_console
from chartui.engine.runs import Run
from chartui.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535 (got {args.port})")
    if not args.host.strip():
        raise ConfigError("--host is empty; give 127.0.0.1 (this machine only) or an address to listen on")
    opened = Run.open(args.run) if args.run else None  # a bad RUN is an error here, not in each browser tab
    _check_port_free(args.host, args.port)
    try:
        from textual_serve.server import Server
    except ImportError:
        raise ConfigError("chartui serve needs textual-serve: pip install textual-serve") from None
    parts = [sys.executable, "-m", "chartui", "ui"]
    if opened is not None:
        parts.append(str(opened.path))
    for flag, value in (("--corpus", args.corpus), ("--preset", args.preset)):
        if value:
            parts += [flag, value]
    console = stderr_console()
    if not _loopback(args.host):
        console.print(
            f"warning: serving on {args.host}, not only this machine: anyone who can reach port {args.port} "
            "can drive the app, training included. Prefer 127.0.0.1 and an ssh tunnel.",
            style="yellow",
            markup=False,
        )
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{f'[{shown_host}]' if ':' in shown_host else shown_host}:{args.port}"  # an IPv6 address in brackets
    if args.json:
        print_json({"url": url, "host": args.host, "port": args.port, "run": str(opened.path) if opened else None})
        sys.stdout.flush()
    console.print(f"chartui is at {url} (Ctrl-C stops the server)", markup=False)
    server = Server(shlex.join(parts), host=args.host, port=args.port, title="chartui", public_url=args.public_url or url)
    server.serve()
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """A one-line error now for a port another program holds or an address that is not ours."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConfigError(f"--host {host}: no such address here; give 127.0.0.1 or one of this machine's addresses") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            why = "is in use by another program" if exc.errno in (98, 48, 10048) else f"cannot be used ({exc.strerror or exc})"
            raise ConfigError(f"port {port} on {host} {why}; give another --port") from None
