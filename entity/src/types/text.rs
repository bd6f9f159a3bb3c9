//! Thai text normalisation: the one place where raw cell text becomes stored text,
//! and where it is folded further for matching headers, sheet names and fixed value lists.

use std::borrow::Cow;

/// Characters removed outright: zero-width space, non-joiner, joiner, and the BOM.
fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}')
}

/// Thai tone marks that may sit between a decomposed nikhahit and sara aa.
fn is_thai_tone(c: char) -> bool {
    matches!(c, '\u{0E48}'..='\u{0E4B}')
}

/// Whether [`normalize_text`] would leave `raw` as it is, decided on its bytes: almost every
/// cell is ASCII or Thai, where only white space other than single inner spaces and the
/// nikhahit (U+0E4D) change; a text with a byte of [`LOOK_CLOSER`] is checked by
/// [`normal_by_char`].
fn already_normal(raw: &str) -> bool {
    let b = raw.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    if b.iter().any(|x| LOOK_CLOSER[usize::from(*x)]) {
        return normal_by_char(raw);
    }
    !raw.contains("  ") && !raw.contains('\u{0E4D}')
}

/// ASCII white space other than the space, and the lead bytes of U+0080-U+00FF (U+0085,
/// U+00A0), U+1000-U+1FFF (U+1680), U+2000-U+2FFF (U+2000-U+200D, U+2028-U+202F, U+205F),
/// U+3000-U+3FFF (U+3000) and U+F000-U+FFFF (U+FEFF): every other white space and
/// zero-width character starts with one of these (continuation bytes are 0x80-0xBF).
static LOOK_CLOSER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x09;
    while i <= 0x0D {
        t[i] = true;
        i += 1;
    }
    t[0xC2] = true;
    t[0xE1] = true;
    t[0xE2] = true;
    t[0xE3] = true;
    t[0xEF] = true;
    t
};

/// [`already_normal`] character by character.
fn normal_by_char(raw: &str) -> bool {
    raw.chars().all(|c| {
        !(is_zero_width(c) || c == '\u{00A0}' || c == '\u{0E4D}' || (c.is_whitespace() && c != ' '))
    }) && !raw.contains("  ")
        && !raw.starts_with(' ')
        && !raw.ends_with(' ')
}

