//! The README's embedding section compiles in a fresh project: its Rust blocks name
//! only crates its `[dependencies]` block lists (the facade and tokio), everything else
//! through the facade's re-exports. (The blocks themselves compile and run as doctests
//! of the facade: `src/lib.rs`, `ReadmeDoctests`.)
#![allow(clippy::unwrap_used)]

const README: &str = include_str!("../README.md");

/// The text of `section` (a heading line) up to the next heading of its level or above
/// (lines inside code fences are code, not headings).
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let level = heading.split(' ').next().unwrap().len();
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no {heading:?}"))
        + heading.len()
        + 2;
    let rest = &text[start..];
    let mut in_fence = false;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            let hashes = line.len() - line.trim_start_matches('#').len();
            if hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
                return &rest[..offset];
            }
        }
        offset += line.len();
    }
    rest
}

/// The fenced code blocks of `text` whose info string starts with `lang`.
fn blocks<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        let info_end = after.find('\n').unwrap();
        let body = &after[info_end + 1..];
        let close = body.find("```").unwrap();
        if after[..info_end].starts_with(lang) {
            out.push(&body[..close]);
        }
        rest = &body[close + 3..];
    }
    out
}

/// The first segments of the paths in `code` (`tokio` in `tokio::net::TcpListener`).
fn path_roots(code: &str) -> Vec<String> {
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut roots = Vec::new();
    for (at, _) in code.match_indices("::") {
        let mut start = at;
        while start > 0 && is_ident(bytes[start - 1]) {
            start -= 1;
        }
        let preceded_by_path = start >= 1 && bytes[start - 1] == b':';
        if start < at && !preceded_by_path {
            roots.push(code[start..at].to_owned());
        }
    }
    roots
}

#[test]
fn the_embedding_example_needs_only_the_listed_dependencies() {
    let usage = section(README, "## Use it in your application");
    let toml = blocks(usage, "toml");
    assert_eq!(toml.len(), 1, "one [dependencies] block");
    let deps: Vec<String> = toml[0]
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty() && !name.starts_with('['))
        .map(|name| name.replace('-', "_"))
        .collect();
    assert!(deps.contains(&"livetable".to_owned()), "{deps:?}");
    assert!(
        toml[0].contains(r#"features = ["http"]"#),
        "the embedding example needs the facade's `http` feature"
    );

    let embedding = section(usage, "### Embedding in an axum application");
    let code = blocks(embedding, "rust");
    assert!(!code.is_empty(), "the embedding section has Rust blocks");
    for block in code {
        // Names a `use` brings in (`use livetable::http::axum;`) may start paths too.
        let imported: Vec<&str> = block
            .lines()
            .filter_map(|l| l.trim().strip_prefix("use ")?.strip_suffix(';'))
            .filter(|path| !path.contains('{'))
            .filter_map(|path| path.rsplit("::").next())
            .collect();
        for root in path_roots(block) {
            if imported.contains(&root.as_str()) {
                continue;
            }
            let known = ["std", "core", "alloc", "crate", "self", "super", "Self"];
            // Types and values in scope (`Aggregate::builder`, `Value::from`) start
            // with a capital letter; crates do not.
            let is_type = root.starts_with(|c: char| c.is_ascii_uppercase());
            assert!(
                is_type || known.contains(&root.as_str()) || deps.contains(&root),
                "the embedding example uses `{root}::` but the README's [dependencies] \
                 lists only {deps:?}: use the facade's re-export or list the crate"
            );
        }
    }
}

#[test]
fn path_roots_finds_crates_not_inner_segments() {
    assert_eq!(
        path_roots("use livetable::http::axum;\n#[tokio::main]\nlet x = Value::from(axum::x);"),
        ["livetable", "tokio", "Value", "axum"]
    );
}
