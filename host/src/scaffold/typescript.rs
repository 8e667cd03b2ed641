//! `wasm-mcp new NAME --lang ts`: a TypeScript module with one `tool()`,
//! the TypeScript SDK vendored as `sdk/` (an npm workspace, with the WIT and
//! its generated types inside it), and its toolchain (componentize-js,
//! esbuild, zod, TypeScript) pinned for the project's `node_modules`.

use super::WIT;

/// The TypeScript SDK's files, vendored one by one.
const SDK: [(&str, &str); 25] = [
    (
        "sdk/package.json",
        include_str!("../../../plugins/ts-sdk/package.json"),
    ),
    (
        "sdk/bin/build.mjs",
        include_str!("../../../plugins/ts-sdk/bin/build.mjs"),
    ),
    (
        "sdk/scripts/types.mjs",
        include_str!("../../../plugins/ts-sdk/scripts/types.mjs"),
    ),
    (
        "sdk/src/content.ts",
        include_str!("../../../plugins/ts-sdk/src/content.ts"),
    ),
    (
        "sdk/src/errors.ts",
        include_str!("../../../plugins/ts-sdk/src/errors.ts"),
    ),
    (
        "sdk/src/exports.ts",
        include_str!("../../../plugins/ts-sdk/src/exports.ts"),
    ),
    (
        "sdk/src/host.ts",
        include_str!("../../../plugins/ts-sdk/src/host.ts"),
    ),
    (
        "sdk/src/index.ts",
        include_str!("../../../plugins/ts-sdk/src/index.ts"),
    ),
    (
        "sdk/src/offers.ts",
        include_str!("../../../plugins/ts-sdk/src/offers.ts"),
    ),
    (
        "sdk/src/sampling.ts",
        include_str!("../../../plugins/ts-sdk/src/sampling.ts"),
    ),
    (
        "sdk/src/schema.ts",
        include_str!("../../../plugins/ts-sdk/src/schema.ts"),
    ),
    (
        "sdk/src/tools.ts",
        include_str!("../../../plugins/ts-sdk/src/tools.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-ask.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-ask.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-completions.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-completions.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-content.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-content.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-elicitation.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-elicitation.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-files.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-files.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-logging.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-logging.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-progress.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-progress.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-prompts.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-prompts.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-resources.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-resources.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-roots.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-roots.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-sampling.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-sampling.d.ts"),
    ),
    (
        "sdk/types/interfaces/wasm-mcp-plugin-tools.d.ts",
        include_str!("../../../plugins/ts-sdk/types/interfaces/wasm-mcp-plugin-tools.d.ts"),
    ),
    (
        "sdk/types/plugin.d.ts",
        include_str!("../../../plugins/ts-sdk/types/plugin.d.ts"),
    ),
];

const APP_TS: &str = r#"// A wasm-mcp plugin. Each tool has a description, zod schemas for its
// arguments, and a handler whose return value is the result.
import { z } from 'zod';
import { Sample, append, tool } from '@wasm-mcp/sdk';

tool(
  'ask',
  {
    description: "Answers a question with the client's LLM and keeps a record of it.",
    inputSchema: { question: z.string().describe('What to ask.') },
    annotations: { destructive: false },
  },
  ({ question }) => {
    const answer = new Sample(question).system('Answer in one short paragraph.').maxTokens(300).send().text;
    append('answers.txt', `Q: ${question}\nA: ${answer}\n\n`);
    return answer;
  },
);
"#;

const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "target": "es2022",
    "module": "esnext",
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "strict": true,
    "skipLibCheck": true,
    "lib": ["es2022", "dom"],
    "types": []
  },
  "include": ["src", "sdk/src", "sdk/types"]
}
"#;

/// The version of `package` the SDK pins (the app uses the same).
fn pinned(package: &str) -> String {
    let manifest: serde_json::Value =
        serde_json::from_str(SDK[0].1).expect("the SDK's package.json");
    manifest["dependencies"][package]
        .as_str()
        .expect("the SDK pins it")
        .to_string()
}

/// The project's files, and the steps that build and try it.
pub fn files(name: &str) -> (Vec<(String, String)>, String) {
    let component = format!("{}.wasm", name.replace('-', "_"));
    let package = serde_json::json!({
        "name": name,
        "private": true,
        "type": "module",
        "workspaces": ["sdk"],
        "scripts": {
            "build": format!("wasm-mcp-build src/app.ts -o {component}"),
            "check": "tsc -p ."
        },
        "dependencies": { "@wasm-mcp/sdk": "0.2.0", "zod": pinned("zod") },
        "devDependencies": { "typescript": "5.9.3" }
    });
    let mut files: Vec<(String, String)> = vec![
        ("src/app.ts".into(), APP_TS.into()),
        (
            "package.json".into(),
            serde_json::to_string_pretty(&package).unwrap() + "\n",
        ),
        ("tsconfig.json".into(), TSCONFIG.into()),
        ("wasm-mcp.toml".into(), super::ask_config(name, &component)),
        (".gitignore".into(), "node_modules/\n*.wasm\n".into()),
    ];
    files.extend(SDK.map(|(path, text)| (path.to_string(), text.to_string())));
    files.extend(WIT.map(|(path, text)| (format!("sdk/{path}"), text.to_string())));
    let steps = "npm install\n  npm run build\n  wasm-mcp check --config wasm-mcp.toml\n  wasm-mcp call ask --arg question=\"Why is the sky blue?\" --config wasm-mcp.toml --llm human".to_string();
    (files, steps)
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendors_every_file_of_the_sdk() {
        super::super::assert_vendors_whole(
            &super::SDK,
            "ts-sdk",
            "sdk/",
            &[".ts", ".mjs", ".json"],
        );
    }
}
