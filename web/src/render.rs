//! Pictures and tables of results as text: the 18-bin distribution and the SNV effect heatmap as
//! SVG, predictions as CSV. Pure functions (tested natively); the page inserts the SVG.

use std::fmt::Write;

use prixfixe::predictor::{Prediction, VariantEffect};
use prixfixe::N_BINS;

use crate::input::Entry;

/// Rows of the heatmap, top to bottom.
pub const HEATMAP_BASES: [char; 4] = ['A', 'C', 'G', 'T'];

/// A small bar chart of the 18-bin predicted distribution (bins 0–17, probability per bin).
pub fn bins_svg(probs: &[f32; N_BINS]) -> String {
    let (w, h, bar) = (N_BINS as f32 * 7.0, 28.0_f32, 6.0_f32);
    let max = probs.iter().copied().fold(1e-6_f32, f32::max);
    let mut s = format!(
        r#"<svg class="bins" viewBox="0 0 {w} {}" width="{w}" height="{}" role="img" aria-label="predicted distribution over the 18 expression bins">"#,
        h + 1.0,
        h + 1.0
    );
    for (k, &p) in probs.iter().enumerate() {
        let bh = (p / max * h).max(0.5);
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.2}" width="{bar}" height="{bh:.2}"><title>bin {k}: p = {p:.3}</title></rect>"#,
            k as f32 * 7.0,
            h - bh
        );
    }
    s.push_str("</svg>");
    s
}

/// Colour of an effect on a diverging scale centred on 0: blue (loss) – white – red (gain);
/// `scale` is the |delta| that gets the full colour.
pub fn diverging(delta: f32, scale: f32) -> String {
    let t = if scale > 0.0 { (delta / scale).clamp(-1.0, 1.0) } else { 0.0 };
    // ColorBrewer RdBu ends: #b2182b (gain) and #2166ac (loss).
    let (r, g, b) = if t >= 0.0 { (178.0, 24.0, 43.0) } else { (33.0, 102.0, 172.0) };
    let a = t.abs();
    let mix = |c: f32| (255.0 + (c - 255.0) * a).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(r), mix(g), mix(b))
}

