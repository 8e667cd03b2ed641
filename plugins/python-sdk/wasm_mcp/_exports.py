"""The component's exports: the WIT's `tools` (and empty `prompts`,
`resources`, `completions`), served from what `@tool` registered.

The build step (`python -m wasm_mcp build`) makes these the app's exports;
an app never subclasses a binding itself.
"""

from __future__ import annotations

import json
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import prompts, tools

# Every import the SDK may call, loaded while the component is built:
# componentize-py keeps only the imported interfaces the app loaded then.
from wit_world.imports import content, elicitation, files, logging, progress, roots, sampling  # noqa: F401

from ._content import to_tool_result
from ._host import ToolError, log
from ._schema import InvalidArguments
from ._tools import TOOLS, invoke


class Tools(exports.Tools):
    def list_tools(self):
        listed = []
        for registered in TOOLS.values():
            hints = registered.annotations
            annotations = tools.Annotations(**hints) if any(v is not None for v in hints.values()) else None
            output = None if registered.output_schema is None else json.dumps(registered.output_schema)
            listed.append(
                tools.Tool(
                    registered.name,
                    registered.title,
                    registered.description,
                    json.dumps(registered.input_schema),
                    output,
                    annotations,
                )
            )
        return listed

    def call(self, name, arguments):
        registered = TOOLS.get(name)
        if registered is None:
            raise Err(tools.CallError_InvalidArguments(f"no tool named `{name}`: this plugin has {', '.join(TOOLS)}"))
        failure = None
        try:
            return to_tool_result(invoke(registered, arguments))
        except InvalidArguments as wrong:
            failure = tools.CallError_InvalidArguments(str(wrong))
        except ToolError as error:
            failure = tools.CallError_Failed(str(error))
        except Exception as error:  # a bug in the tool: say what, keep the trace in the log
            log.error(f"tool `{name}` raised:\n{traceback.format_exc()}")
            failure = tools.CallError_Failed(f"{type(error).__name__}: {error}")
        raise Err(failure)


class Prompts(exports.Prompts):
    def list_prompts(self):
        return []

    def get_prompt(self, name, arguments):
        raise Err(prompts.Error_NotFound(f"no prompt named `{name}`"))


class Resources(exports.Resources):
    def list_resources(self):
        return []

    def list_templates(self):
        return []

    def read(self, uri):
        from wit_world.exports import resources

        raise Err(resources.Error_NotFound(f"no resource at `{uri}`"))


class Completions(exports.Completions):
    def complete(self, reference, argument, value, context):
        from wit_world.exports import completions

        return completions.Completion([], None, False)
