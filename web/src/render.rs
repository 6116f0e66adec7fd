//! Pictures and tables of results as text: the 18-bin distribution, the SNV effect heatmap and
//! the motif tiling plot as SVG, predictions and tilings as CSV, the order of the variant table.
//! Pure functions (tested natively); the page inserts the SVG.

use std::fmt::Write;

use prixfixe::predictor::{Prediction, VariantEffect};
use prixfixe::tiling::{tile_bands, tile_table, Orientation, TileEffect};
use prixfixe::variants::VariantScore;
use prixfixe::N_BINS;

use crate::input::Entry;

/// Rows of the heatmap, top to bottom.
pub const HEATMAP_BASES: [char; 4] = ['A', 'C', 'G', 'T'];

/// A small bar chart of the 18-bin predicted distribution (bins 0–17, probability per bin);
/// empty for a regression model (no bins).
pub fn bins_svg(probs: &[f32]) -> String {
    if probs.len() != N_BINS {
        return String::new();
    }
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
    heatmap_svg_marked(sequence, reference, effects, &[])
}

/// [`heatmap_svg`] of a scan in progress: `effects[i]` is exact where `exact[i]` is `true` and a
/// Taylor ISM approximation elsewhere (drawn faded, class `approx`, its tip saying so); an empty
/// `exact` means all exact.
pub fn heatmap_svg_marked(sequence: &str, reference: f32, effects: &[VariantEffect], exact: &[bool]) -> String {
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
    for (i, e) in effects.iter().enumerate() {
        let v = &e.variant;
        let Some(row) = HEATMAP_BASES.iter().position(|&b| b == v.alternative) else { continue };
        let (x, y) = (left + (v.position - lo) as f32 * cw, top + row as f32 * ch);
        let approx = exact.get(i).is_some_and(|&x| !x);
        let tip = format!(
            "position {} {}>{}: prediction {:.3}, delta {:+.3} (reference {:.3}){}",
            v.position,
            v.reference,
            v.alternative,
            e.prediction,
            e.delta,
            reference,
            if approx { ", approximate (Taylor ISM)" } else { "" }
        );
        let _ = write!(
            s,
            r#"<rect{} x="{x:.1}" y="{y:.1}" width="{cw}" height="{ch}" fill="{}" data-tip="{tip}"><title>{tip}</title></rect>"#,
            if approx { r#" class="approx""# } else { "" },
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
        let id = csv_field(&e.id);
        let _ = write!(s, "{id},{},{},{:.6},{:.6},{:.6}", e.sequence.len(), e.form_name(), p.expression, p.forward, p.reverse);
        for q in &p.probs {
            let _ = write!(s, ",{q:.6}");
        }
        s.push('\n');
    }
    s
}

/// Predictions of a model with named outputs (any dataset but DREAM yeast) as CSV: `id`,
/// `length`, then one column per output (mean of both strands), as `dream predict` writes them
/// (tab-separated there).
pub fn outputs_csv(entries: &[Entry], predictions: &[Prediction], names: &[String]) -> String {
    let mut s = String::from("id,length");
    for n in names {
        let _ = write!(s, ",{}", csv_field(n));
    }
    s.push('\n');
    for (e, p) in entries.iter().zip(predictions) {
        let _ = write!(s, "{},{}", csv_field(&e.id), e.sequence.len());
        for v in &p.outputs {
            let _ = write!(s, ",{v:.6}");
        }
        s.push('\n');
    }
    s
}

/// A CSV field: quoted (with `"` doubled) when it holds a comma, a quote or a line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A motif tiling as CSV: for one background exactly `prixfixe::tiling::tile_table(effects, ',')`
/// (what `dream tile` writes, comma-separated); for several, a first column `background` (the
/// background's id) before the same columns.
pub fn tiling_csv(tilings: &[(String, Vec<TileEffect>)]) -> String {
    match tilings {
        [(_, effects)] => tile_table(effects, ','),
        _ => {
            let mut out = String::from("background,");
            for (i, (id, effects)) in tilings.iter().enumerate() {
                let table = tile_table(effects, ',');
                let mut lines = table.lines();
                let header = lines.next().unwrap_or_default();
                if i == 0 {
                    out.push_str(header);
                    out.push('\n');
                }
                let id = csv_field(id);
                for l in lines {
                    let _ = writeln!(out, "{id},{l}");
                }
            }
            if tilings.is_empty() {
                out.push_str("position,orientation,expression,delta\n");
            }
            out
        }
    }
}

/// A round axis step (1, 2 or 5 × a power of ten) near `raw`.
fn nice_step(raw: f32) -> f32 {
    if raw.is_nan() || raw <= 0.0 || raw.is_infinite() {
        return 1.0;
    }
    let p = 10f64.powi(f64::from(raw).log10().floor() as i32);
    let m = f64::from(raw) / p;
    (p * if m < 1.5 { 1.0 } else if m < 3.5 { 2.0 } else if m < 7.5 { 5.0 } else { 10.0 }) as f32
}

/// Line colours of the two orientations (`+`, `−`).
pub const ORIENTATION_COLOURS: [&str; 2] = ["#1f5fa8", "#d95f02"];

fn orientation_index(o: Orientation) -> usize {
    match o {
        Orientation::Forward => 0,
        Orientation::Reverse => 1,
    }
}

/// Line plot of a motif tiling: the predicted change of expression (delta vs the background)
/// by where the motif starts, one line per orientation (`+` the motif, `−` its reverse
/// complement). One background: x = 1-based position in it, a point per placement (with a
/// `<title>`). Several: x = 0-based offset from the region start (backgrounds of different
/// forms line up), the mean delta over backgrounds and a mean ± sd band
/// (`prixfixe::tiling::tile_bands`).
pub fn tiling_svg(tilings: &[Vec<TileEffect>]) -> String {
    // (orientation index, x, y, y_lo, y_hi)
    let mut points: Vec<(usize, f32, f32, f32, f32)> = Vec::new();
    let several = tilings.len() > 1;
    if several {
        for b in tile_bands(tilings) {
            points.push((orientation_index(b.orientation), b.offset as f32, b.mean, b.mean - b.sd, b.mean + b.sd));
        }
    } else {
        for e in tilings.iter().flatten() {
            let p = e.placement;
            points.push((orientation_index(p.orientation), p.position as f32, e.delta, e.delta, e.delta));
        }
    }
    if points.is_empty() {
        return String::from("<svg class=\"tiling\" width=\"0\" height=\"0\"></svg>");
    }
    let (w, h, left, right, top, bottom) = (760.0_f32, 260.0_f32, 52.0_f32, 12.0_f32, 12.0_f32, 40.0_f32);
    let x_min = points.iter().map(|p| p.1).fold(f32::INFINITY, f32::min);
    let x_max = points.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max);
    let mut y_min = points.iter().map(|p| p.3).fold(0.0_f32, f32::min);
    let mut y_max = points.iter().map(|p| p.4).fold(0.0_f32, f32::max);
    if (y_max - y_min).is_nan() || y_max - y_min <= 1e-6 {
        y_min -= 0.1;
        y_max += 0.1;
    }
    let pad = (y_max - y_min) * 0.05;
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let x_span = (x_max - x_min).max(1.0);
    let sx = |x: f32| left + (x - x_min) / x_span * (w - left - right);
    let sy = |y: f32| top + (y_max - y) / (y_max - y_min) * (h - top - bottom);
    let what = if several { "offset from the region start" } else { "position of the motif's first base" };
    let mut s = format!(
        r#"<svg class="tiling" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="motif tiling: predicted expression change by {what}">"#
    );
    // Axes, zero line, ticks.
    let _ = write!(s, r#"<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{:.1}"/>"#, h - bottom);
    let _ = write!(s, r#"<line class="zero" x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#, sy(0.0), w - right, sy(0.0));
    let y_step = nice_step((y_max - y_min) / 4.0);
    let mut k = (y_min / y_step).ceil() as i32;
    while k as f32 * y_step <= y_max {
        let y = k as f32 * y_step;
        let label = if k == 0 { "0".to_string() } else { format!("{y:+.*}", (-y_step.log10().floor()).max(0.0) as usize) };
        let _ = write!(s, r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#, left - 4.0, sy(y) + 3.0);
        k += 1;
    }
    let step = if x_span > 100.0 { 20.0 } else if x_span > 40.0 { 10.0 } else { 5.0 };
    let mut t = (x_min / step).ceil() * step;
    while t <= x_max {
        let _ = write!(s, r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{t}</text>"#, sx(t), h - bottom + 13.0);
        t += step;
    }
    let _ = write!(
        s,
        r#"<text class="lab" x="{:.1}" y="{:.1}" text-anchor="middle">{what}</text><text class="lab" x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">delta (expression bins)</text>"#,
        (left + w - right) / 2.0,
        h - 8.0,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    for (o, name) in [(0, "+ (motif)"), (1, "− (reverse complement)")] {
        let mut line: Vec<&(usize, f32, f32, f32, f32)> = points.iter().filter(|p| p.0 == o).collect();
        line.sort_by(|a, b| a.1.total_cmp(&b.1));
        if line.is_empty() {
            continue;
        }
        let colour = ORIENTATION_COLOURS[o];
        if several {
            let upper = line.iter().map(|p| format!("{:.1},{:.1}", sx(p.1), sy(p.4)));
            let lower = line.iter().rev().map(|p| format!("{:.1},{:.1}", sx(p.1), sy(p.3)));
            let _ = write!(s, r#"<polygon class="band" fill="{colour}" fill-opacity="0.18" points="{}"/>"#, upper.chain(lower).collect::<Vec<_>>().join(" "));
        }
        let pts: Vec<String> = line.iter().map(|p| format!("{:.1},{:.1}", sx(p.1), sy(p.2))).collect();
        let _ = write!(s, r#"<polyline class="line" fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#, pts.join(" "));
        for p in &line {
            let tip = if several {
                format!("offset {} ({}): mean delta {:+.3}, sd {:.3}", p.1, if o == 0 { '+' } else { '-' }, p.2, (p.4 - p.2))
            } else {
                format!("position {} ({}): delta {:+.3}", p.1, if o == 0 { '+' } else { '-' }, p.2)
            };
            let _ = write!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{colour}" data-tip="{tip}"><title>{tip}</title></circle>"#, sx(p.1), sy(p.2));
        }
        let ly = top + 4.0 + o as f32 * 14.0;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"/><text class="lab" x="{:.1}" y="{:.1}">{name}{}</text>"#,
            w - right - 250.0,
            w - right - 232.0,
            w - right - 226.0,
            ly + 4.0,
            if several { ", mean ± sd" } else { "" }
        );
    }
    s.push_str("</svg>");
    s
}

/// A column of the variant table to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantSort {
    /// The row's id (text).
    Id,
    /// Predicted expression of the reference.
    Reference,
    /// Predicted expression of the alternative.
    Alternative,
    /// The variant effect, alternative − reference.
    Delta,
    /// Its size, |delta| (the default: the largest effects first).
    Effect,
}

impl VariantSort {
    /// The order after a click on the header of `clicked` (`descending` second): the same
    /// column again reverses; the delta header goes |delta| ↓ → delta ↓ → delta ↑ → |delta| ↓;
    /// a new column starts ascending for the id, descending for numbers.
    pub fn after_click(current: (Self, bool), clicked: Self) -> (Self, bool) {
        match (current, clicked) {
            ((Self::Effect, true), Self::Delta | Self::Effect) => (Self::Delta, true),
            ((Self::Delta, true), Self::Delta) => (Self::Delta, false),
            (_, Self::Delta | Self::Effect) => (Self::Effect, true),
            ((c, d), k) if c == k => (c, !d),
            (_, Self::Id) => (Self::Id, false),
            (_, k) => (k, true),
        }
    }
}

/// Row indices of `scores` in the order of `key` (`descending` or not); ties keep the table's
/// order.
pub fn variant_order(scores: &[VariantScore], key: VariantSort, descending: bool) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let num = |s: &VariantScore| match key {
        VariantSort::Reference => s.reference,
        VariantSort::Alternative => s.alternative,
        VariantSort::Delta => s.delta(),
        VariantSort::Effect | VariantSort::Id => s.delta().abs(),
    };
    idx.sort_by(|&a, &b| {
        let (x, y) = (&scores[a], &scores[b]);
        let o = if key == VariantSort::Id { x.id.cmp(&y.id) } else { num(x).total_cmp(&num(y)) };
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    idx
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
        assert!(!svg.contains("approx"));
        // A scan in progress: the first two exact, the rest Taylor approximations.
        let marked = heatmap_svg_marked("ACGT", 5.0, &effects, &[true, true, false, false, false, false]);
        assert_eq!(marked.matches("class=\"approx\"").count(), 4);
        assert_eq!(marked.matches("approximate (Taylor ISM)").count(), 8, "4 cells, tip and title each");
        assert!(marked.contains("position 2 C>A: prediction 5.500, delta +0.500 (reference 5.000)\""));
    }

    fn tile(position: usize, orientation: Orientation, delta: f32) -> TileEffect {
        use prixfixe::tiling::Placement;
        TileEffect { placement: Placement { position, offset: position - 18, orientation }, expression: 5.0 + delta, delta }
    }

    #[test]
    fn tiling_plot_has_a_line_per_orientation_and_bands_for_several_backgrounds() {
        let one: Vec<TileEffect> = (18..=22)
            .map(|p| tile(p, Orientation::Forward, 0.1 * (p - 18) as f32))
            .chain((18..=22).map(|p| tile(p, Orientation::Reverse, -0.2)))
            .collect();
        let svg = tiling_svg(std::slice::from_ref(&one));
        assert_eq!(svg.matches("<polyline ").count(), 2);
        assert_eq!(svg.matches("<polygon ").count(), 0, "no band for one background");
        assert_eq!(svg.matches("<circle ").count(), 10);
        assert!(svg.contains("position 22 (+): delta +0.400"), "{svg}");
        assert!(svg.contains("position 18 (-): delta -0.200"));
        assert!(svg.contains(ORIENTATION_COLOURS[0]) && svg.contains(ORIENTATION_COLOURS[1]));

        let other: Vec<TileEffect> = one.iter().map(|e| TileEffect { delta: e.delta + 0.2, ..*e }).collect();
        let svg = tiling_svg(&[one.clone(), other]);
        assert_eq!(svg.matches("<polygon ").count(), 2, "one mean ± sd band per orientation");
        assert_eq!(svg.matches("<polyline ").count(), 2);
        assert!(svg.contains("offset 0 (+): mean delta +0.100, sd 0.141"), "{svg}");
        assert!(svg.contains("offset from the region start"));
        assert_eq!(tiling_svg(&[]), "<svg class=\"tiling\" width=\"0\" height=\"0\"></svg>");
        // A flat tiling (all deltas 0) still draws.
        let flat: Vec<TileEffect> = one.iter().map(|e| TileEffect { delta: 0.0, ..*e }).collect();
        assert!(!tiling_svg(&[flat]).contains("NaN"));
        assert_eq!((nice_step(0.3), nice_step(0.07), nice_step(4.0), nice_step(0.0)), (0.2, 0.05, 5.0, 1.0));
    }

    #[test]
    fn tiling_csv_is_dream_tile_and_names_backgrounds() {
        let a = vec![tile(18, Orientation::Forward, 0.5), tile(18, Orientation::Reverse, -0.25)];
        let csv = tiling_csv(&[("a".into(), a.clone())]);
        assert_eq!(csv, tile_table(&a, ','));
        let csv = tiling_csv(&[("a".into(), a.clone()), ("b,c".into(), a)]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "background,position,orientation,expression,delta");
        assert_eq!(lines[1], "a,18,+,5.500000,0.500000");
        assert_eq!(lines[4], "\"b,c\",18,-,4.750000,-0.250000");
    }

    #[test]
    fn variant_table_sorts_by_any_column() {
        let v = |id: &str, r: f32, a: f32| VariantScore { id: id.into(), reference: r, alternative: a };
        let s = vec![v("b", 5.0, 5.5), v("a", 6.0, 4.0), v("c", 4.0, 4.1)];
        assert_eq!(variant_order(&s, VariantSort::Effect, true), vec![1, 0, 2]);
        assert_eq!(variant_order(&s, VariantSort::Delta, true), vec![0, 2, 1]);
        assert_eq!(variant_order(&s, VariantSort::Delta, false), vec![1, 2, 0]);
        assert_eq!(variant_order(&s, VariantSort::Id, false), vec![1, 0, 2]);
        assert_eq!(variant_order(&s, VariantSort::Reference, true), vec![1, 0, 2]);
        assert_eq!(variant_order(&s, VariantSort::Alternative, false), vec![1, 2, 0]);
        use VariantSort::*;
        assert_eq!(VariantSort::after_click((Effect, true), Delta), (Delta, true));
        assert_eq!(VariantSort::after_click((Delta, true), Delta), (Delta, false));
        assert_eq!(VariantSort::after_click((Delta, false), Delta), (Effect, true));
        assert_eq!(VariantSort::after_click((Effect, true), Id), (Id, false));
        assert_eq!(VariantSort::after_click((Id, false), Id), (Id, true));
        assert_eq!(VariantSort::after_click((Id, false), Reference), (Reference, true));
        assert_eq!(VariantSort::after_click((Reference, true), Reference), (Reference, false));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("YDL047W.5|test_pos=115"), "YDL047W.5|test_pos=115");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
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
        let pred = Prediction { expression: 4.0, forward: 4.0, reverse: 4.0, outputs: vec![4.0], probs: probs.to_vec() };
        let csv = predictions_csv(&[entry], &[pred]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("id,length,input_form,prediction,forward,reverse,bin_0,"));
        assert!(lines[1].starts_with("\"a,b\",80,region80,4.000000,4.000000,4.000000,0.000000,"));
        assert_eq!(lines[1].split(',').count(), 6 + N_BINS + 1);
    }

    #[test]
    fn outputs_csv_names_each_output() {
        let entry = Entry { id: "e1".into(), sequence: "A".repeat(249), line: 1, form: prixfixe::data::InputForm::Window };
        let pred = Prediction { expression: 1.5, forward: 1.0, reverse: 2.0, outputs: vec![1.5, -0.25], probs: vec![] };
        let csv = outputs_csv(&[entry], &[pred], &["Dev".to_string(), "Hk".to_string()]);
        assert_eq!(csv, "id,length,Dev,Hk\ne1,249,1.500000,-0.250000\n");
    }
}
