//! jq filters, in-process (jaq with jq's standard definitions): never a jq binary, never a shell.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

/// Runs `filter` over every JSON value in `input`; each output on its own line, compact, strings
/// raw under `raw` (`jq -r`).
pub(super) fn run(filter: &str, input: &str, raw: bool) -> Result<String, String> {
    let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
    let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code: filter, path: () })
        .map_err(|errors| format!("jq: cannot parse the filter {filter:?} ({} error(s))", errors.len()))?;
    let compiled = Compiler::default().with_funs(funs).compile(modules).map_err(|errors| {
        format!("jq: cannot compile the filter {filter:?} ({} undefined name(s) or error(s))", errors.len())
    })?;
    let mut out = String::new();
    let mut inputs = 0;
    for value in jaq_json::read::parse_many(input.as_bytes()) {
        let value = value.map_err(|e| format!("jq: the input is not JSON: {e}"))?;
        inputs += 1;
        let ctx = Ctx::<data::JustLut<Val>>::new(&compiled.lut, Vars::new([]));
        for result in compiled.id.run((ctx, value)).map(unwrap_valr) {
            let v = result.map_err(|e| format!("jq: {e}"))?;
            match &v {
                Val::TStr(s) | Val::BStr(s) if raw => out.push_str(&String::from_utf8_lossy(s)),
                _ => out.push_str(&v.to_string()),
            }
            out.push('\n');
        }
    }
    if inputs == 0 {
        return Err("jq: no JSON input (ask kubectl for -o json)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::run;

    #[test]
    fn filters() {
        let ns = r#"{"items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}"#;
        for (filter, raw, expected) in [
            (".items | length", false, "2\n"),
            (".items[].metadata.name", false, "\"a\"\n\"b\"\n"),
            (".items[].metadata.name", true, "a\nb\n"),
            ("[.items[] | select(.metadata.name == \"b\")] | length", false, "1\n"),
            (".items | map(.metadata.name) | join(\",\")", true, "a,b\n"),
        ] {
            assert_eq!(run(filter, ns, raw).unwrap(), expected, "{filter}");
        }
        assert!(run(".items |", ns, false).unwrap_err().starts_with("jq: cannot parse"));
        assert!(run("nosuchfn", ns, false).unwrap_err().starts_with("jq: cannot compile"));
        assert!(run(".", "not json", false).unwrap_err().starts_with("jq: the input is not JSON"));
    }
}
