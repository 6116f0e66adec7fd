//! Pictures of a sequence design (`prixfixe::design`): the trajectory (predicted expression after
//! each accepted step) as SVG, and the designed sequence with its changes marked. Pure functions,
//! tested natively; the page inserts the markup.

use std::fmt::Write as _;

use prixfixe::design::{DesignStep, Goal};

/// The trajectory: expression (y) after each step (x = step, 0 = the start), points joined by a
/// line, a dashed line at a target goal. Each point carries a `<title>` with the step, the
/// expression and the change made.
pub fn trajectory_svg(steps: &[DesignStep], goal: Goal) -> String {
    if steps.is_empty() {
        return String::from("<svg class=\"trajectory\" width=\"0\" height=\"0\"></svg>");
    }
    let (w, h, left, right, top, bottom) = (420.0_f32, 180.0_f32, 44.0_f32, 12.0_f32, 12.0_f32, 28.0_f32);
    let mut lo = steps.iter().map(|s| s.expression).fold(f32::INFINITY, f32::min);
    let mut hi = steps.iter().map(|s| s.expression).fold(f32::NEG_INFINITY, f32::max);
    if let Goal::Target(t) = goal {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    let pad = ((hi - lo) * 0.1).max(0.05);
    let (lo, hi) = (lo - pad, hi + pad);
    let n = steps.len().max(2) - 1;
    let x = |i: usize| left + (w - left - right) * i as f32 / n as f32;
    let y = |e: f32| top + (h - top - bottom) * (hi - e) / (hi - lo);
    let mut s = format!(
        r##"<svg class="trajectory" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="design trajectory: predicted expression after each step" font-family="sans-serif" font-size="9"><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999"/><line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="#999"/>"##,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for k in 0..=4 {
        let e = lo + (hi - lo) * k as f32 / 4.0;
        let _ = write!(s, r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#444">{e:.2}</text>"##, left - 4.0, y(e) + 3.0);
    }
    for (i, _) in steps.iter().enumerate() {
        if steps.len() <= 12 || i % steps.len().div_ceil(10) == 0 {
            let _ = write!(s, r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">{i}</text>"##, x(i), h - bottom + 12.0);
        }
    }
    let _ = write!(s, r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#444">step (0 = the start)</text>"##, (left + w - right) / 2.0, h - 4.0);
    if let Goal::Target(t) = goal {
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#b2182b" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#b2182b">target {t}</text>"##,
            y(t),
            w - right,
            y(t),
            w - right,
            y(t) - 3.0
        );
    }
    let points: Vec<String> = steps.iter().enumerate().map(|(i, st)| format!("{:.1},{:.1}", x(i), y(st.expression))).collect();
    let _ = write!(s, r##"<polyline points="{}" fill="none" stroke="#2166ac" stroke-width="1.5"/>"##, points.join(" "));
    for (i, st) in steps.iter().enumerate() {
        let change = match (i, st.changes.len()) {
            (0, _) => "the start".to_string(),
            _ => {
                let prev = &steps[i - 1].changes;
                let new: Vec<String> = st.changes.iter().filter(|c| !prev.contains(c)).map(|c| format!("{}{}>{}", c.position, c.reference, c.alternative)).collect();
                format!("{} ({} change(s) from the start)", new.join(", "), st.changes.len())
            }
        };
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#2166ac"><title>step {i}: expression {:.3}; {change}</title></circle>"##,
            x(i),
            y(st.expression),
            st.expression
        );
    }
    s.push_str("</svg>");
    s
}

/// A stretch of the designed sequence: unchanged bases, or one changed base with what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bases as in the start.
    Same(String),
    /// A substituted base: (1-based position, start base, new base).
    Changed(usize, char, char),
}

/// The final sequence of a design cut into unchanged stretches and changed bases, for marking.
pub fn marked_sequence(step: &DesignStep) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut run = String::new();
    for (i, c) in step.sequence.chars().enumerate() {
        match step.changes.iter().find(|v| v.position == i + 1) {
            Some(v) => {
                if !run.is_empty() {
                    out.push(Segment::Same(std::mem::take(&mut run)));
                }
                out.push(Segment::Changed(v.position, v.reference, c));
            }
            None => run.push(c),
        }
    }
    if !run.is_empty() {
        out.push(Segment::Same(run));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prixfixe::predictor::Variant;

    fn steps() -> Vec<DesignStep> {
        let v = |position, reference, alternative| Variant { position, reference, alternative };
        vec![
            DesignStep { step: 0, sequence: "AAAA".into(), expression: 1.0, changes: vec![] },
            DesignStep { step: 1, sequence: "AGAA".into(), expression: 2.0, changes: vec![v(2, 'A', 'G')] },
            DesignStep { step: 2, sequence: "AGAC".into(), expression: 2.5, changes: vec![v(2, 'A', 'G'), v(4, 'A', 'C')] },
        ]
    }

    #[test]
    fn trajectory_has_a_point_per_step_and_the_target_line() {
        let svg = trajectory_svg(&steps(), Goal::Target(3.0));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("step 2: expression 2.500; 4A>C (2 change(s) from the start)"));
        assert!(svg.contains("target 3"));
        assert!(!trajectory_svg(&steps(), Goal::Maximize).contains("target"));
        assert!(trajectory_svg(&[], Goal::Maximize).contains("width=\"0\""));
    }

    #[test]
    fn changed_bases_are_cut_out() {
        let s = steps();
        assert_eq!(
            marked_sequence(&s[2]),
            vec![Segment::Same("A".into()), Segment::Changed(2, 'A', 'G'), Segment::Same("A".into()), Segment::Changed(4, 'A', 'C')]
        );
        assert_eq!(marked_sequence(&s[0]), vec![Segment::Same("AAAA".into())]);
    }
}
