//! `FERRY_REMOTE_<NAME>_<KEY>` environment overrides, so CI can supply credentials (and any
//! other remote option) without writing them to a file (DESIGN.md §3 "Credentials").

/// The prefix of every override variable.
pub const PREFIX: &str = "FERRY_REMOTE_";

/// A remote name or key as it appears in a variable name: uppercased, anything that is not a
/// letter or digit (`-`, `.`) turned into `_`.
pub fn env_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The `(key, value)` overrides for remote `name` found in `vars`. When remote names share a
/// prefix (`b2` and `b2_eu`), a variable belongs to the longest name it matches, so
/// `FERRY_REMOTE_B2_EU_REGION` never sets `eu_region` on `b2`.
pub fn overrides(
    name: &str,
    all_names: &[String],
    vars: impl Iterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let own = format!("{PREFIX}{}_", env_part(name));
    let longer: Vec<String> = all_names
        .iter()
        .map(|n| format!("{PREFIX}{}_", env_part(n)))
        .filter(|p| p.len() > own.len() && p.starts_with(&own))
        .collect();
    let mut out: Vec<(String, String)> = vars
        .filter(|(k, _)| k.starts_with(&own) && !longer.iter().any(|l| k.starts_with(l)))
        .filter_map(|(k, v)| {
            let key = k[own.len()..].to_lowercase();
            (!key.is_empty()).then_some((key, v))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_name_wins() {
        let names = vec!["b2".to_string(), "b2-eu".to_string()];
        let vars = [
            ("FERRY_REMOTE_B2_PASSWORD", "p1"),
            ("FERRY_REMOTE_B2_EU_REGION", "eu"),
            ("OTHER", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            overrides("b2", &names, vars.clone().into_iter()),
            vec![("password".to_string(), "p1".to_string())]
        );
        assert_eq!(
            overrides("b2-eu", &names, vars.into_iter()),
            vec![("region".to_string(), "eu".to_string())]
        );
    }
}