/// Normalises a text cell as workbook-format.md says: trim; drop zero-width characters;
/// non-breaking spaces become spaces; runs of white space fold to one space; a decomposed
/// สระอำ (U+0E4D U+0E32, also with a tone mark between them) is composed to U+0E33.
///
/// Case and wording are kept. Borrows when the text is already normal.
pub fn normalize_text(raw: &str) -> Cow<'_, str> {
    if already_normal(raw) {
        return Cow::Borrowed(raw);
    }
    let chars: Vec<char> = raw
        .chars()
        .filter(|c| !is_zero_width(*c))
        .map(|c| {
            if c == '\u{00A0}' || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let mut pending_space = false;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            pending_space = !out.is_empty();
            i += 1;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c == '\u{0E4D}' {
            // nikhahit + sara aa, or nikhahit + tone + sara aa
            if chars.get(i + 1) == Some(&'\u{0E32}') {
                out.push('\u{0E33}');
                i += 2;
                continue;
            }
            if let (Some(t), Some('\u{0E32}')) = (chars.get(i + 1), chars.get(i + 2))
                && is_thai_tone(*t)
            {
                out.push(*t);
                out.push('\u{0E33}');
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    Cow::Owned(out)
}

/// Normalised text, or `None` when it is empty after normalisation.
pub fn non_empty(raw: &str) -> Option<String> {
    let t = normalize_text(raw);
    if t.is_empty() {
        None
    } else {
        Some(t.into_owned())
    }
}

/// The key used to match fixed value lists (statuses, classifications, sexes, titles…):
/// normalised text with Latin letters lower-cased.
pub fn match_key(raw: &str) -> String {
    normalize_text(raw).to_lowercase()
}

/// The key used to match headers and sheet names: [`match_key`], minus a trailing
/// parenthesised note and the characters `*` and `:`.
pub fn header_key(raw: &str) -> String {
    let mut s = match_key(raw);
    loop {
        let trimmed = s.trim_end();
        if trimmed.ends_with(')')
            && let Some(open) = trimmed.rfind('(')
            && open > 0
        {
            s = trimmed[..open].to_string();
            continue;
        }
        break;
    }
    let s: String = s.chars().filter(|c| *c != '*' && *c != ':').collect();
    normalize_text(&s).into_owned()
}

/// Replaces Thai digits ๐–๙ with ASCII 0–9.
pub fn ascii_digits(raw: &str) -> Cow<'_, str> {
    if !raw.chars().any(|c| ('\u{0E50}'..='\u{0E59}').contains(&c)) {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(
        raw.chars()
            .map(|c| {
                if ('\u{0E50}'..='\u{0E59}').contains(&c) {
                    char::from(b'0' + (c as u32 - 0x0E50) as u8)
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// Strips one of the given prefixes (longest first), then trims.
pub fn strip_prefixes<'a>(s: &'a str, prefixes: &[&str]) -> &'a str {
    let mut best: Option<&str> = None;
    for p in prefixes {
        if s.starts_with(p) && best.is_none_or(|b| p.len() > b.len()) {
            best = Some(p);
        }
    }
    match best {
        Some(p) => s[p.len()..].trim(),
        None => s,
    }
}

/// Splits text into what comes before its trailing ASCII digits and those digits
/// (`"ตกหล่น2565"` → `("ตกหล่น", "2565")`). Cuts on a character boundary whatever the text.
pub fn split_trailing_digits(s: &str) -> (&str, &str) {
    let start = s
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(0, |(i, c)| i + c.len_utf8());
    s.split_at(start)
}

/// Excel's own limit on the characters in one cell; longer text cannot have come from Excel.
pub const MAX_CELL_CHARS: usize = 32_767;

/// A control character no typed cell holds: C0 controls but tab, line feed and carriage
/// return, DEL and the C1 controls. PostgreSQL cannot store NUL in text at all.
pub fn is_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || ('\u{80}'..='\u{9F}').contains(&c)
}

/// Free text an API caller sends (a note, a caption, a search): refused when longer than `max`
/// characters or holding a control character (as a workbook cell would be), else normalised;
/// empty is none.
pub fn parse_free_text(raw: &str, max: usize) -> Result<Option<String>, super::ValueError> {
    use super::ValueError;
    if raw.len() > max && raw.chars().count() > max {
        return Err(ValueError::TooLong { max });
    }
    if let Some((position, _)) = find_control(raw) {
        return Err(ValueError::ControlCharacter { position });
    }
    Ok(non_empty(raw))
}

/// The first control character in `s` (see [`is_control`]) with its 1-based position.
pub fn find_control(s: &str) -> Option<(usize, char)> {
    s.chars()
        .enumerate()
        .find(|(_, c)| is_control(*c))
        .map(|(i, c)| (i + 1, c))
}

/// Cuts text to at most `max` characters (on a character boundary), marking the cut with `…`.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_digits_split_on_character_boundaries() {
        assert_eq!(split_trailing_digits("ตกหล่น2565"), ("ตกหล่น", "2565"));
        assert_eq!(split_trailing_digits("ตกหล่น"), ("ตกหล่น", ""));
        assert_eq!(split_trailing_digits("2565"), ("", "2565"));
        assert_eq!(split_trailing_digits(""), ("", ""));
        assert_eq!(split_trailing_digits("ก"), ("ก", ""));
    }

    #[test]
    fn control_characters_are_found_but_not_line_breaks() {
        assert_eq!(find_control("ab\u{0}c"), Some((3, '\u{0}')));
        assert_eq!(find_control("a\u{1b}[0m"), Some((2, '\u{1b}')));
        assert_eq!(find_control("a\u{85}"), Some((2, '\u{85}')));
        assert_eq!(find_control("บรรทัด\nสอง\tสาม\r\n"), None);
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_chars("กขค", 2), "กข…");
        assert_eq!(truncate_chars("กขค", 3), "กขค");
        assert_eq!(truncate_chars("", 0), "");
    }

    #[test]
    fn trims_and_folds_white_space() {
        assert_eq!(normalize_text("  ศิริพร   ศรีอำไพ \t"), "ศิริพร ศรีอำไพ");
        assert_eq!(normalize_text("a\u{00A0}\u{00A0}b"), "a b");
    }

    #[test]
    fn removes_zero_width_characters() {
        assert_eq!(normalize_text(" 1217743668751\u{200B}"), "1217743668751");
        assert_eq!(normalize_text("\u{FEFF}รหัส\u{200C}บ้าน\u{200D}"), "รหัสบ้าน");
    }

    #[test]
    fn composes_decomposed_sara_am() {
        assert_eq!(normalize_text("ทําดี"), "ทำดี");
        assert_eq!(normalize_text("อํานาจ"), "อำนาจ");
        // nikhahit, tone mark, sara aa
        assert_eq!(
            normalize_text("น\u{0E4D}\u{0E49}\u{0E32}"),
            "น\u{0E49}\u{0E33}"
        );
        // already composed text is borrowed untouched
        assert!(matches!(normalize_text("น้ำ"), Cow::Borrowed(_)));
    }

    /// Every character normalising changes or looks at, between letters, is seen by the
    /// byte scan as the character check sees it.
    #[test]
    fn the_byte_scan_sees_every_character_normalising_changes() {
        let changed = [
            '\t', '\n', '\u{0B}', '\u{0C}', '\r', '\u{85}', '\u{A0}', '\u{1680}', '\u{2000}',
            '\u{200A}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2028}', '\u{2029}', '\u{202F}',
            '\u{205F}', '\u{3000}', '\u{FEFF}', '\u{0E4D}',
        ];
        for c in changed {
            let s = format!("ก{c}a");
            assert!(!already_normal(&s), "{c:?}");
            assert!(!normal_by_char(&s), "{c:?}");
        }
        for s in [
            "",
            "a",
            "ก ข",
            "น้ำ",
            "\u{E4E}",
            "é",
            "Ａ",
            "a b c",
            "\u{2030}",
            "\u{2E80}",
        ] {
            assert!(already_normal(s), "{s:?}");
        }
        for s in [" a", "a ", "a  b", "\u{E4D}\u{E32}"] {
            assert!(!already_normal(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_byte_scan_agrees_with_the_character_check(
            near in "[ aก\t\n\r\u{85}\u{A0}\u{E32}\u{E49}\u{E4D}\u{E4E}\u{1680}\u{2000}\u{200B}\u{2028}\u{205F}\u{3000}\u{FEFF}\u{FF21}é]{0,10}",
            any in "(?s).{0,12}",
        ) {
            proptest::prop_assert_eq!(already_normal(&near), normal_by_char(&near));
            proptest::prop_assert_eq!(already_normal(&any), normal_by_char(&any));
        }
    }

    #[test]
    fn header_key_drops_notes_and_marks() {
        assert_eq!(header_key("งบประมาณ (บาท)"), "งบประมาณ");
        assert_eq!(header_key("รหัสบ้าน (house_code)"), "รหัสบ้าน");
        assert_eq!(header_key("House_Code*"), "house_code");
        assert_eq!(header_key("ตำบล :"), "ตำบล");
        assert_eq!(header_key("No."), "no.");
    }

    #[test]
    fn thai_digits_become_ascii() {
        assert_eq!(ascii_digits("๓๓๑๘"), "3318");
        assert_eq!(ascii_digits("ม.๕"), "ม.5");
    }

    #[test]
    fn strips_the_longest_prefix() {
        assert_eq!(strip_prefixes("นางสาวมาลี", &["นาง", "นางสาว"]), "มาลี");
        assert_eq!(strip_prefixes("จ. ศรีสะเกษ", &["จังหวัด", "จ."]), "ศรีสะเกษ");
    }
}
