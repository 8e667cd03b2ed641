"""`python -m wasm_mcp build APP.py`: see `wasm_mcp.build`."""

import sys

from .build import main

sys.exit(main(sys.argv[1:]))
