//! The sweep as a picture: quality against bytes a row (log scale), one line per series, the
//! Pareto front (no other point is both smaller and better) marked. Plain SVG 1.1, no scripts,
//! so any browser opens it and tests can parse it as XML.

use super::Point;

/// Which number the chart plots upwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// Analogy accuracy.
    Analogy,
    /// Spearman correlation of the word-pair file with this stem (such as `simlex999`).
    Pairs(String),
    /// Recall@10 against the original model.
    Recall,
}

impl Metric {
    /// Parses `analogy`, `recall` or a word-pair file stem.
    pub fn from_name(name: &str) -> Metric {
        match name {
            "analogy" => Metric::Analogy,
            "recall" => Metric::Recall,
            other => Metric::Pairs(other.to_string()),
        }
    }

    /// The first metric the points have: analogy, else the first pair file, else recall.
    pub fn default_for(points: &[Point]) -> Metric {
        if points.iter().any(|p| p.analogy.is_some()) {
            Metric::Analogy
        } else if let Some(k) = points.iter().find_map(|p| p.pairs.keys().next()) {
            Metric::Pairs(k.clone())
        } else {
            Metric::Recall
        }
    }

    /// The value of this metric at `p`, when measured.
    pub fn value(&self, p: &Point) -> Option<f64> {
        match self {
            Metric::Analogy => p.analogy,
            Metric::Pairs(k) => p.pairs.get(k).copied(),
            Metric::Recall => p.recall_at_10,
        }
        .filter(|v| v.is_finite())
    }

    /// The axis label.
    pub fn label(&self) -> String {
        match self {
            Metric::Analogy => "analogy accuracy".into(),
            Metric::Pairs(k) => format!("{k} Spearman"),
            Metric::Recall => "recall@10 vs original".into(),
        }
    }
}

/// For each `(bytes, quality)`, whether it is on the Pareto front: no other point has at most
/// its bytes and more quality, or fewer bytes and at least its quality.
pub fn pareto(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(b, q)| {
            !points
                .iter()
                .any(|&(b2, q2)| (b2 <= b && q2 > q) || (b2 < b && q2 >= q))
        })
        .collect()
}

