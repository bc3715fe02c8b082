//! Figures to SVG with `plotters` (its SVG backend only: text is written as `<text>` for the
//! viewer to set, so nothing here needs a font).
//!
//! Conventions every figure follows, so they read alike:
//! * energies use one colour scale (viridis: dark is low, yellow is high), with a bar that
//!   gives its values and tick lines at the contour levels;
//! * the correct answer `y_i` is green, the inferred `y*` red, the descent path and the most
//!   offending answer `ȳ` orange; every marked thing has a legend entry;
//! * axes are labelled with the coordinate (`y[1]`) and shown in the data's units.
//!
//! A heat map is one embedded PNG image at the plot's pixel size (nearest sample per pixel)
//! rather than a `<rect>` per sample: a 200 × 200 map stays a few tens of kilobytes.

use super::contour::contour;
use super::grid::Grid;
use super::setup::Prepared;
use super::{Answers, FigureData, Landscape, PlotError, Surface};
use crate::check::Model;
use crate::runtime::history::History;
use crate::runtime::metrics::OutputMetrics;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Display;

const WIDTH: u32 = 820;
const HEIGHT: u32 = 600;
/// The colour bar's share of a heat map's width.
const BAR_WIDTH: u32 = 120;
const FONT: &str = "sans-serif";
/// Below this, differences of energy get one colour unless `--scale` zooms in: so a
/// collapsed (flat) energy looks flat instead of showing its rounding noise at full contrast.
const MIN_SPAN: f64 = 0.1;
const CONTOUR_LEVELS: usize = 9;

const TRUTH: RGBColor = RGBColor(44, 160, 44);
const INFERRED: RGBColor = RGBColor(214, 39, 40);
const PATH: RGBColor = RGBColor(255, 127, 14);
const CURVE: RGBColor = RGBColor(31, 119, 180);
const BAR: RGBColor = RGBColor(140, 160, 190);

fn failed(e: impl Display) -> PlotError {
    PlotError(format!("cannot draw the figure: {e}"))
}

