//! What an untagged plain YAML scalar means, the way CloudFormation reads YAML: version 1.1
//! ("AWS CloudFormation supports the YAML Version 1.1 specification", CloudFormation User Guide,
//! "Template format"), decided once here, in canonical form, so that the diff compares values.
//!
//! | written (plain, unquoted)                          | becomes                                |
//! |----------------------------------------------------|----------------------------------------|
//! | `~`, `null`, `Null`, `NULL`, nothing               | null                                   |
//! | `yes no on off true false`, in any letter case     | boolean (`"true"`/`"false"` in a string property) |
//! | `0b1010`, `012` (leading zero: octal), `0x1F`, `1_000`, `+12` | integer, written in decimal (`10`, `10`, `31`, `1000`, `12`) |
//! | `1.30`, `.5`, `1.5e+3`, `.inf`, `.nan`             | float, written the shortest way that reads back (`1.3`, `0.5`, `1500.0`) |
//! | anything else (dates `2010-09-09`, versions `1.2.3`, `08`, `1e3`) | the text, as a string |
//!
//! Quoted scalars and block scalars (`|`, `>`) are always strings. Sources: the YAML 1.1 type
//! repository (yaml.org/type: bool, int, float, null) and the resolver PyYAML and cfn-lint use.
//! Where readers differ, what cutover does and why:
//! - booleans in any letter case (`yEs`): the YAML 1.1 regexps list three spellings per word, but
//!   CloudFormation is reported to read `yes`/`no`/`on`/`off` as booleans (aws/aws-cli#5257, an AWS
//!   maintainer) and Java YAML readers compare them ignoring case;
//! - `y`/`n`/`Y`/`N`: in the YAML 1.1 bool type, but PyYAML and cfn-lint read them as strings and no
//!   report shows CloudFormation turning them into booleans: strings here;
//! - sexagesimal numbers (`1:30` is 90 in YAML 1.1) and timestamps: strings here, since no report
//!   shows CloudFormation converting them (dates in templates, `2010-09-09`, are strings);
//! - `1e3` (no dot, unsigned exponent) is not a YAML 1.1 float: a string.

use super::Node;

/// The node a plain scalar's text stands for.
pub fn plain(text: String) -> Node {
    if is_null(&text) {
        return Node::Null;
    }
    if let Some(value) = boolean(&text) {
        return Node::Bool(value);
    }
    if let Some(number) = integer(&text).or_else(|| float(&text)) {
        return Node::Number(number);
    }
    Node::String(text)
}

pub fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// `yes`/`no`/`on`/`off`/`true`/`false` in any letter case.
pub fn boolean(text: &str) -> Option<bool> {
    const TRUE: [&str; 3] = ["true", "yes", "on"];
    const FALSE: [&str; 3] = ["false", "no", "off"];
    if TRUE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(true)
    } else if FALSE.iter().any(|word| word.eq_ignore_ascii_case(text)) {
        Some(false)
    } else {
        None
    }
}

/// A YAML 1.1 integer (binary `0b…`, octal `0…`, decimal, hex `0x…`, `_` allowed after the first
/// digit, optional sign) in decimal; `None` when the text is not one. A value too large for
/// 128 bits keeps its text.
pub fn integer(text: &str) -> Option<String> {
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let digits_of = |rest: &str, radix: u32| -> Option<String> {
        let valid = !rest.is_empty()
            && rest.chars().all(|c| c == '_' || c.is_digit(radix))
            && rest.chars().any(|c| c != '_');
        valid.then(|| rest.chars().filter(|&c| c != '_').collect())
    };
    let (digits, radix) = if let Some(rest) = body.strip_prefix("0b") {
        (digits_of(rest, 2)?, 2)
    } else if let Some(rest) = body.strip_prefix("0x") {
        (digits_of(rest, 16)?, 16)
    } else if body == "0" {
        ("0".to_string(), 10)
    } else if let Some(rest) = body.strip_prefix('0') {
        (digits_of(rest, 8)?, 8)
    } else if body.starts_with(|c: char| c.is_ascii_digit()) {
        (digits_of(body, 10)?, 10)
    } else {
        return None;
    };
    Some(match i128::from_str_radix(&digits, radix) {
        Ok(value) => (if negative { -value } else { value }).to_string(),
        Err(_) => text.to_string(),
    })
}

