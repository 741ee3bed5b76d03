//! Text inside HTML and SVG: the one escaping function every page and
//! picture uses for what users wrote (task names, file paths, messages).

use std::fmt::Write;

/// `text` safe inside HTML or SVG content and inside quoted attribute
/// values: markup characters escaped, control characters other than tab
/// and line breaks dropped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A number of pixels as SVG writes it: at most one decimal, no `-0`.
pub(crate) fn px(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    let mut out = String::new();
    let _ = write!(out, "{}", if rounded == 0.0 { 0.0 } else { rounded });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_drops_control_characters() {
        assert_eq!(
            escape("<script>a && 'b' \"c\"</script>\u{1b}[0m\n"),
            "&lt;script&gt;a &amp;&amp; &#39;b&#39; &quot;c&quot;&lt;/script&gt;[0m\n"
        );
        assert_eq!(px(12.345), "12.3");
        assert_eq!(px(-0.01), "0");
    }
}