/// Viridis, sampled at nine points and interpolated linearly.
pub(crate) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (72, 40, 120),
        (62, 73, 137),
        (49, 104, 142),
        (38, 130, 142),
        (31, 158, 137),
        (53, 183, 121),
        (110, 206, 88),
        (253, 231, 37),
    ];
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } * 8.0;
    let k = (t.floor() as usize).min(7);
    let f = t - k as f64;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    let mix = |x: u8, y: u8| (x as f64 + f * (y as f64 - x as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The colour scale: `--scale`, else from the lowest energy to the 98th percentile (a few
/// huge values at a corner would otherwise wash everything else out), at least `MIN_SPAN`.
fn colour_range(values: &[f64], given: Option<(f64, f64)>) -> (f64, f64) {
    if let Some(r) = given {
        return r;
    }
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    finite.sort_by(f64::total_cmp);
    let lo = finite[0];
    let hi = finite[((finite.len() - 1) as f64 * 0.98).round() as usize];
    (lo, hi.max(lo + MIN_SPAN))
}

/// Renders into a string; fixes the one thing plotters writes wrongly (see below).
fn render(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), PlotError>,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        draw(&root)?;
        root.present().map_err(failed)?;
    }
    // plotters-svg 0.3.7 labels embedded images `data:png`, which is no media type; browsers
    // and SVG renderers need `image/png` to show them.
    Ok(svg.replace("href=\"data:png;base64,", "href=\"data:image/png;base64,"))
}

pub(crate) fn figure(
    model: &Model,
    data: &FigureData,
    pr: &Prepared,
    scale: Option<(f64, f64)>,
) -> Result<String, PlotError> {
    match data {
        FigureData::Landscape(l) if l.grid.axes.len() == 1 => line(model, l, pr),
        FigureData::Landscape(l) => {
            let title = format!(
                "energy landscape of {}{}",
                model.name,
                at_text(model, pr, &l.inferred)
            );
            map(&title, &l.grid, scale, &|chart| landscape_marks(chart, l))
        }
        FigureData::Answers(a) => bars(model, a, pr),
        FigureData::Surface(s) => {
            let title = format!("energy surface of {}", model.name);
            map(&title, &s.grid, scale, &|chart| surface_marks(chart, s))
        }
        FigureData::Training(h) => training(h),
        FigureData::Density(d) => {
            let title = format!("density of {}: E (low is probable)", model.name);
            map(&title, &d.grid, scale, &|chart| density_marks(chart, d))
        }
    }
}

/// ", x = 1.5" for a model with one scalar input; the input is otherwise too long to show.
fn at_text(model: &Model, pr: &Prepared, p: &crate::runtime::session::Point) -> String {
    let inputs: Vec<_> = model.vars_of(crate::check::Role::Input).collect();
    match inputs.as_slice() {
        [(id, v)] if v.ty.elements() == 1 => {
            let u = pr.unit(*id, 0);
            format!(
                ", {} = {}",
                v.name,
                short(p.values[id.0 as usize][0] * u.0 + u.1)
            )
        }
        _ => String::new(),
    }
}

/// A number with four significant digits, without trailing zeros.
fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 8) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A 1-D landscape: the energy along one coordinate, with y_i, y* and the descent path.
fn line(model: &Model, l: &Landscape, pr: &Prepared) -> Result<String, PlotError> {
    let axis = &l.grid.axes[0];
    let curve: Vec<(f64, f64)> = axis
        .values
        .iter()
        .zip(&l.grid.energies)
        .map(|(v, e)| (axis.shown(*v), *e))
        .collect();
    let path: Vec<(f64, f64)> = l
        .path
        .iter()
        .zip(&l.path_energies)
        .map(|(p, e)| (axis.shown(axis.of(p)), *e))
        .collect();
    let energies = curve
        .iter()
        .chain(&path)
        .map(|c| c.1)
        .filter(|e| e.is_finite());
    let lo = energies.clone().fold(f64::INFINITY, f64::min);
    let hi = energies.fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = 0.06 * (hi - lo).max(1e-9);
    let (e0, e1) = (lo - pad, hi + pad);
    let (x0, x1) = axis.shown_range();
    let title = format!(
        "energy landscape of {}{}",
        model.name,
        at_text(model, pr, &l.inferred)
    );
    render((WIDTH, HEIGHT - 80), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 20))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, e0..e1)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc(axis.label.as_str())
            .y_desc("energy E")
            .label_style((FONT, 14))
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(LineSeries::new(
                curve.iter().copied(),
                CURVE.stroke_width(2),
            ))
            .map_err(failed)?
            .label(format!("E at {}", axis.label))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], CURVE.stroke_width(2)));
        if let Some(t) = &l.truth {
            let x = axis.shown(axis.of(t));
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, e0), (x, e1)],
                    TRUTH.stroke_width(2),
                )))
                .map_err(failed)?
                .label(format!("correct {} = {}", axis.label, short(x)))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], TRUTH.stroke_width(2))
                });
        }
        descent_path(&mut chart, &path, 1)?;
        let x = axis.shown(axis.of(&l.inferred));
        chart
            .draw_series(std::iter::once(Cross::new(
                (x, l.inferred_energy),
                7,
                INFERRED.stroke_width(3),
            )))
            .map_err(failed)?
            .label(format!("inferred {}* = {}", axis.label, short(x)))
            .legend(|(x, y)| Cross::new((x + 10, y), 5, INFERRED.stroke_width(2)));
        legend(&mut chart)
    })
}

fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>) -> Result<(), PlotError> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FONT, 13))
        .draw()
        .map_err(failed)
}

