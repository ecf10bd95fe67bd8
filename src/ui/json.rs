//! JSON output. DVC's own reports (`status --json`, `status -c --json`) are written as Python's
//! `json.dumps` writes them (`", "` and `": "` separators, ASCII only), byte for byte as DVC,
//! with no field added. Ferry's own reports are one object with `"schema": 1` first
//! ([`report`]); docs/json.md describes each command's shape.
use serde_json::Value;

/// The version of Ferry's JSON reports: raised when a field changes meaning or goes away
/// (adding fields does not raise it).
pub const SCHEMA: u64 = 1;

/// Ferry's `--json` report of `value` (an object): `"schema": 1` first, then its fields,
/// pretty-printed.
pub fn report(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let fields = match serde_json::to_value(value)? {
        Value::Object(map) => map,
        other => anyhow::bail!("a JSON report must be an object, not {other}"),
    };
    let mut map = serde_json::Map::new();
    map.insert("schema".into(), SCHEMA.into());
    map.extend(fields.into_iter().filter(|(k, _)| k != "schema"));
    Ok(serde_json::to_string_pretty(&Value::Object(map))?)
}

/// Renders `value` like `json.dumps(value)`.
pub fn dumps(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn write_str(out: &mut String, s: &str) {
    crate::odb::manifest::py_json_string(out, s);
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_carry_the_schema_first() {
        let v = serde_json::json!({"remotes": [], "b": 1});
        insta::assert_snapshot!(super::report(&v).unwrap(), @r#"
        {
          "schema": 1,
          "remotes": [],
          "b": 1
        }
        "#);
        assert!(super::report(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn matches_python_spacing_and_escapes() {
        let v = serde_json::json!({"d.dvc": [{"changed outs": {"é": "modified"}}], "n": [1, true, null]});
        assert_eq!(
            super::dumps(&v),
            r#"{"d.dvc": [{"changed outs": {"\u00e9": "modified"}}], "n": [1, true, null]}"#
        );
    }
}
