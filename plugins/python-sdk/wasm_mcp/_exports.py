"""The component's exports: the WIT's `tools`, `prompts`, `resources` and
`completions`, served from what `@tool`, `@prompt` and `@resource` registered.

The build step (`python -m wasm_mcp build`) makes these the app's exports;
an app never subclasses a binding itself.
"""

from __future__ import annotations

import json
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import completions, prompts, resources, tools

# Every import the SDK may call, loaded while the component is built:
# componentize-py keeps only the imported interfaces the app loaded then.
from wit_world.imports import content, elicitation, files, logging, progress, roots, sampling  # noqa: F401

from ._content import to_tool_result
from ._host import ToolError, log
from ._offers import PROMPTS, RESOURCES, ResourceNotFound, complete, fill, find, message_content, read
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
        except Exception as error:
            failure = _failure(f"tool `{name}`", error, tools.CallError_Failed)
        raise Err(failure)


def _failure(what: str, error: Exception, failed):
    """A bug in the plugin: say what, keep the trace in the log."""
    log.error(f"{what} raised:\n{traceback.format_exc()}")
    return failed(f"{type(error).__name__}: {error}")


class Prompts(exports.Prompts):
    def list_prompts(self):
        listed = []
        for registered in PROMPTS.values():
            arguments = [
                prompts.Argument(argument.name, None, argument.description, argument.required)
                for argument in registered.arguments
            ]
            listed.append(prompts.Prompt(registered.name, registered.title, registered.description or None, arguments))
        return listed

    def get_prompt(self, name, arguments):
        registered = PROMPTS.get(name)
        if registered is None:
            raise Err(prompts.Error_NotFound(f"no prompt named `{name}`: this plugin has {', '.join(PROMPTS) or 'none'}"))
        failure = None
        try:
            messages = [
                prompts.Message(
                    content.Role.USER if message.role == "user" else content.Role.ASSISTANT,
                    message_content(message),
                )
                for message in fill(registered, arguments)
            ]
            return prompts.Filled(registered.description or None, messages)
        except InvalidArguments as wrong:
            failure = prompts.Error_InvalidArguments(str(wrong))
        except ToolError as error:
            failure = prompts.Error_Failed(str(error))
        except Exception as error:
            failure = _failure(f"prompt `{name}`", error, prompts.Error_Failed)
        raise Err(failure)


class Resources(exports.Resources):
    def list_resources(self):
        return [
            resources.Resource(r.uri, r.name, r.title, r.description, r.mime_type, None, None)
            for r in RESOURCES.values()
            if not r.is_template
        ]

    def list_templates(self):
        return [
            resources.Template(r.uri, r.name, r.title, r.description, r.mime_type, None)
            for r in RESOURCES.values()
            if r.is_template
        ]

    def read(self, uri):
        found = find(uri)
        if found is None:
            raise Err(resources.Error_NotFound(f"no resource at `{uri}`"))
        registered, variables = found
        failure = None
        try:
            mime_type, body = read(registered, variables, uri)
            wrapped = content.Body_Blob(body) if isinstance(body, bytes) else content.Body_Text(body)
            return [content.ResourceContents(uri, mime_type, wrapped)]
        except (ResourceNotFound, InvalidArguments) as missing:
            # A template variable that does not fit its hint names no resource either.
            failure = resources.Error_NotFound(str(missing) or f"no resource at `{uri}`")
        except ToolError as error:
            failure = resources.Error_Failed(str(error))
        except Exception as error:
            failure = _failure(f"resource `{uri}`", error, resources.Error_Failed)
        raise Err(failure)


class Completions(exports.Completions):
    def complete(self, reference, argument, value, context):
        offered = []
        if isinstance(reference, completions.Reference_Prompt) and reference.value in PROMPTS:
            offered = complete(PROMPTS[reference.value].arguments, argument, value)
        elif isinstance(reference, completions.Reference_ResourceTemplate) and reference.value in RESOURCES:
            offered = complete(RESOURCES[reference.value].arguments, argument, value)
        return completions.Completion(offered[:100], len(offered), len(offered) > 100)