/// A heat map of a 2-D grid with contour lines and a colour bar; `marks` draws on top.
fn map(
    title: &str,
    grid: &Grid,
    scale: Option<(f64, f64)>,
    marks: &dyn Fn(&mut Chart) -> Result<bool, PlotError>,
) -> Result<String, PlotError> {
    let (ax, ay) = (&grid.axes[0], &grid.axes[1]);
    let (nx, ny) = (ax.values.len(), ay.values.len());
    let (lo, hi) = colour_range(&grid.energies, scale);
    let levels: Vec<f64> = (1..=CONTOUR_LEVELS)
        .map(|k| lo + (hi - lo) * k as f64 / (CONTOUR_LEVELS + 1) as f64)
        .collect();
    // Each sample is the centre of its cell: the axes reach half a cell past the first and
    // last samples, and pixel (i, j) of the image is sample (i, ny − 1 − j).
    let half = |a: &super::grid::Axis| {
        let (lo, hi) = a.shown_range();
        let h = 0.5 * (hi - lo) / (a.values.len() - 1) as f64;
        (lo - h, hi + h)
    };
    let ((x0, x1), (y0, y1)) = (half(ax), half(ay));
    let at = |values: &[f64], f: f64| -> f64 {
        // Between samples `floor(f)` and the next, linearly.
        let k = (f.floor() as usize).min(values.len() - 2);
        values[k] + (f - k as f64) * (values[k + 1] - values[k])
    };
    let mut plot_pixels = (0, 0);
    let svg = render((WIDTH, HEIGHT), |root| {
        let (left, right) = root.split_horizontally(WIDTH - BAR_WIDTH);
        let mut chart = ChartBuilder::on(&left)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(ax.label.as_str())
            .y_desc(ay.label.as_str())
            .label_style((FONT, 14))
            .draw()
            .map_err(failed)?;
        plot_pixels = chart.plotting_area().dim_in_pixel();
        let mut pixels = Vec::with_capacity(nx * ny * 3);
        for j in (0..ny).rev() {
            for i in 0..nx {
                let e = grid.energies[i + nx * j];
                let c = if e.is_nan() {
                    RGBColor(200, 200, 200)
                } else {
                    viridis(quantize((e - lo) / (hi - lo)))
                };
                pixels.extend_from_slice(&[c.0, c.1, c.2]);
            }
        }
        let image = BitMapElement::with_owned_buffer((x0, y1), (nx as u32, ny as u32), pixels)
            .ok_or_else(|| failed("the heat map's pixel buffer has the wrong size"))?;
        chart.draw_series(std::iter::once(image)).map_err(failed)?;
        let mut first = true;
        for level in &levels {
            let lines = contour(nx, ny, &grid.energies, *level);
            let series = chart
                .draw_series(lines.into_iter().map(|l| {
                    let pts: Vec<(f64, f64)> = l
                        .into_iter()
                        .map(|(i, j)| (ax.shown(at(&ax.values, i)), ay.shown(at(&ay.values, j))))
                        .collect();
                    PathElement::new(pts, WHITE.mix(0.55).stroke_width(1))
                }))
                .map_err(failed)?;
            if first {
                series
                    .label("contours of E")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.6)));
                first = false;
            }
        }
        if marks(&mut chart)? {
            legend(&mut chart)?;
        }
        colour_bar(&right, lo, hi, &levels)
    })?;
    // The image holds one pixel per sample; stretch it over the plotting area (plotters
    // blits bitmaps at their own size only).
    let (pw, ph) = plot_pixels;
    Ok(svg.replacen(
        &format!("width=\"{nx}\" height=\"{ny}\" href="),
        &format!("width=\"{pw}\" height=\"{ph}\" preserveAspectRatio=\"none\" href="),
        1,
    ))
}

/// `t` in `[0, 1]` to the middle of one of `SHADES` bands: the eye cannot tell more shades
/// of the scale apart, and runs of equal pixels shrink the embedded PNG several times over.
fn quantize(t: f64) -> f64 {
    const SHADES: f64 = 64.0;
    ((t.clamp(0.0, 1.0) * SHADES).floor().min(SHADES - 1.0) + 0.5) / SHADES
}

fn colour_bar(
    area: &DrawingArea<SVGBackend, Shift>,
    lo: f64,
    hi: f64,
    levels: &[f64],
) -> Result<(), PlotError> {
    const STEPS: usize = 64;
    let mut bar = ChartBuilder::on(area)
        .caption("E", (FONT, 16))
        .margin_top(24)
        .margin_bottom(59)
        .margin_right(8)
        .set_label_area_size(LabelAreaPosition::Right, 62)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(failed)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .label_style((FONT, 12))
        .draw()
        .map_err(failed)?;
    bar.draw_series((0..STEPS).map(|k| {
        let a = lo + (hi - lo) * k as f64 / STEPS as f64;
        let b = lo + (hi - lo) * (k + 1) as f64 / STEPS as f64;
        let c = viridis((k as f64 + 0.5) / STEPS as f64);
        Rectangle::new([(0.0, a), (1.0, b)], c.filled())
    }))
    .map_err(failed)?;
    bar.draw_series(
        levels
            .iter()
            .map(|&l| PathElement::new(vec![(0.0, l), (1.0, l)], WHITE.mix(0.8))),
    )
    .map_err(failed)?;
    Ok(())
}

/// Descent's iterates as a line with a dot at each, when there was more than one.
fn descent_path(chart: &mut Chart, path: &[(f64, f64)], width: u32) -> Result<(), PlotError> {
    if path.len() < 2 {
        return Ok(());
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            path.to_vec(),
            PATH.stroke_width(width),
        )))
        .map_err(failed)?
        .label(format!("descent path ({} steps)", path.len() - 1))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], PATH.stroke_width(2)));
    chart
        .draw_series(path.iter().map(|&c| Circle::new(c, 2, PATH.filled())))
        .map_err(failed)?;
    Ok(())
}

