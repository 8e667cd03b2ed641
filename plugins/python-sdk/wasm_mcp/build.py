"""`python -m wasm_mcp build app.py [-o app.wasm]`: a Python module with
`@tool` functions, built into a wasm-mcp component with componentize-py.

The app never names the WIT or subclasses a binding: this step writes a
small entry module that imports the app (registering its tools) and makes
the SDK's classes the component's exports, then runs componentize-py with
the WIT shipped inside the SDK. Pure-Python packages installed in the same
environment are bundled when the app imports them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ENTRY = "wasm_mcp_entry"
WORLD = "plugin"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m wasm_mcp", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a Python module into a component")
    build.add_argument("app", type=Path, help="the module with the @tool functions, e.g. app.py")
    build.add_argument("-o", "--output", type=Path, help="the component to write (default: APP.wasm beside the app)")
    args = parser.parse_args(argv)

    app: Path = args.app
    if app.suffix != ".py" or not app.is_file():
        parser.error(f"{app} is not a Python file: pass the module with your @tool functions, such as app.py")
    module = app.stem
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", module) or module in (ENTRY, "wasm_mcp", "wit_world"):
        parser.error(f"{app.name} cannot be imported as a module: rename it (letters, digits and _, not wasm_mcp)")
    output = (args.output or app.with_suffix(".wasm")).resolve()
    sdk = Path(__file__).resolve().parent
    wit = sdk / "wit"
    if not (wit / "plugin.wit").is_file():
        print(f"error: the SDK's WIT is missing at {wit}: reinstall the SDK", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="wasm-mcp-build-") as scratch:
        Path(scratch, f"{ENTRY}.py").write_text(
            f"import {module}  # noqa: F401 -- registers the app's tools\n"
            "from wasm_mcp._exports import Completions, Prompts, Resources, Tools  # noqa: F401\n"
        )
        search = [scratch, str(app.resolve().parent), str(sdk.parent)]
        site = sysconfig.get_paths()["purelib"]
        if Path(site).is_dir() and site not in search:
            search.append(site)
        command = [
            sys.executable,
            "-c",
            "import sys, componentize_py; sys.argv[0] = 'componentize-py'; sys.exit(componentize_py.script())",
            "-d",
            str(wit),
            "-w",
            WORLD,
            "componentize",
            ENTRY,
            "-o",
            str(output),
        ]
        for path in search:
            command[-2:-2] = ["-p", path]
        environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        done = subprocess.run(command, env=environment)
    if done.returncode != 0:
        print(f"error: componentize-py could not build {app} (its message is above)", file=sys.stderr)
        return done.returncode
    print(f"built {output} ({output.stat().st_size / 1e6:.1f} MB)")
    return 0