const PALETTE: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the chart of `points` for `metric`. Points without that metric are left out.
pub fn render(points: &[Point], metric: &Metric, title: &str) -> String {
    let (w, h) = (820.0, 500.0);
    let (left, right, top, bottom) = (70.0, 200.0, 50.0, 60.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let data: Vec<(&Point, f64, f64)> = points
        .iter()
        .filter(|p| p.bytes_per_row > 0.0)
        .filter_map(|p| metric.value(p).map(|q| (p, p.bytes_per_row, q)))
        .collect();
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    ));
    out.push_str(&format!(
        "<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n"
    ));
    out.push_str(&format!(
        "<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
        left + pw / 2.0,
        esc(title)
    ));
    // Axes: x in log2(bytes) between whole powers of two; y padded around the values.
    let lb: Vec<f64> = data.iter().map(|d| d.1.log2()).collect();
    let (x0, x1) = match (
        lb.iter().cloned().reduce(f64::min),
        lb.iter().cloned().reduce(f64::max),
    ) {
        (Some(a), Some(b)) => (a.floor(), b.ceil().max(a.floor() + 1.0)),
        _ => (0.0, 1.0),
    };
    let qs: Vec<f64> = data.iter().map(|d| d.2).collect();
    let (mut y0, mut y1) = match (
        qs.iter().cloned().reduce(f64::min),
        qs.iter().cloned().reduce(f64::max),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => (0.0, 1.0),
    };
    let pad = ((y1 - y0) * 0.08).max(0.005);
    y0 -= pad;
    y1 += pad;
    let sx = |b: f64| left + (b.log2() - x0) / (x1 - x0) * pw;
    let sy = |q: f64| top + (1.0 - (q - y0) / (y1 - y0)) * ph;
    out.push_str(&format!(
        "<g class=\"axes\" stroke=\"#444\" fill=\"none\"><line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\"/></g>\n",
        top + ph,
        left + pw,
        top + ph,
        top + ph
    ));
    let mut e = x0 as i64;
    while e as f64 <= x1 {
        let x = left + (e as f64 - x0) / (x1 - x0) * pw;
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e4e4e4\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
            top + ph,
            top + ph + 18.0,
            2f64.powi(e as i32)
        ));
        e += 1;
    }
    for i in 0..=5 {
        let q = y0 + (y1 - y0) * i as f64 / 5.0;
        let y = sy(q);
        out.push_str(&format!(
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{q:.3}</text>\n",
            left + pw,
            left - 6.0,
            y + 4.0
        ));
    }
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">bytes a row (log scale)</text>\n",
        left + pw / 2.0,
        h - 16.0
    ));
    out.push_str(&format!(
        "<text x=\"18\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {:.1})\">{}</text>\n",
        top + ph / 2.0,
        top + ph / 2.0,
        esc(&metric.label())
    ));
    // Series in order of first appearance.
    let mut series: Vec<&str> = Vec::new();
    for (p, _, _) in &data {
        if !series.contains(&p.series.as_str()) {
            series.push(&p.series);
        }
    }
    for (si, name) in series.iter().enumerate() {
        let color = PALETTE[si % PALETTE.len()];
        let mut pts: Vec<&(&Point, f64, f64)> =
            data.iter().filter(|d| d.0.series == *name).collect();
        pts.sort_by(|a, b| a.1.total_cmp(&b.1));
        let line: Vec<String> = pts
            .iter()
            .map(|d| format!("{:.1},{:.1}", sx(d.1), sy(d.2)))
            .collect();
        out.push_str(&format!(
            "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
            esc(name),
            line.join(" ")
        ));
        for d in &pts {
            out.push_str(&format!(
                "<circle class=\"point\" data-series=\"{}\" data-dims=\"{}\" data-bytes=\"{}\" data-value=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{color}\"><title>{} · {} dims · {:.1} bytes · {:.4}</title></circle>\n",
                esc(name),
                d.0.dims,
                d.1,
                d.2,
                sx(d.1),
                sy(d.2),
                esc(name),
                d.0.dims,
                d.1,
                d.2
            ));
        }
        let ly = top + 16.0 + si as f64 * 20.0;
        out.push_str(&format!(
            "<g class=\"legend\"><line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>\n",
            left + pw + 16.0,
            left + pw + 40.0,
            left + pw + 46.0,
            ly + 4.0,
            esc(name)
        ));
    }
    // The Pareto front: rings around its points and a dashed line through them.
    let bq: Vec<(f64, f64)> = data.iter().map(|d| (d.1, d.2)).collect();
    let on = pareto(&bq);
    let mut front: Vec<&(&Point, f64, f64)> = data
        .iter()
        .zip(&on)
        .filter(|(_, &o)| o)
        .map(|(d, _)| d)
        .collect();
    front.sort_by(|a, b| a.1.total_cmp(&b.1));
    let line: Vec<String> = front
        .iter()
        .map(|d| format!("{:.1},{:.1}", sx(d.1), sy(d.2)))
        .collect();
    out.push_str(&format!(
        "<polyline class=\"pareto\" fill=\"none\" stroke=\"#000\" stroke-width=\"1\" stroke-dasharray=\"4 3\" points=\"{}\"/>\n",
        line.join(" ")
    ));
    for d in &front {
        out.push_str(&format!(
            "<circle class=\"front\" data-series=\"{}\" data-dims=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"7\" fill=\"none\" stroke=\"#000\"/>\n",
            esc(&d.0.series),
            d.0.dims,
            sx(d.1),
            sy(d.2)
        ));
    }
    let ly = top + 16.0 + series.len() as f64 * 20.0;
    out.push_str(&format!(
        "<g class=\"legend\"><line x1=\"{:.1}\" y1=\"{ly:.1}\" x2=\"{:.1}\" y2=\"{ly:.1}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\">Pareto front</text></g>\n",
        left + pw + 16.0,
        left + pw + 40.0,
        left + pw + 46.0,
        ly + 4.0
    ));
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pareto_keeps_only_undominated_points() {
        let pts = [
            (10.0, 0.5),
            (20.0, 0.4),
            (20.0, 0.6),
            (40.0, 0.6),
            (5.0, 0.1),
        ];
        assert_eq!(pareto(&pts), vec![true, false, true, false, true]);
    }
}