/// y_i, y* and the descent path (projected onto the two axes) on a landscape's heat map.
fn landscape_marks(chart: &mut Chart, l: &Landscape) -> Result<bool, PlotError> {
    let (ax, ay) = (&l.grid.axes[0], &l.grid.axes[1]);
    let at = |p: &crate::runtime::session::Point| (ax.shown(ax.of(p)), ay.shown(ay.of(p)));
    let path: Vec<(f64, f64)> = l.path.iter().map(at).collect();
    descent_path(&mut *chart, &path, 2)?;
    if let Some(t) = &l.truth {
        chart
            .draw_series(std::iter::once(Circle::new(at(t), 6, TRUTH.filled())))
            .map_err(failed)?
            .label("correct answer y_i")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, TRUTH.filled()));
    }
    chart
        .draw_series(std::iter::once(Cross::new(
            at(&l.inferred),
            7,
            INFERRED.stroke_width(3),
        )))
        .map_err(failed)?
        .label("inferred y*")
        .legend(|(x, y)| Cross::new((x + 10, y), 5, INFERRED.stroke_width(2)));
    Ok(true)
}

/// The data on a surface: training rows filled, test rows hollow.
fn surface_marks(chart: &mut Chart, s: &Surface) -> Result<bool, PlotError> {
    data_marks(chart, &s.points, s.test_from)
}

/// Data points: the rows before `test_from` (training) filled, the rest (test) hollow.
fn data_marks(
    chart: &mut Chart,
    points: &[(f64, f64)],
    test_from: usize,
) -> Result<bool, PlotError> {
    if points.is_empty() {
        return Ok(true);
    }
    let (train, test) = points.split_at(test_from);
    if !train.is_empty() {
        chart
            .draw_series(train.iter().map(|&c| Circle::new(c, 2, WHITE.filled())))
            .map_err(failed)?
            .label(format!("training data ({})", train.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 4, WHITE.filled()));
    }
    if !test.is_empty() {
        chart
            .draw_series(
                test.iter()
                    .map(|&c| Circle::new(c, 2, INFERRED.stroke_width(1))),
            )
            .map_err(failed)?
            .label(format!("test data ({})", test.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 4, INFERRED.stroke_width(1)));
    }
    Ok(true)
}

/// The data on a density as on a surface, and the samples as small orange dots.
fn density_marks(chart: &mut Chart, d: &super::Density) -> Result<bool, PlotError> {
    data_marks(chart, &d.points, d.test_from)?;
    if !d.samples.is_empty() {
        chart
            .draw_series(d.samples.iter().map(|&c| Circle::new(c, 1, PATH.filled())))
            .map_err(failed)?
            .label(format!("samples ({})", d.samples.len()))
            .legend(|(x, y)| Circle::new((x + 10, y), 3, PATH.filled()));
    }
    Ok(true)
}

/// Discrete outputs: one bar per answer; y_i green, ȳ orange, y* outlined in red.
fn bars(model: &Model, a: &Answers, pr: &Prepared) -> Result<String, PlotError> {
    let n = a.energies.len();
    let finite = a.energies.iter().copied().filter(|e| e.is_finite());
    let lo = finite.clone().fold(0.0, f64::min);
    let hi = finite.fold(0.0, f64::max);
    let pad = 0.08 * (hi - lo).max(1e-9);
    let title = format!(
        "energy of every answer: {}{}",
        model.name,
        at_text(model, pr, &a.point)
    );
    let outputs: Vec<&str> = model
        .vars_of(crate::check::Role::Output)
        .map(|(_, v)| v.name.as_str())
        .collect();
    let x_desc = outputs.join(", ");
    render((WIDTH, HEIGHT - 80), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, 20))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, lo - pad..hi + pad)
            .map_err(failed)?;
        let labels = a.labels.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(n.min(30) + 1)
            .x_label_formatter(&move |x: &f64| {
                let k = x.round();
                if (x - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < labels.len() {
                    labels[k as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_desc(x_desc.as_str())
            .y_desc("energy E")
            .label_style((FONT, 14))
            .draw()
            .map_err(failed)?;
        let colour = |k: usize| {
            if Some(k) == a.truth {
                TRUTH
            } else if Some(k) == a.offending {
                PATH
            } else {
                BAR
            }
        };
        chart
            .draw_series((0..n).map(|k| {
                let x = k as f64;
                Rectangle::new(
                    [(x - 0.35, 0.0), (x + 0.35, a.energies[k])],
                    colour(k).filled(),
                )
            }))
            .map_err(failed)?
            .label("E of an answer")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], BAR.filled()));
        if let Some(t) = a.truth {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(failed)?
                .label(format!("correct y_i = {}", a.labels[t]))
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], TRUTH.filled()));
        }
        if let Some(o) = a.offending {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(failed)?
                .label(format!("most offending ȳ = {}", a.labels[o]))
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], PATH.filled()));
        }
        let k = a.inferred;
        let x = k as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x - 0.42, 0.0), (x + 0.42, a.energies[k])],
                INFERRED.stroke_width(3),
            )))
            .map_err(failed)?
            .label(format!("inferred y* = {}", a.labels[k]))
            .legend(|(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], INFERRED.stroke_width(2))
            });
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
                BLACK.mix(0.6),
            )))
            .map_err(failed)?;
        legend(&mut chart)
    })
}

