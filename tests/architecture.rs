//! The architecture of `src/`, checked on its source.
//!
//! The layering: every top-level module may use only the modules below it in [`LAYERS`]. This
//! test reads the source, finds every `crate::` path (also inside `use crate::{a::.., b::{..}}`
//! groups, and `super::` paths that climb to the crate root), maps it to its top-level module,
//! and fails naming the file and the path that points up (or sideways, to another module of the
//! same rank).
//!
//! The size: no file has more than [`MAX_LINES_BEFORE_TESTS`] lines before its unit tests; the
//! test names every file that does.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

/// The top-level modules of `src/`, bottom first. A module may use those on earlier lines only.
/// Modules on one line are peers and must not use each other.
const LAYERS: &[&[&str]] = &[
    // Leaves: no crate paths at all.
    &["time", "draining", "repo"],
    // The repository allow-list and tool switches, parsed once by `config`.
    &["policy"],
    &["config"],
    &["healthcheck"],
    // MCP's wire types.
    &["mcp"],
    // A session's outgoing event stream: numbered, replayable; the transports frame it.
    &["outlet"],
    &["metrics"],
    // Replicas sharing a Redis: the directory of live replicas (and the shared rules the
    // GitHub gateway will keep through it).
    &["cluster"],
    // The whole GitHub stack, the gateway actor included.
    &["github"],
    &["auth"],
    // What a handler knows about its call, and the handler traits.
    &["call"],
    // The features.
    &["tools"],
    &["resources"],
    &["prompts"],
    &["completions"],
    &["features"],
    // The conformance suite's fixture features, served beside ours when asked.
    &["conformance"],
    // Method routing, callable without a session.
    &["dispatch"],
    &["actors"],
    &["shutdown"],
    &["http"],
    // The binary's command line: text and argument parsing for `main`.
    &["cli"],
    // `lib.rs` itself wires everything.
    &["lib"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// A file's module path below the crate root: `src/github/gateway/call.rs` is
/// `["github", "gateway", "call"]`; `src/lib.rs` is `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "lib" | "main" | "mod") {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without comments and the contents of string and char literals, so that a
/// `crate::` in a doc comment or a message is not taken for a use.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(skip) = raw_string_len(rest) {
            out.push_str("\"\"");
            i += skip;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() && rest.as_bytes()[j] != b'"' {
                j += if rest.as_bytes()[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if let Some(escaped) = rest.strip_prefix("'\\") {
            // An escaped char literal ('\n', '\'', '\u{..}').
            let width = escaped.chars().next().map_or(0, char::len_utf8);
            i += escaped[width..]
                .find('\'')
                .map_or(rest.len(), |end| 2 + width + end + 1);
        } else if rest.len() >= 3
            && rest.starts_with('\'')
            && rest[1..].chars().nth(1) == Some('\'')
        {
            // A one-character literal such as '"' or '{'; lifetimes ('a) are left alone.
            let width = rest[1..].chars().next().map_or(1, char::len_utf8);
            i += width + 2;
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a raw string literal (`r"..."`, `r#"..."#`) at the start of `text`.
fn raw_string_len(text: &str) -> Option<usize> {
    let after_r = text.strip_prefix('r').or_else(|| text.strip_prefix("br"))?;
    let hashes = after_r.bytes().take_while(|b| *b == b'#').count();
    if after_r.as_bytes().get(hashes) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let body_start = text.len() - after_r.len() + hashes + 1;
    let end = text[body_start..].find(&close)?;
    Some(body_start + end + close.len())
}

/// Ways of naming a module that [`crate_paths`] could not follow: aliases of the crate root
/// and macros imported by name. None is needed here, so each is refused.
const HIDING: &[&str] = &["crate as ", "self as ", "extern crate", "#[macro_use]"];

/// `code` with every run of whitespace made one space and none around `::`, so that
/// `crate :: http` and a path broken over lines read as `crate::http`.
fn normalized(code: &str) -> String {
    let spaced = code.split_whitespace().collect::<Vec<_>>().join(" ");
    spaced.replace(" ::", "::").replace(":: ", "::")
}

/// Every module path a piece of code names from the crate root, as written after `crate::`
/// (or reached through `super::`), with `use` groups expanded one level: `crate::{a::x, b}`
/// names `a` and `b`.
fn crate_paths(code: &str, here: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut at = 0;
    while let Some(offset) = code[at..].find(['c', 's']) {
        let start = at + offset;
        at = start + 1;
        if start > 0 && code[..start].ends_with(|c: char| ident(c) || c == ':') {
            continue;
        }
        let rest = &code[start..];
        let (tail, depth) = if let Some(tail) = rest.strip_prefix("crate::") {
            (tail, here.len())
        } else if rest.starts_with("super::") {
            let mut tail = rest;
            let mut ups = 0;
            while let Some(next) = tail.strip_prefix("super::") {
                tail = next;
                ups += 1;
            }
            (tail, ups)
        } else {
            continue;
        };
        // Only paths that reach the crate root name a top-level module.
        if depth < here.len() {
            continue;
        }
        if let Some(group) = tail.strip_prefix('{') {
            for item in top_level_items(group) {
                found.push(item);
            }
        } else {
            let name: String = tail.chars().take_while(|c| ident(*c)).collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

/// The first identifier of each item of a `{...}` group, at its top nesting level.
fn top_level_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut current = String::new();
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            current.push(c);
        }
    }
    items.push(current);
    items
        .iter()
        .filter_map(|item| {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty() && name != "self").then_some(name)
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The crate's `src/` and every `.rs` file below it, sorted.
fn sources() -> (PathBuf, Vec<PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    (src, files)
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let (src, files) = sources();
    let mut problems = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let here = module_path(&src, file);
        let relative = file.strip_prefix(&src).unwrap().display().to_string();
        if relative == "main.rs" {
            // The binary uses the library by its crate name, never `crate::`.
            continue;
        }
        let top = here.first().map_or("lib", String::as_str);
        seen.insert(top.to_string());
        let Some(own) = rank(top) else {
            problems.insert(format!("src/{relative}: module `{top}` is not in LAYERS"));
            continue;
        };
        let code = normalized(&code_only(
            &fs::read_to_string(file).expect("readable source"),
        ));
        for trick in HIDING {
            if code.contains(trick) {
                problems.insert(format!(
                    "src/{relative}: `{trick}` hides paths from this test; write them out"
                ));
            }
        }
        for used in crate_paths(&code, &here) {
            if used == top || top == "lib" {
                continue;
            }
            match rank(&used) {
                Some(theirs) if theirs < own => {}
                Some(_) => {
                    problems.insert(format!(
                        "src/{relative}: `{top}` uses `crate::{used}`, which is not below it"
                    ));
                }
                // Not a module: an item of lib.rs (a function or a type), which is the top.
                None => {
                    problems.insert(format!(
                        "src/{relative}: `{top}` uses `crate::{used}` from lib.rs, above it"
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the layers in tests/architecture.rs are broken:\n{}",
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
    let unused: Vec<_> = LAYERS
        .iter()
        .flat_map(|layer| layer.iter())
        .filter(|module| **module != "lib" && !seen.contains(**module))
        .collect();
    assert!(
        unused.is_empty(),
        "LAYERS names modules src/ no longer has: {unused:?}"
    );
}

/// The most lines a file of `src/` may have before its unit tests (issue 16): past this, a
/// file holds more than a newcomer can take in at once, and it is time to split it along a seam.
const MAX_LINES_BEFORE_TESTS: usize = 400;

/// The lines of `source` before its first `#[cfg(test)]` (all of them if it has none), blank
/// and comment lines included: the code and the docs a reader must get through.
fn lines_before_tests(source: &str) -> usize {
    source
        .lines()
        .take_while(|line| !line.trim_start().starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn no_file_has_more_than_400_lines_before_its_tests() {
    let (src, files) = sources();
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = lines_before_tests(&fs::read_to_string(file).expect("readable source"));
            let relative = file.strip_prefix(&src).unwrap().display();
            (lines > MAX_LINES_BEFORE_TESTS).then(|| format!("src/{relative}: {lines} lines"))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files with more than {MAX_LINES_BEFORE_TESTS} lines before their first #[cfg(test)] \
         (split each along a seam, its tests with it):\n{}",
        long.join("\n")
    );
}

#[test]
fn lines_before_tests_stop_at_the_first_cfg_test() {
    assert_eq!(
        lines_before_tests("a\n\n// b\n#[cfg(test)]\nmod tests {}\n"),
        3
    );
    assert_eq!(lines_before_tests("a\nb\n"), 2, "no tests: every line");
    assert_eq!(lines_before_tests("/// #[cfg(test)] in a doc\nx\n"), 2);
}

#[test]
fn paths_are_found_in_groups_and_through_super_but_not_in_comments_or_strings() {
    let source = r#"
        use crate::{config::Settings, github::{api::GitHub, request}, self};
        use super::super::policy::Policy;
        // crate::http in a comment
        let text = "crate::actors in a string";
        let c = '"'; let q = '\''; let d = crate::metrics::Metrics::default();
        fn f<'a>(x: &'a str) -> crate::time::Now { todo!() }
        let g = crate ::
            draining::Draining::default();
    "#;
    let code = normalized(&code_only(source));
    let here = ["tools".to_string(), "read".to_string()];
    let found: BTreeSet<_> = crate_paths(&code, &here).into_iter().collect();
    let expected: BTreeSet<_> = ["config", "github", "policy", "metrics", "time", "draining"]
        .map(String::from)
        .into_iter()
        .collect();
    assert_eq!(found, expected);
    // One `super::` from src/tools/read.rs is still inside `tools`.
    assert!(crate_paths("use super::render;", &here).is_empty());
}
