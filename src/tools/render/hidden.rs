//! Which characters are invisible, reorder text or split lines, and so have no place in what
//! a model reads from strangers: the table behind [`super::clean`].
//!
//! Rust's `char::is_control` covers only general category Cc, and std has no table of
//! category Cf (format characters: zero-width joiners, bidi controls, tags, interlinear
//! annotations...), nor of Unicode's Default_Ignorable_Code_Point property, which adds the
//! characters that render as nothing without being Cf (variation selectors, Hangul fillers,
//! the combining grapheme joiner, Khmer inherent vowels, Mongolian free variation selectors).
//! So the table is written here by hand, from the Unicode Character Database (UnicodeData.txt
//! for Cf, Cc, Zl and Zp; DerivedCoreProperties.txt for Default_Ignorable_Code_Point). A test
//! checks it against every Cf code point Python's `unicodedata` lists
//! (`tests/fixtures/unicode_cf.txt`). Unassigned code points inside these blocks are taken too:
//! Unicode reserves them as default-ignorable, and future ones will be invisible as well.

use std::cmp::Ordering;

/// Inclusive ranges, sorted and disjoint (a test checks), of the characters removed.
/// Tab and newline (Cc) are kept by [`is_hidden`] before the table is consulted.
const HIDDEN: &[(u32, u32)] = &[
    (0x0000, 0x001F),   // Cc: C0 controls (tab and newline are kept, see `is_hidden`)
    (0x007F, 0x009F),   // Cc: DEL and C1 controls, U+0085 NEXT LINE among them
    (0x00AD, 0x00AD),   // Cf: soft hyphen
    (0x034F, 0x034F),   // DI: combining grapheme joiner
    (0x0600, 0x0605),   // Cf: Arabic number signs
    (0x061C, 0x061C),   // Cf: Arabic letter mark
    (0x06DD, 0x06DD),   // Cf: Arabic end of ayah
    (0x070F, 0x070F),   // Cf: Syriac abbreviation mark
    (0x0890, 0x0891),   // Cf: Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Cf: Arabic disputed end of ayah
    (0x115F, 0x1160),   // DI: Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),   // DI: Khmer inherent vowels
    (0x180B, 0x180F),   // DI: Mongolian free variation selectors; Cf: vowel separator
    (0x200B, 0x200F),   // Cf: zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x2029),   // Zl, Zp: line and paragraph separators (split lines for some readers)
    (0x202A, 0x202E),   // Cf: bidi embeddings and overrides
    (0x2060, 0x206F),   // Cf: word joiner, invisible operators, bidi isolates, deprecated controls
    (0x3164, 0x3164),   // DI: Hangul filler
    (0xFE00, 0xFE0F),   // DI: variation selectors
    (0xFEFF, 0xFEFF),   // Cf: zero-width no-break space (byte order mark)
    (0xFFA0, 0xFFA0),   // DI: halfwidth Hangul filler
    (0xFFF0, 0xFFFB),   // DI: reserved; Cf: interlinear annotation anchor, separator, terminator
    (0x110BD, 0x110BD), // Cf: Kaithi number sign
    (0x110CD, 0x110CD), // Cf: Kaithi number sign above
    (0x13430, 0x1343F), // Cf: Egyptian hieroglyph format controls (to 1343F since Unicode 15)
    (0x1BCA0, 0x1BCA3), // Cf: shorthand format controls
    (0x1D173, 0x1D17A), // Cf: musical symbol beam, tie, slur and phrase controls
    (0xE0000, 0xE0FFF), // Cf: tag characters; DI: variation selectors supplement, reserved
];

/// Whether `c` is invisible, reorders text or breaks lines unseen: every format character
/// (Cf), every default-ignorable code point, every control but tab and newline, and the
/// Unicode line and paragraph separators.
pub fn is_hidden(c: char) -> bool {
    let c = u32::from(c);
    if c < 0x7F {
        return c < 0x20 && c != u32::from('\n') && c != u32::from('\t');
    }
    HIDDEN
        .binary_search_by(|&(first, last)| {
            if last < c {
                Ordering::Less
            } else if first > c {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Cf code point, as Python's `unicodedata` lists them (see the file's header).
    const CF: &str = include_str!("../../../tests/fixtures/unicode_cf.txt");

    fn code_points(ranges: &str) -> Vec<char> {
        ranges
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .flat_map(|line| {
                let (first, last) = line.split_once("..").unwrap();
                let hex = |s: &str| u32::from_str_radix(s, 16).unwrap();
                hex(first)..=hex(last)
            })
            .filter_map(char::from_u32)
            .collect()
    }

    #[test]
    fn every_format_character_is_hidden() {
        let cf = code_points(CF);
        assert!(cf.len() > 150, "the list was read: {}", cf.len());
        let kept: Vec<String> = cf
            .iter()
            .filter(|c| !is_hidden(**c))
            .map(|c| format!("U+{:04X}", u32::from(*c)))
            .collect();
        assert!(kept.is_empty(), "Cf characters kept: {kept:?}");
    }

    #[test]
    fn invisible_fillers_separators_and_controls_are_hidden() {
        let fillers = "115F..1160\n3164..3164\nFFA0..FFA0\n034F..034F\nFE00..FE0F\n\
                       E0100..E01EF\n180B..180F\n17B4..17B5\n2028..2029\nFFF9..FFFB\n\
                       206A..206F\n0000..0008\n000B..001F\n007F..009F";
        for c in code_points(fillers) {
            assert!(is_hidden(c), "U+{:04X} is kept", u32::from(c));
        }
        for kept in [
            '\n',
            '\t',
            ' ',
            'a',
            '~',
            'é',
            '✓',
            '👍',
            '\u{1F3FD}',
            '＞',
            '\u{00A0}',
        ] {
            assert!(!is_hidden(kept), "U+{:04X} is hidden", u32::from(kept));
        }
    }

    #[test]
    fn the_table_is_sorted_and_disjoint() {
        for pair in HIDDEN.windows(2) {
            let ((a, b), (c, d)) = (pair[0], pair[1]);
            assert!(a <= b && b < c && c <= d, "{pair:x?}");
        }
    }
}