/// A YAML 1.1 float in its shortest form that reads back the same (`1.30` → `1.3`, `1.0` stays
/// `1.0`); `.inf`, `-.inf` and `.nan` as `inf`, `-inf`, `nan`.
pub fn float(text: &str) -> Option<String> {
    let (sign, body) = match text.as_bytes().first()? {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return Some(format!("{sign}inf"));
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return Some("nan".to_string());
    }
    // [0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  or  \.[0-9_]+([eE][-+][0-9]+)?
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.')?;
    let digits = |s: &str| s.chars().all(|c| c == '_' || c.is_ascii_digit());
    let whole_ok = if whole.is_empty() {
        !fraction.is_empty() && fraction.starts_with(|c: char| c.is_ascii_digit())
    } else {
        whole.starts_with(|c: char| c.is_ascii_digit()) && digits(whole)
    };
    if !whole_ok || !digits(fraction) {
        return None;
    }
    if let Some(exponent) = exponent {
        let unsigned = exponent.strip_prefix(['-', '+'])?;
        if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let plain: String = format!("{sign}{body}")
        .chars()
        .filter(|&c| c != '_')
        .collect();
    let value: f64 = plain.parse().ok()?;
    Some(match serde_json::Number::from_f64(value) {
        Some(number) => number.to_string(),
        None => plain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> Node {
        Node::Number(text.into())
    }

    #[test]
    fn nulls() {
        for text in ["", "~", "null", "Null", "NULL"] {
            assert_eq!(plain(text.into()), Node::Null, "{text:?}");
        }
        assert_eq!(plain("nULL".into()), Node::String("nULL".into()));
    }

    #[test]
    fn booleans_in_any_case_but_not_single_letters() {
        for (text, value) in [
            ("yes", true),
            ("Yes", true),
            ("YES", true),
            ("yEs", true),
            ("on", true),
            ("ON", true),
            ("true", true),
            ("True", true),
            ("no", false),
            ("No", false),
            ("off", false),
            ("OFF", false),
            ("Off", false),
            ("false", false),
            ("FALSE", false),
        ] {
            assert_eq!(plain(text.into()), Node::Bool(value), "{text}");
        }
        for text in ["y", "n", "Y", "N", "yess", "enabled"] {
            assert_eq!(plain(text.into()), Node::String(text.into()), "{text}");
        }
    }

    #[test]
    fn integers_in_every_yaml_1_1_base_become_decimal() {
        for (text, value) in [
            ("0", "0"),
            ("42", "42"),
            ("+42", "42"),
            ("-42", "-42"),
            ("1_000", "1000"),
            ("012", "10"),
            ("012345670123", "1402433619"),
            ("-017", "-15"),
            ("00", "0"),
            ("0x1F", "31"),
            ("0xff_ff", "65535"),
            ("0b1010", "10"),
        ] {
            assert_eq!(plain(text.into()), number(value), "{text}");
        }
        // Not YAML 1.1 integers: 8 and 9 are no octal digits, 0o is YAML 1.2.
        for text in ["08", "0129", "0o17", "0x", "_1", "1,000", "12a"] {
            assert_eq!(integer(text), None, "{text}");
        }
        assert_eq!(
            integer("1_"),
            Some("1".into()),
            "`_` may follow the first digit"
        );
        assert_eq!(plain("08".into()), Node::String("08".into()));
        assert_eq!(plain("0o17".into()), Node::String("0o17".into()));
        // Beyond 128 bits the text is kept.
        let huge = "0x".to_string() + &"f".repeat(40);
        assert_eq!(integer(&huge), Some(huge.clone()));
    }

    #[test]
    fn floats_become_their_shortest_reading() {
        for (text, value) in [
            ("1.30", "1.3"),
            ("1.0", "1.0"),
            ("1.", "1.0"),
            (".5", "0.5"),
            ("-2.50", "-2.5"),
            ("+0.25", "0.25"),
            ("1_000.5", "1000.5"),
            ("1.5e+3", "1500.0"),
            ("6.02E-2", "0.0602"),
            (".inf", "inf"),
            ("-.Inf", "-inf"),
            (".NaN", "nan"),
        ] {
            assert_eq!(plain(text.into()), number(value), "{text}");
        }
        // Dates, versions, IPs and exponents without a dot or a sign are text.
        for text in [
            "2010-09-09",
            "1.2.3",
            "10.0.0.1",
            "1e3",
            "1.5e3",
            ".",
            "..5",
            "1.2a",
            "1:30",
        ] {
            assert_eq!(plain(text.into()), Node::String(text.into()), "{text}");
        }
    }
}
