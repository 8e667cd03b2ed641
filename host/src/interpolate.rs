//! Config values that say where they come from: `${env:NAME}` and
//! `${file:PATH}`, read once at load.
//!
//! Plugin settings and the secret headers of HTTP grants must not be written
//! into a config file that gets shared and committed, so a value may name an
//! environment variable or a file instead. `$${` stands for a literal `${`.
//! A variable that is unset, or a file that cannot be read, is an error at
//! load that names it: a plugin never runs with a setting silently empty.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// `value` with every `${env:NAME}` and `${file:PATH}` replaced. File paths
/// are relative to `base` (the config's folder); a file's value is its
/// content without the final line break.
pub fn resolve(value: &str, base: &Path) -> Result<String> {
    resolve_with(value, base, |name| std::env::var(name).ok())
}

/// [`resolve`] with the environment given as a function (for tests).
pub fn resolve_with(
    value: &str,
    base: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                bail!(
                    "`${{` without a closing `}}`: write `${{env:NAME}}`, `${{file:PATH}}`, or `$${{` for a literal `${{`"
                );
            };
            out.push_str(&source(&after[..end], base, &env)?);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `value` takes anything from the environment or a file.
pub fn is_indirect(value: &str) -> bool {
    value.replace("$${", "").contains("${")
}

fn source(reference: &str, base: &Path, env: &impl Fn(&str) -> Option<String>) -> Result<String> {
    if let Some(name) = reference.strip_prefix("env:") {
        if name.is_empty() {
            bail!("`${{env:}}` names no variable");
        }
        return env(name).with_context(|| {
            format!("the environment variable `{name}` (from `${{env:{name}}}`) is not set")
        });
    }
    if let Some(path) = reference.strip_prefix("file:") {
        if path.is_empty() {
            bail!("`${{file:}}` names no file");
        }
        let path = base.join(path);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {} (from `${{file:...}}`)", path.display()))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        return Ok(text.strip_suffix('\r').unwrap_or(text).to_string());
    }
    bail!(
        "`${{{reference}}}`: a value may take `${{env:NAME}}` or `${{file:PATH}}`; write `$${{` for a literal `${{`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn replaces_variables_files_and_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key.txt"), "from-file\n").unwrap();
        let got = resolve_with("Bearer ${env:TOKEN}", dir.path(), env).unwrap();
        assert_eq!(got, "Bearer s3cret");
        let got = resolve_with("k=${file:key.txt};", dir.path(), env).unwrap();
        assert_eq!(got, "k=from-file;");
        let got = resolve_with("cost: $5, $${env:TOKEN}", dir.path(), env).unwrap();
        assert_eq!(got, "cost: $5, ${env:TOKEN}");
        assert!(is_indirect("a ${env:X}"));
        assert!(!is_indirect("a $${env:X}"));
    }

    #[test]
    fn missing_sources_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = resolve_with("${env:NOPE}", dir.path(), env).unwrap_err();
        assert!(format!("{error:#}").contains("`NOPE`"), "{error:#}");
        let error = resolve_with("${file:absent}", dir.path(), env).unwrap_err();
        assert!(format!("{error:#}").contains("absent"), "{error:#}");
        let error = resolve_with("${home}", dir.path(), env).unwrap_err();
        assert!(format!("{error:#}").contains("env:NAME"), "{error:#}");
        assert!(resolve_with("${env:TOKEN", dir.path(), env).is_err());
    }
}