/// Loss per epoch (training and test) and, below it, the test accuracy or R².
pub(crate) fn training(h: &History) -> Result<String, PlotError> {
    let epochs: Vec<f64> = h.epochs.iter().map(|e| e.epoch as f64).collect();
    let train: Vec<(f64, f64)> = h
        .epochs
        .iter()
        .map(|e| (e.epoch as f64, e.train_loss))
        .collect();
    let test: Vec<(f64, f64)> = h
        .epochs
        .iter()
        .filter_map(|e| Some((e.epoch as f64, e.test.as_ref()?.loss?)))
        .collect();
    // The first output's metric: accuracy for discrete outputs, R² for real ones.
    let metric: Vec<(f64, f64, &str)> = h
        .epochs
        .iter()
        .filter_map(|e| {
            let (_, m) = e.test.as_ref()?.outputs.first()?;
            // An undefined R² (targets that do not vary) is left out of the curve.
            Some(match *m {
                OutputMetrics::Discrete { accuracy, .. } => {
                    (e.epoch as f64, accuracy, "test accuracy")
                }
                OutputMetrics::Real { r2, .. } => (e.epoch as f64, r2?, "test R²"),
                OutputMetrics::Density { nll, .. } => (e.epoch as f64, nll?, "test NLL"),
            })
        })
        .collect();
    let x0 = epochs.first().copied().unwrap_or(1.0);
    let x1 = epochs.last().copied().unwrap_or(1.0).max(x0 + 1.0);
    let title = if h.model.is_empty() {
        "training".to_string()
    } else {
        format!("training of {}", h.model)
    };
    let height = if metric.is_empty() {
        HEIGHT - 80
    } else {
        HEIGHT + 120
    };
    render((WIDTH, height), |root| {
        let root = root.titled(&title, (FONT, 20)).map_err(failed)?;
        let (top, bottom) = if metric.is_empty() {
            (root.clone(), None)
        } else {
            let (a, b) = root.split_vertically((height - 30) / 2 + 20);
            (a, Some(b))
        };
        let losses = train
            .iter()
            .chain(&test)
            .map(|p| p.1)
            .filter(|v| v.is_finite());
        let lo = losses.clone().fold(f64::INFINITY, f64::min);
        let hi = losses.fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        let pad = 0.06 * (hi - lo).max(1e-9);
        let mut chart = ChartBuilder::on(&top)
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, lo - pad..hi + pad)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_desc("loss")
            .label_style((FONT, 14))
            .draw()
            .map_err(failed)?;
        chart
            .draw_series(LineSeries::new(
                train.iter().copied(),
                CURVE.stroke_width(2),
            ))
            .map_err(failed)?
            .label("training loss (mean over the epoch's steps)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], CURVE.stroke_width(2)));
        if !test.is_empty() {
            chart
                .draw_series(LineSeries::new(test.iter().copied(), PATH.stroke_width(2)))
                .map_err(failed)?
                .label("test loss (after the epoch)")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], PATH.stroke_width(2)));
        }
        legend(&mut chart)?;
        if let Some(bottom) = bottom {
            let name = metric[0].2;
            let values = metric.iter().map(|m| m.1).filter(|v| v.is_finite());
            let lo = values.clone().fold(f64::INFINITY, f64::min);
            let hi = values.fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            // At least a few points of accuracy (or a little R²) tall, so noise looks small.
            let (lo, hi) = (lo.min(hi - 0.05), hi.max(lo + 1e-3));
            let pad = 0.06 * (hi - lo);
            let mut chart = ChartBuilder::on(&bottom)
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(x0..x1, lo - pad..hi + pad)
                .map_err(failed)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_label_formatter(&|x| format!("{x:.0}"))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_desc(name)
                .label_style((FONT, 14))
                .draw()
                .map_err(failed)?;
            chart
                .draw_series(LineSeries::new(
                    metric.iter().map(|m| (m.0, m.1)),
                    TRUTH.stroke_width(2),
                ))
                .map_err(failed)?
                .label(name)
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], TRUTH.stroke_width(2))
                });
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.5))
                .label_font((FONT, 13))
                .draw()
                .map_err(failed)?;
        }
        Ok(())
    })
}
