"""The ``lcspr`` command: refer a case, see where it stands, record decisions, run the system.

The subcommands live in ``lcspr/review_commands.py`` and ``lcspr/system_commands.py``; each is
``(args, edge) -> exit code`` and calls one use case. :func:`main` builds the settings once
(or takes them, as the tests do), wires the App from them on first use, and turns every error
into one line and an exit code.

Exit codes: 0 done; 1 the system failed (e.g. the Prefect server is not running, a broken
audit chain); 2 the input was refused (a domain rule, an unknown reference, an invalid
file), with a one-line reason on stderr and nothing written.

Prefect is imported only once :func:`main` has pointed it at the local installation
(``PREFECT_HOME``, ``PREFECT_API_URL``), because Prefect reads its settings when it is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable

from pydantic import ValidationError

from lcspr import review_commands, system_commands
from lcspr.console import Edge, Handler, UserError
from lcspr.settings import Settings
from models.errors import ConfigurationError, NotFound, Refused, Unavailable
from models.lifecycle import describe_validation_error
from services.app import App


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lcspr", description="Local Child Safeguarding Practice Reviews: the case register and its flows.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # `up` first, then the review commands, then the rest of the system's (the order of --help).
    for add in [system_commands.add_up, *review_commands.COMMANDS,
                *(c for c in system_commands.COMMANDS if c is not system_commands.add_up)]:
        add(sub)
    return parser


def point_prefect_at(settings: Settings) -> None:
    """Use the local installation's Prefect (unless the environment already names one)."""
    from lcspr.up import prefect_env

    wanted = prefect_env(settings)
    for name in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_UI_URL"):
        os.environ.setdefault(name, wanted[name])


def connect(settings: Settings) -> App:
    """The real App (imported here: it loads Prefect, which must be pointed first)."""
    from lcspr.bootstrap import bootstrap

    return bootstrap(settings)


def main(argv: Iterable[str] | None = None, *, settings: Settings | None = None,
         app: Callable[[Settings], App] = connect) -> int:
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        settings = settings or Settings()
        if args.command != "up":
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


if __name__ == "__main__":
    sys.exit(main())
