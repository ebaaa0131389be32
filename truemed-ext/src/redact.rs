//! Text from a server made safe to show: [`printable`], the one sanitizer of server text
//! in error text, and [`redact_decode_message`], the one redaction of decoders' messages.
//!
//! Both serve `Display` and `Debug` of the client's errors and of the webhook module's:
//! what a server (or a proxy, or a webhook sender) wrote is untrusted, may hold personal
//! data, and must not forge or hide what a reader of a log sees.

/// Server-supplied `text` made safe to show, cut to `limit` characters (then `…`): the
/// one sanitizer of every text from a response (or a webhook delivery) that reaches
/// `Display` or `Debug`. Each character that could forge or hide what a reader sees
/// becomes a space (see [`is_unprintable`]), so a message cannot start a new log line,
/// reorder the text around it or carry invisible content.
pub(crate) fn printable(text: &str, limit: usize) -> String {
    let mut out: String =
        text.chars().take(limit).map(|c| if is_unprintable(c) { ' ' } else { c }).collect();
    if text.chars().nth(limit).is_some() {
        out.push('…');
    }
    out
}

/// Whether `c` is kept out of error text: C0 and C1 controls (U+0085 among them), the
/// line and paragraph separators U+2028 and U+2029, and the format characters (general
/// category Cf, Unicode 16), which include every bidi control (U+061C, U+200E, U+200F,
/// U+202A to U+202E, U+2066 to U+2069), zero-width characters, the BOM and tag
/// characters.
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{AD}'
                | '\u{600}'..='\u{605}'
                | '\u{61C}'
                | '\u{6DD}'
                | '\u{70F}'
                | '\u{890}'..='\u{891}'
                | '\u{8E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// A URL (or a relative reference) without its query and fragment.
pub(crate) fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// Where serde's messages quote a value from the input without quotes: after these, up
/// to [`VALUE_END`] (`invalid type: integer `…`, expected …`, `invalid length 3, expected
/// …`).
const VALUE_STARTS: [&str; 3] = ["invalid type: ", "invalid value: ", "invalid length "];
/// Where the value serde quotes ends, and the decoder's own words (what it expected) begin.
const VALUE_END: &str = ", expected";

