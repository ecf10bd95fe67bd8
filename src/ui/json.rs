//! JSON text as Python's `json.dumps` writes it (`", "` and `": "` separators, ASCII only), so
//! `--json` output matches DVC's byte for byte.
use serde_json::Value;

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
    fn matches_python_spacing_and_escapes() {
        let v = serde_json::json!({"d.dvc": [{"changed outs": {"é": "modified"}}], "n": [1, true, null]});
        assert_eq!(
            super::dumps(&v),
            r#"{"d.dvc": [{"changed outs": {"\u00e9": "modified"}}], "n": [1, true, null]}"#
        );
    }
}
