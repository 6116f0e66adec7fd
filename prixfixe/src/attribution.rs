//! Attribution from an ISM scan and its sequence logo.
//!
//! The ISM importance of a position is minus the mean effect of its substitutions: a base whose
//! every substitution lowers expression is important for expression (positive), one whose
//! substitutions raise it is repressive (negative). This is the standard reading of a saturation
//! mutagenesis map as a single track (e.g. Kelley et al., Basset, Genome Res 2016; Alipanahi et
//! al., DeepBind, Nat Biotechnol 2015; tangermeme's and gReLU's ISM attributions); the logo draws
//! the reference base with that height, above the axis when positive and flipped below it when
//! negative.
//!
//! One implementation for `dream ism --attribution/--logo` and the browser's logo under the SNV
//! heatmap.

use std::fmt::Write as _;

use crate::predictor::VariantEffect;

/// The ISM attribution of one position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionAttribution {
    /// 1-based position in the sequence.
    pub position: usize,
    /// The reference base there.
    pub base: char,
    /// `−mean(delta)` over the position's substitutions (expression units, training scale).
    pub attribution: f32,
}

/// Per-position ISM attribution from the effects of a scan (any order; positions with no
/// substitution are absent), in position order.
pub fn ism_attribution(effects: &[VariantEffect]) -> Vec<PositionAttribution> {
    let mut by_pos: std::collections::BTreeMap<usize, (char, f64, usize)> = std::collections::BTreeMap::new();
    for e in effects {
        let slot = by_pos.entry(e.variant.position).or_insert((e.variant.reference, 0.0, 0));
        slot.1 += f64::from(e.delta);
        slot.2 += 1;
    }
    by_pos
        .into_iter()
        .map(|(position, (base, sum, n))| PositionAttribution { position, base, attribution: (-sum / n as f64) as f32 })
        .collect()
}

/// The attribution as a table: header `position base attribution`, 6 decimals, fields separated
/// by `sep` (`'\t'` for `dream ism --attribution`, `','` for the browser's CSV).
pub fn attribution_table(track: &[PositionAttribution], sep: char) -> String {
    let mut out = ["position", "base", "attribution"].join(&sep.to_string());
    out.push('\n');
    for a in track {
        let _ = writeln!(out, "{}{sep}{}{sep}{:.6}", a.position, a.base, a.attribution);
    }
    out
}

/// Colour of a base in the logo (the usual DNA logo colours: A green, C blue, G orange, T red).
pub fn base_colour(base: char) -> &'static str {
    match base {
        'A' => "#109648",
        'C' => "#255c99",
        'G' => "#f7b32b",
        'T' => "#d62839",
        _ => "#888888",
    }
}

/// Cap height of an upper-case letter as a fraction of the font size (sans-serif), so a letter
/// scaled by `h / (CAP * size)` is `h` tall.
const CAP: f32 = 0.72;

/// The attribution logo as SVG: one column per position, the reference letter as tall as
/// |attribution| (on one scale: the largest |attribution| is the full half-height), above the
/// axis when positive, flipped below it when negative; every position with a non-zero
/// attribution has its letter, with a `<title>` and a `data-tip` (position, base, attribution). `label` names the track (e.g. "ISM").
pub fn logo_svg(track: &[PositionAttribution], label: &str) -> String {
    let (Some(first), Some(last)) = (track.first(), track.last()) else {
        return String::from("<svg class=\"logo\" width=\"0\" height=\"0\"></svg>");
    };
    let (lo, hi) = (first.position, last.position);
    let scale = track.iter().map(|a| a.attribution.abs()).fold(0.0_f32, f32::max);
    let (cw, half, left, top, font) = (8.0_f32, 40.0_f32, 16.0_f32, 12.0_f32, 10.0_f32);
    let n = hi - lo + 1;
    let width = left + n as f32 * cw + 4.0;
    let axis = top + half;
    let height = top + 2.0 * half + 18.0;
    let mut s = format!(
        r#"<svg class="logo" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{}" height="{}" role="img" aria-label="{label} attribution logo, positions {lo}-{hi}">"#,
        width * 1.5,
        height * 1.5
    );
    let _ = write!(
        s,
        r##"<text x="2" y="9" font-size="8" font-family="sans-serif" fill="#444">{label} attribution (−mean SNV effect), ±{scale:.3}; up = the base supports expression, down = represses it</text>"##
    );
    let _ = write!(s, r##"<line x1="{left}" y1="{axis}" x2="{:.1}" y2="{axis}" stroke="#999" stroke-width="0.5"/>"##, width - 4.0);
    for a in track {
        let x = left + (a.position - lo) as f32 * cw;
        let h = if scale > 0.0 { a.attribution.abs() / scale * half } else { 0.0 };
        let tip = format!("position {} {}: attribution {:+.4}", a.position, a.base, a.attribution);
        if a.attribution != 0.0 {
            let sy = (h / (CAP * font)).max(1e-4);
            let sy = if a.attribution < 0.0 { -sy } else { sy };
            // textLength stretches the glyph to the column width.
            let _ = write!(
                s,
                r#"<text transform="translate({x:.1},{axis:.1}) scale(1,{sy:.4})" font-size="{font}" font-family="sans-serif" font-weight="bold" textLength="{cw}" lengthAdjust="spacingAndGlyphs" fill="{}" data-tip="{tip}"><title>{tip}</title>{}</text>"#,
                base_colour(a.base),
                a.base
            );
        }
        if a.position % 10 == 0 {
            let _ = write!(s, r##"<text x="{x:.1}" y="{:.1}" font-size="7" font-family="sans-serif" fill="#444">{}</text>"##, height - 4.0, a.position);
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predictor::Variant;

    fn e(position: usize, reference: char, alternative: char, delta: f32) -> VariantEffect {
        VariantEffect { variant: Variant { position, reference, alternative }, prediction: 0.0, delta }
    }

    #[test]
    fn attribution_is_minus_the_mean_effect() {
        let effects = [e(3, 'G', 'A', -1.0), e(3, 'G', 'C', -2.0), e(3, 'G', 'T', 0.0), e(2, 'A', 'C', 0.5), e(2, 'A', 'G', 0.5), e(2, 'A', 'T', 2.0)];
        let t = ism_attribution(&effects);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0], PositionAttribution { position: 2, base: 'A', attribution: -1.0 });
        assert_eq!(t[1], PositionAttribution { position: 3, base: 'G', attribution: 1.0 });
        assert_eq!(attribution_table(&t, '\t'), "position\tbase\tattribution\n2\tA\t-1.000000\n3\tG\t1.000000\n");
        let svg = logo_svg(&t, "ISM");
        assert_eq!(svg.matches("<title>").count(), 2);
        // Positive up (positive y scale), negative flipped; the largest |attribution| is full height.
        assert!(svg.contains("scale(1,5.5556)") && svg.contains("scale(1,-5.5556)"), "{svg}");
        assert!(svg.contains("position 2 A: attribution -1.0000"));
        assert!(svg.contains(base_colour('G')));
        assert!(logo_svg(&[], "ISM").contains("width=\"0\""));
    }
}