/// A decoder's error message (serde's, serde_json's, a type's own) without any value
/// from the body: the one redaction of every error that quotes a body.
///
/// What goes is what serde quotes from the input: each quoted (`"…"`) or backticked
/// (`` `…` ``) text, and each bare number in value position (after `invalid type: `,
/// `invalid value: ` or `invalid length `, up to `, expected`), each replaced by `…`.
/// What stays is the decoder's own words: the kind of problem (`invalid type: integer`,
/// `expected a string`, `unknown variant`), the name after `missing field` and
/// `duplicate field` (a field of the type, never a value), numbers in the library's own
/// text (`expected a tuple of size 2`, `in the years 0000 to 9999`, `RFC 3339`, `u32`),
/// and serde_json's trailing position (`at line 1 column 80`).
pub(crate) fn redact_decode_message(text: &str) -> String {
    let (head, position) = split_position(text);
    let mut out = String::with_capacity(text.len());
    let mut chars = head.char_indices().peekable();
    let mut previous: Option<char> = None;
    let mut in_value = false;
    while let Some((at, c)) = chars.next() {
        if VALUE_STARTS.iter().any(|start| out.ends_with(start)) {
            in_value = true;
        }
        if head[at..].starts_with(VALUE_END) {
            in_value = false;
        }
        match c {
            '"' | '`' => {
                let named = c == '`'
                    && (out.ends_with("missing field ") || out.ends_with("duplicate field "));
                let mut end = head.len();
                let mut escaped = false;
                for (index, inner) in chars.by_ref() {
                    match (escaped, inner) {
                        (false, '\\') if c == '"' => escaped = true,
                        (false, close) if close == c => {
                            end = index;
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                out.push(c);
                match named {
                    true => out.push_str(&head[at + 1..end]),
                    false => out.push('…'),
                }
                out.push(c);
                previous = Some(c);
            }
            _ if in_value && starts_number(c, chars.peek().map(|&(_, next)| next), previous) => {
                let mut last = c;
                while let Some(&(_, next)) = chars.peek() {
                    let exponent_sign = matches!(next, '+' | '-') && matches!(last, 'e' | 'E');
                    if !(next.is_ascii_alphanumeric() || matches!(next, '.' | '_') || exponent_sign)
                    {
                        break;
                    }
                    last = next;
                    chars.next();
                }
                out.push('…');
                previous = Some(last);
            }
            _ => {
                out.push(c);
                previous = Some(c);
            }
        }
    }
    out.push_str(position);
    out
}

/// Whether a number starts at `c` (followed by `next`, after `previous`): a digit, or a
/// sign or point before one, that does not continue a word (`u32`, `f64`).
fn starts_number(c: char, next: Option<char>, previous: Option<char>) -> bool {
    let in_word = previous.is_some_and(|p| p.is_alphanumeric() || p == '_');
    let digit_next = next.is_some_and(|n| n.is_ascii_digit());
    !in_word && (c.is_ascii_digit() || (matches!(c, '-' | '+' | '.') && digit_next))
}

/// `text` split before serde_json's ` at line L column C`, when it ends with one.
fn split_position(text: &str) -> (&str, &str) {
    let Some(at) = text.rfind(" at line ") else {
        return (text, "");
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let rest = &text[at + " at line ".len()..];
    match rest.split_once(" column ") {
        Some((line, column)) if digits(line) && digits(column) => text.split_at(at),
        _ => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_messages_keep_the_problem_and_lose_every_value() {
        for (message, redacted) in [
            (
                r#"invalid type: string "ada@example.com", expected f64 at line 1 column 80"#,
                r#"invalid type: string "…", expected f64 at line 1 column 80"#,
            ),
            (
                "invalid type: integer `5551234567`, expected a string at line 1 column 76",
                "invalid type: integer `…`, expected a string at line 1 column 76",
            ),
            (
                "invalid type: floating point `-5551234567.5`, expected u32",
                "invalid type: floating point `…`, expected u32",
            ),
            (
                "invalid value: integer `-1`, expected u64",
                "invalid value: integer `…`, expected u64",
            ),
            (
                "unknown variant `ada@example.com`, expected one of `pending`, `approved`",
                "unknown variant `…`, expected one of `…`, `…`",
            ),
            ("unknown field `5551234567`, expected `status`", "unknown field `…`, expected `…`"),
            (
                "missing field `qualification_session_id`",
                "missing field `qualification_session_id`",
            ),
            (
                "duplicate field `webhook_delivery_id` at line 1 column 40",
                "duplicate field `webhook_delivery_id` at line 1 column 40",
            ),
            (
                "invalid length 5551234567, expected a tuple of size 2",
                "invalid length …, expected a tuple of size 2",
            ),
            (
                "invalid value: -12.5e+3 or +7 or .5, expected 3 of them",
                "invalid value: … or … or …, expected 3 of them",
            ),
            ("invalid type: 5551234567 with no expectation", "invalid type: … with no expectation"),
            ("expected i64 or f32_x9", "expected i64 or f32_x9"),
            (r#"a "b\"c" d"#, r#"a "…" d"#),
            ("open \"quote", "open \"…\""),
            ("open `tick", "open `…`"),
            ("missing field `unclosed", "missing field `unclosed`"),
            ("x at line 1 column 2z", "x at line 1 column 2z"),
            (
                "EOF while parsing a value at line 3 column 0",
                "EOF while parsing a value at line 3 column 0",
            ),
            ("", ""),
            ("ünïcode \u{2028} `é`", "ünïcode \u{2028} `…`"),
        ] {
            assert_eq!(redact_decode_message(message), redacted, "{message}");
        }
    }

    /// The decoders' own messages name numbers that are theirs, not the body's: they stay.
    #[test]
    fn numbers_in_a_decoders_own_words_stay_readable() {
        for own in [
            "not a timestamp: expected RFC 3339, a date and time without offset, or a date, in the years 0000 to 9999",
            "timestamp out of range: only the years 0000 to 9999 (in UTC) are accepted, as RFC 3339 writes no others",
            "longer than 255 characters",
            "invalid length …, expected a tuple of size 2",
            "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 9",
        ] {
            assert_eq!(redact_decode_message(own), own);
        }
    }

    #[test]
    fn printable_replaces_every_character_that_forges_or_hides_text() {
        for (text, shown) in [
            ("a\nb\x1b[31m", "a b [31m"),
            ("a\r\tb\u{7f}\u{85}\u{9b}c", "a  b   c"),
            ("line\u{2028}para\u{2029}end", "line para end"),
            ("\u{202E}exe.txt\u{202C}", " exe.txt "),
            ("\u{202A}\u{202B}\u{202D}\u{2066}\u{2067}\u{2068}\u{2069}", "       "),
            ("\u{61C}\u{200E}\u{200F}", "   "),
            ("zero\u{200B}width\u{200D}join\u{2060}\u{FEFF}", "zero width join  "),
            ("soft\u{AD}hyphen\u{E0041}tag", "soft hyphen tag"),
            ("café ünïcode 東京 😀 ok", "café ünïcode 東京 😀 ok"),
        ] {
            assert_eq!(printable(text, 100), shown, "{text:?}");
        }
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("abc", 3), "abc");
        assert_eq!(printable("\u{2028}\u{2028}\u{2028}\u{2028}", 2), "  …");
    }

    #[test]
    fn urls_lose_their_query_and_fragment() {
        assert_eq!(without_query("https://h/p?q=1#f"), "https://h/p");
        assert_eq!(without_query("/p#f"), "/p");
        assert_eq!(without_query("https://h/p"), "https://h/p");
    }
}
