//! `wasm-mcp new NAME --lang python`: a Python module with one `@tool`,
//! the Python SDK vendored as `wasm_mcp/` (with the WIT inside it), and
//! componentize-py pinned in `requirements.txt` for the project's `.venv`.

use super::WIT;

/// The Python SDK's sources, vendored file by file.
const SDK: [(&str, &str); 9] = [
    (
        "wasm_mcp/__init__.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/__init__.py"),
    ),
    (
        "wasm_mcp/__main__.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/__main__.py"),
    ),
    (
        "wasm_mcp/build.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/build.py"),
    ),
    (
        "wasm_mcp/_content.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/_content.py"),
    ),
    (
        "wasm_mcp/_exports.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/_exports.py"),
    ),
    (
        "wasm_mcp/_host.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/_host.py"),
    ),
    (
        "wasm_mcp/_offers.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/_offers.py"),
    ),
    (
        "wasm_mcp/_schema.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/_schema.py"),
    ),
    (
        "wasm_mcp/_tools.py",
        include_str!("../../../plugins/python-sdk/wasm_mcp/_tools.py"),
    ),
];

/// The toolchain, pinned to the version the SDK is tested with.
const REQUIREMENTS: &str = include_str!("../../../plugins/python-sdk/requirements.txt");

const APP_PY: &str = r#""""A wasm-mcp plugin. Each tool is a typed function: its docstring is the
description, its type hints the input schema, and what it returns the result."""

from wasm_mcp import Sample, append, tool


@tool(destructive=False)
def ask(question: str) -> str:
    """Answers a question with the client's LLM and keeps a record of it.

    Args:
        question: What to ask.
    """
    answer = Sample(question).system("Answer in one short paragraph.").max_tokens(300).send().text
    append("answers.txt", f"Q: {question}\nA: {answer}\n\n")
    return answer
"#;

/// The project's files, and the steps that build and try it.
pub fn files(name: &str) -> (Vec<(String, String)>, String) {
    let component = format!("{}.wasm", name.replace('-', "_"));
    let mut files: Vec<(String, String)> = vec![
        ("app.py".into(), APP_PY.into()),
        ("requirements.txt".into(), REQUIREMENTS.into()),
        ("wasm-mcp.toml".into(), super::ask_config(name, &component)),
        (".gitignore".into(), ".venv/\n__pycache__/\n*.wasm\n".into()),
    ];
    files.extend(SDK.map(|(path, text)| (path.to_string(), text.to_string())));
    files.extend(WIT.map(|(path, text)| (format!("wasm_mcp/{path}"), text.to_string())));
    let steps = format!(
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n  .venv/bin/python -m wasm_mcp build app.py -o {component}\n  wasm-mcp check --config wasm-mcp.toml\n  wasm-mcp call ask --arg question=\"Why is the sky blue?\" --config wasm-mcp.toml --llm human"
    );
    (files, steps)
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendors_every_file_of_the_sdk() {
        super::super::assert_vendors_whole(
            &super::SDK,
            "python-sdk/wasm_mcp",
            "wasm_mcp/",
            &[".py"],
        );
    }
}
