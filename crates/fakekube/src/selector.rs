//! Label selectors (`a=b`, `a==b`, `a!=b`, `a in (b,c)`, `a notin (b)`, `a`, `!a`) and field
//! selectors (`dotted.path=value`, `!=`), as list and watch take them.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Term {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    Absent(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Term>,
    fields: Vec<Term>,
}

/// Splits on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(s: &str) -> Result<Vec<String>, String> {
    let inner = s
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected (values) in `{s}`"))?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

fn parse(s: &str) -> Result<Vec<Term>, String> {
    split_terms(s)
        .into_iter()
        .map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                return Ok(Term::Ne(k.trim().into(), v.trim().into()));
            }
            if let Some((k, v)) = t.split_once("==").or_else(|| t.split_once('=')) {
                return Ok(Term::Eq(k.trim().into(), v.trim().into()));
            }
            if let Some((k, v)) = t.split_once(" notin ") {
                return Ok(Term::NotIn(k.trim().into(), set_values(v)?));
            }
            if let Some((k, v)) = t.split_once(" in ") {
                return Ok(Term::In(k.trim().into(), set_values(v)?));
            }
            if let Some(k) = t.strip_prefix('!') {
                return Ok(Term::Absent(k.trim().into()));
            }
            if t.contains(char::is_whitespace) {
                return Err(format!("unable to parse requirement `{t}`"));
            }
            Ok(Term::Exists(t.into()))
        })
        .collect()
}

impl Selector {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, String> {
        Ok(Selector {
            labels: labels.map(parse).transpose()?.unwrap_or_default(),
            fields: fields.map(parse).transpose()?.unwrap_or_default(),
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let field = |k: &str| {
            let v = k.split('.').try_fold(obj, |cur, key| cur.get(key));
            v.map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        self.labels
            .iter()
            .all(|t| holds(t, &|k| label(k).map(String::from)))
            && self.fields.iter().all(|t| holds(t, &field))
    }
}

fn holds(t: &Term, get: &dyn Fn(&str) -> Option<String>) -> bool {
    match t {
        Term::Eq(k, v) => get(k).as_deref() == Some(v.as_str()),
        Term::Ne(k, v) => get(k).as_deref() != Some(v.as_str()),
        Term::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
        Term::NotIn(k, vs) => get(k).is_none_or(|x| !vs.contains(&x)),
        Term::Exists(k) => get(k).is_some(),
        Term::Absent(k) => get(k).is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_based_and_equality_terms() {
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "a", "tier": "web"}}});
        let ok = |l: &str| Selector::parse(Some(l), None).unwrap().matches(&pod);
        assert!(ok("app=a,tier in (web, db)"));
        assert!(ok("app==a,!missing,tier"));
        assert!(!ok("app!=a"));
        assert!(!ok("tier notin (web)"));
        let f = Selector::parse(None, Some("metadata.name=p")).unwrap();
        assert!(f.matches(&pod));
    }
}
