"""The ``lcspr`` command: refer a case, see where it stands, record decisions, run the system.

The subcommands live in ``lcspr/review_commands.py``, ``lcspr/meeting_commands.py``,
``lcspr/quality_commands.py``, ``lcspr/theme_commands.py``, ``lcspr/calendar_command.py``,
``lcspr/report_command.py``, ``lcspr/system_commands.py`` and ``lcspr/scan_command.py``; each is
``(args, edge) -> exit code`` and calls one use case. :func:`main` builds the settings once
(or takes them, as the tests do), wires the App from them on first use, and turns every error
into one line and an exit code.

Exit codes: 0 done; 1 the system failed (e.g. the Prefect server is not running, a broken
audit chain); 2 the input was refused (a domain rule, an unknown reference, an invalid
file), with a one-line reason on stderr and nothing written; 141 the reader of the output
went away (``lcspr list | head``). A refusal never quotes the refused text back.

Prefect is imported only once :func:`main` has pointed it at the local installation
(``PREFECT_HOME``, ``PREFECT_API_URL``), because Prefect reads its settings when it is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import ValidationError

from lcspr import (
    calendar_command,
    meeting_commands,
    quality_commands,
    report_command,
    review_commands,
    scan_command,
    system_commands,
    theme_commands,
)
from lcspr.console import Edge, Handler, Parser, UserError
from lcspr.settings import Settings
from models.errors import ConfigurationError, NotFound, Refused, Unavailable
from models.lifecycle import describe_validation_error
from services.app import App


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="lcspr", description="Local Child Safeguarding Practice Reviews: the case register and its flows.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `up` first, then the review commands, then the rest of the system's (the order of --help).
    for add in [system_commands.add_up, *review_commands.COMMANDS, *meeting_commands.COMMANDS,
                *quality_commands.COMMANDS, *theme_commands.COMMANDS,
                *calendar_command.COMMANDS, *report_command.COMMANDS,
                *(c for c in system_commands.COMMANDS if c is not system_commands.add_up), *scan_command.COMMANDS]:
        add(sub)
    return parser


# `up` points its children at Prefect itself; `scan` and `workdays` never touch it (nor create <home>).
OWN_PREFECT_OR_NONE = {"up", "scan", "workdays"}


def point_prefect_at(settings: Settings) -> None:
    """Use the local installation's Prefect (unless the environment already names one)."""
    from lcspr.up import client_auth_env, prefect_env

    wanted = prefect_env(settings)
    for name in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_UI_URL"):
        os.environ.setdefault(name, wanted[name])
    # Prefect warns on import when its home cannot be created (a fresh machine has no <home> yet).
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    # The password `lcspr up --auth` wrote (settings.auth_path), for this installation's server only.
    os.environ.update(client_auth_env(settings, os.environ))


def connect(settings: Settings) -> App:
    """The real App (imported here: it loads Prefect, which must be pointed first)."""
    from lcspr.bootstrap import bootstrap

    return bootstrap(settings)


def main(argv: Iterable[str] | None = None, *, settings: Settings | None = None,
         app: Callable[[Settings], App] = connect) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as stop:  # --help (0), or a mistake in the arguments: one line already printed (2)
        return stop.code if isinstance(stop.code, int) else 2
    try:
        settings = settings or Settings()
        if args.command not in OWN_PREFECT_OR_NONE:
            point_prefect_at(settings)
        handler: Handler = args.handler
        return handler(args, Edge(settings, app))
    except ValidationError as exc:
        print(f"lcspr {args.command}: {describe_validation_error(exc, 'The input')}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"lcspr {args.command}: refused: {exc.reason}", file=sys.stderr)
        return 2
    except (NotFound, UserError) as exc:
        print(f"lcspr {args.command}: {exc}", file=sys.stderr)
        return 2
    except (Unavailable, ConfigurationError) as exc:
        print(f"lcspr {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`lcspr list | head`): stop quietly, and keep Python's own flush at
        # exit from failing on the closed pipe too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
