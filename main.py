"""Runboard: python main.py [--host H] [--port P] [--data-dir DIR] [--server URL] [--native]"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from app.config import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='runboard', description='Runboard control room')
    parser.add_argument('--host', help='listen address (default 127.0.0.1)')
    parser.add_argument('--port', type=int, help='listen port (default 8080)')
    parser.add_argument('--data-dir', type=Path, help='where the database, mirrors and worktrees live')
    parser.add_argument('--server', help='use the API of this Runboard server instead of hosting one')
    parser.add_argument('--native', action='store_true', help='open in a native desktop window')
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {
        k: v
        for k, v in {'host': args.host, 'port': args.port, 'data_dir': args.data_dir, 'server': args.server}.items()
        if v is not None
    }
    return Settings(**overrides)


if __name__ in {'__main__', '__mp_main__'}:
    from app.server import run

    arguments = parse_args()
    if arguments.native and not os.environ.get('DISPLAY') and not os.environ.get('WAYLAND_DISPLAY'):
        raise SystemExit('--native needs a display (DISPLAY or WAYLAND_DISPLAY); run under a desktop or xvfb-run')
    try:
        settings = settings_from(arguments)
    except ValidationError as exc:  # one line naming the variable, as every failed start says it
        from app.core.startup import settings_line

        print(f'runboard: cannot start: {settings_line(exc.errors())}', file=sys.stderr)
        raise SystemExit(2) from None
    run(settings, native=arguments.native)