/// The heatmap of an ISM scan: 4 rows (A, C, G, T) × the scanned positions, colour = predicted
/// expression change, the reference base of each column marked (grey with a dot). Every cell
/// carries `data-tip` (position, ref, alt, prediction, delta) for the page's hover line and a
/// `<title>` for the browser's own tooltip.
pub fn heatmap_svg(sequence: &str, reference: f32, effects: &[VariantEffect]) -> String {
    let Some(lo) = effects.iter().map(|e| e.variant.position).min() else {
        return String::from("<svg class=\"heatmap\" width=\"0\" height=\"0\"></svg>");
    };
    let hi = effects.iter().map(|e| e.variant.position).max().unwrap_or(lo);
    let seq: Vec<char> = sequence.chars().collect();
    let scale = effects.iter().map(|e| e.delta.abs()).fold(0.0_f32, f32::max);
    let (cw, ch, left, top) = (8.0_f32, 14.0_f32, 16.0_f32, 4.0_f32);
    let n = hi - lo + 1;
    let width = left + n as f32 * cw + 4.0;
    let height = top + 4.0 * ch + 28.0;
    let mut s = format!(
        r#"<svg class="heatmap" viewBox="0 0 {width} {height}" width="{}" height="{}" role="img" aria-label="SNV effect heatmap, positions {lo}-{hi}">"#,
        width * 1.5,
        height * 1.5
    );
    for (r, b) in HEATMAP_BASES.iter().enumerate() {
        let _ = write!(s, r#"<text x="2" y="{:.1}" class="lab">{b}</text>"#, top + r as f32 * ch + ch * 0.75);
    }
    for e in effects {
        let v = &e.variant;
        let Some(row) = HEATMAP_BASES.iter().position(|&b| b == v.alternative) else { continue };
        let (x, y) = (left + (v.position - lo) as f32 * cw, top + row as f32 * ch);
        let tip = format!(
            "position {} {}>{}: prediction {:.3}, delta {:+.3} (reference {:.3})",
            v.position, v.reference, v.alternative, e.prediction, e.delta, reference
        );
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{cw}" height="{ch}" fill="{}" data-tip="{tip}"><title>{tip}</title></rect>"#,
            diverging(e.delta, scale)
        );
    }
    for pos in lo..=hi {
        let x = left + (pos - lo) as f32 * cw;
        if let Some(row) = seq.get(pos - 1).and_then(|c| HEATMAP_BASES.iter().position(|b| b == c)) {
            let y = top + row as f32 * ch;
            let tip = format!("position {pos}: reference base {} (prediction {reference:.3})", HEATMAP_BASES[row]);
            let _ = write!(
                s,
                r#"<rect class="ref" x="{x:.1}" y="{y:.1}" width="{cw}" height="{ch}" data-tip="{tip}"><title>{tip}</title></rect><circle cx="{:.1}" cy="{:.1}" r="1.6"/>"#,
                x + cw / 2.0,
                y + ch / 2.0
            );
        }
        if pos % 10 == 0 || (pos == lo && pos % 10 <= 6) {
            let _ = write!(s, r#"<text x="{x:.1}" y="{:.1}" class="tick">{pos}</text>"#, top + 4.0 * ch + 11.0);
        }
    }
    // Colour key: the full colours are ±(largest |delta| of the scan).
    let key_x = left + n as f32 * cw - 135.0;
    if key_x > left + 20.0 {
        let y = top + 4.0 * ch + 16.0;
        for i in 0..=20 {
            let d = scale * (i as f32 / 10.0 - 1.0);
            let _ = write!(s, r#"<rect class="key" x="{:.1}" y="{y:.1}" width="4" height="8" fill="{}"/>"#, key_x + 20.0 + i as f32 * 4.0, diverging(d, scale));
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" class="tick">−{scale:.2}</text><text x="{:.1}" y="{:.1}" class="tick">+{scale:.2}</text>"#,
            key_x - 4.0,
            y + 7.0,
            key_x + 20.0 + 21.0 * 4.0 + 3.0,
            y + 7.0
        );
    }
    s.push_str("</svg>");
    s
}

/// Predictions as CSV: `id,length,input_form,prediction,forward,reverse,bin_0..bin_17`, values
/// with 6 decimals (the model's scale: expected bin, 0–17).
pub fn predictions_csv(entries: &[Entry], predictions: &[Prediction]) -> String {
    let mut s = String::from("id,length,input_form,prediction,forward,reverse");
    for k in 0..N_BINS {
        let _ = write!(s, ",bin_{k}");
    }
    s.push('\n');
    for (e, p) in entries.iter().zip(predictions) {
        let id = if e.id.contains([',', '"']) { format!("\"{}\"", e.id.replace('"', "\"\"")) } else { e.id.clone() };
        let _ = write!(s, "{id},{},{},{:.6},{:.6},{:.6}", e.sequence.len(), e.form_name(), p.expression, p.forward, p.reverse);
        for q in &p.probs {
            let _ = write!(s, ",{q:.6}");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use prixfixe::predictor::Variant;

    fn effect(position: usize, reference: char, alternative: char, delta: f32) -> VariantEffect {
        VariantEffect { variant: Variant { position, reference, alternative }, prediction: 5.0 + delta, delta }
    }

    #[test]
    fn diverging_scale_is_centred_on_zero() {
        assert_eq!(diverging(0.0, 1.0), "#ffffff");
        assert_eq!(diverging(1.0, 1.0), "#b2182b");
        assert_eq!(diverging(-2.0, 1.0), "#2166ac");
        assert_eq!(diverging(0.3, 0.0), "#ffffff");
    }

    #[test]
    fn heatmap_has_a_cell_per_variant_and_marks_the_reference() {
        let effects = vec![
            effect(2, 'C', 'A', 0.5),
            effect(2, 'C', 'G', -0.25),
            effect(2, 'C', 'T', 0.0),
            effect(3, 'G', 'A', 0.1),
            effect(3, 'G', 'C', 0.2),
            effect(3, 'G', 'T', -0.5),
        ];
        let svg = heatmap_svg("ACGT", 5.0, &effects);
        assert_eq!(svg.matches("<rect ").count(), 8, "6 variants + 2 reference cells");
        assert_eq!(svg.matches("class=\"ref\"").count(), 2);
        assert!(svg.contains("position 2 C>A: prediction 5.500, delta +0.500 (reference 5.000)"));
        assert!(svg.contains("fill=\"#b2182b\""), "largest gain gets the full red");
        assert!(svg.contains("fill=\"#2166ac\""), "largest loss gets the full blue");
    }

    #[test]
    fn csv_has_header_and_one_row_per_sequence() {
        let entry = Entry {
            id: "a,b".into(),
            sequence: "A".repeat(80),
            line: 1,
            form: prixfixe::data::InputForm::RandomRegion,
        };
        let mut probs = [0.0; N_BINS];
        probs[4] = 1.0;
        let pred = Prediction { expression: 4.0, forward: 4.0, reverse: 4.0, probs };
        let csv = predictions_csv(&[entry], &[pred]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("id,length,input_form,prediction,forward,reverse,bin_0,"));
        assert!(lines[1].starts_with("\"a,b\",80,region80,4.000000,4.000000,4.000000,0.000000,"));
        assert_eq!(lines[1].split(',').count(), 6 + N_BINS + 1);
    }
}
