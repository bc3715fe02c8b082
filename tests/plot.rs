//! `ebmc plot`: every kind of figure for the examples, parsed as XML and checked for the series
//! it should hold — and the energies it draws checked against the session's own at sampled
//! grid points. No pixel snapshots: the numbers and the structure are what must not drift.

use ebmc::check::Model;
use ebmc::compile::Backend;
use ebmc::plot::{self, Figure, FigureData, Kind, PlotOptions};
use ebmc::runtime::history::History;
use ebmc::runtime::run::{self, RunOptions};
use ebmc::runtime::session::Session;
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Data-free models of the implicit and latent architectures, fixed here so that the figures
/// these tests expect do not move when the runnable examples change.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plot")
}

fn load(path: &Path) -> Model {
    let bytes = std::fs::read(path).unwrap();
    let checked = ebmc::driver::check(&bytes);
    assert!(!checked.has_errors(), "{path:?} checks");
    checked.models.into_iter().next().unwrap()
}

fn draw(kind: Kind, model: &Model, dir: &Path, opts: &PlotOptions) -> (Figure, Vec<String>) {
    let mut notes = Vec::new();
    let fig = plot::plot(kind, model, dir, opts, &mut |n| notes.push(n.to_string()))
        .unwrap_or_else(|e| panic!("plot {kind:?} of {}: {e}", model.name));
    (fig, notes)
}

/// The SVG parses; returns its text nodes and the number of elements of each tag asked for.
fn parse(svg: &str, tags: &[&str]) -> (Vec<String>, Vec<usize>) {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect();
    let counts = tags
        .iter()
        .map(|t| doc.descendants().filter(|n| n.has_tag_name(*t)).count())
        .collect();
    (texts, counts)
}

fn has_text(texts: &[String], needle: &str) -> bool {
    texts.iter().any(|t| t.contains(needle))
}

/// The most points any one polyline has.
fn longest_polyline(svg: &str) -> usize {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            n.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// A session with the figure's parameters, to recompute what it drew.
fn session(model: &Model, fig: &Figure) -> Session {
    let mut s = Session::compile(model, Backend::Interp, 0).unwrap();
    s.params.set(fig.params.clone());
    s
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn a_line_landscape_draws_the_session_energy_the_path_and_y_star() {
    let model = load(&fixtures().join("implicit.ebm"));
    let opts = PlotOptions {
        at: vec!["x=0.5".into()],
        ..Default::default()
    };
    let (fig, notes) = draw(Kind::Landscape, &model, &examples(), &opts);
    assert!(notes[0].contains("declared init"), "{notes:?}");
    let (texts, counts) = parse(&fig.svg, &["polyline", "image"]);
    assert!(
        has_text(&texts, "energy landscape of implicit, x = 0.5"),
        "{texts:?}"
    );
    assert!(has_text(&texts, "inferred y*"));
    assert!(has_text(&texts, "descent path"));
    assert_eq!(counts[1], 0, "a line, not a heat map");
    let FigureData::Landscape(l) = &fig.data else {
        panic!("a landscape")
    };
    assert_eq!(l.grid.axes.len(), 1);
    assert_eq!(l.grid.energies.len(), 400);
    assert_eq!(longest_polyline(&fig.svg), 400, "one vertex per sample");
    assert!(l.path.len() > 1 && l.path.len() == l.path_energies.len());
    let mut s = session(&model, &fig);
    for i in [0, 57, 200, 399] {
        let e = s.energy(&mut l.grid.point(&[i])).unwrap();
        assert!(
            close(e, l.grid.energy(&[i])),
            "sample {i}: {e} vs {}",
            l.grid.energy(&[i])
        );
    }
    // y* is where descent ended, and the path ends there.
    let y = model.var_named("y").unwrap().0 as usize;
    assert_eq!(l.path.last().unwrap().values[y], l.inferred.values[y]);
    assert!(close(
        s.energy(&mut l.inferred.clone()).unwrap(),
        l.inferred_energy
    ));
}

#[test]
fn a_two_coordinate_landscape_is_a_heat_map_with_contours_and_a_colour_scale() {
    let model = load(&fixtures().join("latent.ebm"));
    let opts = PlotOptions {
        at: vec!["x=[1, 0, 0, 0, 0, 0, 0, 1]".into()],
        axes: Some("y[0], y[2]".into()),
        grid: Some(41),
        ..Default::default()
    };
    let (fig, _) = draw(Kind::Landscape, &model, &examples(), &opts);
    let (texts, counts) = parse(&fig.svg, &["image", "polyline", "rect"]);
    assert_eq!(counts[0], 1, "the heat map is one image");
    assert!(fig.svg.contains("href=\"data:image/png;base64,"));
    assert!(counts[1] > 3, "contour lines and the path");
    assert!(counts[2] >= 64, "the colour bar's 64 bands");
    assert!(
        has_text(&texts, "y[0]") && has_text(&texts, "y[2]"),
        "axis labels"
    );
    assert!(has_text(&texts, "contours of E") && has_text(&texts, "inferred y*"));
    let FigureData::Landscape(l) = &fig.data else {
        panic!("a landscape")
    };
    assert_eq!(l.grid.dims(), vec![41, 41]);
    let mut s = session(&model, &fig);
    for idx in [[0, 0], [40, 0], [0, 40], [17, 29], [40, 40]] {
        let e = s.energy(&mut l.grid.point(&idx)).unwrap();
        assert!(close(e, l.grid.energy(&idx)), "{idx:?}");
    }
    // Off the axes, the grid sits at y*.
    let y = model.var_named("y").unwrap().0 as usize;
    let p = l.grid.point(&[3, 5]);
    assert_eq!(p.values[y][1], l.inferred.values[y][1]);
    assert_eq!(p.values[y][3], l.inferred.values[y][3]);
}

#[test]
fn a_class_output_gets_a_bar_per_class_with_y_i_and_y_bar() {
    let model = load(&examples().join("iris.ebm"));
    let (fig, notes) = draw(
        Kind::Landscape,
        &model,
        &examples(),
        &PlotOptions::default(),
    );
    assert!(notes[0].contains("training `iris` first"), "{notes:?}");
    let (texts, counts) = parse(&fig.svg, &["rect"]);
    assert!(has_text(&texts, "energy of every answer: iris"));
    assert!(has_text(&texts, "correct y_i"));
    assert!(has_text(&texts, "most offending ȳ"));
    assert!(has_text(&texts, "inferred y*"));
    assert!(counts[0] >= 4, "three bars and the outline of y*");
    let FigureData::Answers(a) = &fig.data else {
        panic!("bars")
    };
    assert_eq!(a.labels, ["0", "1", "2"]);
    let truth = a.truth.expect("from the first test example");
    let mut s = session(&model, &fig);
    let y = model.var_named("y").unwrap().0 as usize;
    for k in 0..3 {
        let mut p = a.point.clone();
        p.values[y] = vec![k as f64];
        assert!(close(s.energy(&mut p).unwrap(), a.energies[k]), "class {k}");
    }
    let lowest = |ks: &mut dyn Iterator<Item = usize>| {
        ks.min_by(|&i, &j| a.energies[i].total_cmp(&a.energies[j]))
    };
    assert_eq!(Some(a.inferred), lowest(&mut (0..3)));
    assert_eq!(a.offending, lowest(&mut (0..3).filter(|&k| k != truth)));
}

/// A Y = X² data set and an implicit-regression model of it, in a scratch directory.
fn square(dir: &Path, loss: &str, epochs: usize) -> Model {
    let mut csv = String::from("x,y\n");
    for i in 0..60 {
        let x = -1.5 + 3.0 * i as f64 / 59.0;
        csv.push_str(&format!("{x},{}\n", x * x));
    }
    std::fs::write(dir.join("square.csv"), csv).unwrap();
    let src = format!(
        "model square {{
           input x : real   output y : real
           param A : real[8, 1]  param a : real[8]  param B : real[8, 1]  param c : real[8]
           fn gx(v : real) = tanh(A @ [v] + a)
           fn gy(v : real) = tanh(B @ [v] + c)
           energy 0.5 * sqnorm(gx(x) - gy(y))
           loss {loss}
           infer y by descent(steps = 30, rate = 0.2)
           train by adam(rate = 0.02, epochs = {epochs}, batch = 16, seed = 3)
           data \"square.csv\" {{ x = x, y = y }} split 0.75 standardize x, y
         }}"
    );
    let path = dir.join("square.ebm");
    std::fs::write(&path, src).unwrap();
    load(&path)
}

#[test]
fn a_surface_shows_the_whole_plane_with_the_data_in_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let model = square(
        dir.path(),
        "hinge(margin = 0.5) negatives descent(steps = 10, rate = 0.1, radius = 0.3)",
        3,
    );
    let opts = PlotOptions {
        grid: Some(30),
        ..Default::default()
    };
    let (fig, notes) = draw(Kind::Surface, &model, dir.path(), &opts);
    assert!(notes[0].contains("training `square` first (3 epochs)"));
    let (texts, counts) = parse(&fig.svg, &["image", "circle"]);
    assert_eq!(counts[0], 1);
    assert!(has_text(&texts, "energy surface of square"));
    assert!(has_text(&texts, "training data (45)") && has_text(&texts, "test data (15)"));
    assert!(counts[1] >= 60, "a marker per data row");
    let FigureData::Surface(sf) = &fig.data else {
        panic!("a surface")
    };
    assert_eq!(sf.points.len(), 60);
    assert_eq!(sf.test_from, 45);
    for &(x, y) in &sf.points {
        assert!(
            (y - x * x).abs() < 1e-9,
            "({x}, {y}) is in the data's units"
        );
    }
    // The axes span the data (in its units) with a margin.
    let (x0, x1) = sf.grid.axes[0].shown_range();
    assert!(x0 < -1.5 && x1 > 1.5 && x1 < 2.0, "{x0}..{x1}");
    let mut s = session(&model, &fig);
    for idx in [[0, 0], [29, 0], [11, 23], [29, 29]] {
        let e = s.energy(&mut sf.grid.point(&idx)).unwrap();
        assert!(close(e, sf.grid.energy(&idx)), "{idx:?}");
    }
}

#[test]
fn the_energy_loss_collapses_the_surface_and_a_contrastive_loss_does_not() {
    // The picture the surface exists for, as numbers: the spread of E over the plane.
    let spread = |loss: &str| {
        let dir = tempfile::tempdir().unwrap();
        let model = square(dir.path(), loss, 60);
        let opts = PlotOptions {
            grid: Some(25),
            ..Default::default()
        };
        let (fig, _) = draw(Kind::Surface, &model, dir.path(), &opts);
        let FigureData::Surface(sf) = fig.data else {
            panic!("a surface")
        };
        let max = sf.grid.energies.iter().copied().fold(f64::MIN, f64::max);
        let min = sf.grid.energies.iter().copied().fold(f64::MAX, f64::min);
        max - min
    };
    let collapsed = spread("energy");
    let contrastive =
        spread("hinge(margin = 0.5) negatives descent(steps = 10, rate = 0.1, radius = 0.3)");
    assert!(
        collapsed < 0.1 && contrastive > 0.5,
        "energy loss: {collapsed}, hinge: {contrastive}"
    );
}

#[test]
fn history_records_every_epoch_without_changing_training_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let model = load(&examples().join("iris.ebm"));
    let (w1, w2, h) = (
        dir.path().join("w1.json"),
        dir.path().join("w2.json"),
        dir.path().join("h.json"),
    );
    let plain = RunOptions {
        save: Some(w1.clone()),
        ..Default::default()
    };
    let outcome = run::run(&model, &examples(), &plain, &mut |_| {}).unwrap();
    assert!(outcome.epochs.is_empty(), "not measured unless asked");
    let recorded = RunOptions {
        save: Some(w2.clone()),
        history: Some(h.clone()),
        ..Default::default()
    };
    run::run(&model, &examples(), &recorded, &mut |_| {}).unwrap();
    assert_eq!(
        std::fs::read(&w1).unwrap(),
        std::fs::read(&w2).unwrap(),
        "measuring the test set does not change training"
    );
    let history = History::read(&h).unwrap();
    assert_eq!(history.model, "iris");
    assert_eq!(history.epochs.len(), 200);
    assert!(history
        .epochs
        .iter()
        .enumerate()
        .all(|(i, e)| e.epoch == i + 1));
    let last = history.epochs.last().unwrap().test.as_ref().unwrap();
    assert!(last.loss.is_some() && !last.outputs.is_empty());

    let opts = PlotOptions {
        history: Some(h),
        ..Default::default()
    };
    let (fig, notes) = draw(Kind::Training, &model, &examples(), &opts);
    assert!(notes.is_empty(), "read, not trained: {notes:?}");
    let (texts, _) = parse(&fig.svg, &[]);
    assert!(has_text(&texts, "training of iris"));
    assert!(has_text(&texts, "training loss") && has_text(&texts, "test loss"));
    assert!(has_text(&texts, "test accuracy"));
    assert_eq!(longest_polyline(&fig.svg), 200, "one vertex per epoch");
}

#[test]
fn training_plots_train_when_there_is_no_history_and_show_r2_for_real_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let model = square(
        dir.path(),
        "hinge(margin = 0.5) negatives descent(steps = 5, rate = 0.1, radius = 0.3)",
        4,
    );
    let (fig, notes) = draw(Kind::Training, &model, dir.path(), &PlotOptions::default());
    assert!(notes[0].contains("to record its history"));
    let (texts, _) = parse(&fig.svg, &[]);
    assert!(has_text(&texts, "test R²"));
    let FigureData::Training(h) = &fig.data else {
        panic!("a history")
    };
    assert_eq!(h.epochs.len(), 4);
}

#[test]
fn mistakes_are_one_line_errors() {
    let iris = load(&examples().join("iris.ebm"));
    let implicit = load(&fixtures().join("implicit.ebm"));
    let latent = load(&fixtures().join("latent.ebm"));
    let err = |kind, model: &Model, opts: PlotOptions| {
        plot::plot(kind, model, &examples(), &opts, &mut |_| {})
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let at = |s: &str| PlotOptions {
        at: vec![s.into()],
        ..Default::default()
    };
    assert!(err(Kind::Surface, &iris, PlotOptions::default()).contains("one real input"));
    assert!(err(Kind::Landscape, &implicit, PlotOptions::default()).contains("--at x="));
    assert!(err(Kind::Landscape, &implicit, at("q=1")).contains("no variable `q`"));
    assert!(err(Kind::Landscape, &implicit, at("x=[1, 2]")).contains("found 2"));
    assert!(err(Kind::Landscape, &implicit, at("A=1")).contains("param"));
    assert!(err(Kind::Landscape, &iris, at("y=3")).contains("not a value"));
    let axes = PlotOptions {
        at: vec!["x=[0, 0, 0, 0, 0, 0, 0, 0]".into()],
        axes: Some("w".into()),
        ..Default::default()
    };
    assert!(err(Kind::Landscape, &latent, axes).contains("y[0], y[1]"));
    let range = PlotOptions {
        at: vec!["x=1".into()],
        ranges: vec!["z=0:1".into()],
        ..Default::default()
    };
    assert!(err(Kind::Landscape, &implicit, range).contains("axes are y"));
    assert!(err(Kind::Training, &implicit, PlotOptions::default()).contains("--history"));
    let grid = PlotOptions {
        grid: Some(1),
        ..Default::default()
    };
    assert!(err(Kind::Surface, &implicit, grid).contains("--grid 1"));
}

#[test]
fn the_command_writes_the_file_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.svg");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(["plot", "landscape"])
        .arg(fixtures().join("implicit.ebm"))
        .args([
            "--at", "x=1.5", "--range", "y=-2:2", "--grid", "50", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("wrote"), "{stderr}");
    let svg = std::fs::read_to_string(&out).unwrap();
    assert_eq!(longest_polyline(&svg), 50);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_ebmc"))
        .args(["plot", "surface"])
        .arg(examples().join("iris.ebm"))
        .arg("--out")
        .arg(dir.path().join("no.svg"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(!dir.path().join("no.svg").exists());
}

/// A model without inputs: its density over `y[0], y[1]` with the data rows (training filled,
/// test hollow) and the samples of a file on it, each energy the session's own.
#[test]
fn a_density_shows_the_data_and_the_samples_over_two_output_coordinates() {
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..20)
        .map(|i| format!("{},{}\n", (i as f64 * 0.7).sin(), (i as f64 * 0.3).cos()))
        .collect();
    std::fs::write(dir.path().join("d.csv"), format!("a,b\n{rows}")).unwrap();
    let src = "model gauss {\n  output y : real[2]\n  param m : real[2] = 0.5\n  energy 0.5 * sqnorm(y - m)\n  loss energy\n  train by sgd(rate = 0.1, epochs = 2)\n  data \"d.csv\" { y = a..b } split 0.75\n}\n";
    std::fs::write(dir.path().join("g.ebm"), src).unwrap();
    let model = load(&dir.path().join("g.ebm"));
    let samples = dir.path().join("s.csv");
    std::fs::write(&samples, "y[0],y[1]\n0.5,0.5\n3,-2.5\n-1,1\n").unwrap();
    let opts = PlotOptions {
        grid: Some(25),
        samples: Some(samples.clone()),
        ..Default::default()
    };
    let (fig, _) = draw(Kind::Density, &model, dir.path(), &opts);
    let (texts, counts) = parse(&fig.svg, &["image", "circle"]);
    assert_eq!(counts[0], 1, "one heat map");
    assert!(has_text(&texts, "density of gauss"));
    assert!(has_text(&texts, "training data (15)") && has_text(&texts, "test data (5)"));
    assert!(has_text(&texts, "samples (3)"));
    assert!(counts[1] >= 23, "a marker per row and per sample");
    let FigureData::Density(d) = &fig.data else {
        panic!("a density")
    };
    assert_eq!((d.points.len(), d.test_from), (20, 15));
    assert_eq!(d.samples[1], (3.0, -2.5));
    // The axes reach the farthest sample.
    let (x0, x1) = d.grid.axes[0].shown_range();
    let (y0, _) = d.grid.axes[1].shown_range();
    assert!(x1 > 3.0 && x0 < -1.0 && y0 < -2.5, "{x0}..{x1}, {y0}");
    let mut s = session(&model, &fig);
    for idx in [[0, 0], [24, 3], [12, 12]] {
        let e = s.energy(&mut d.grid.point(&idx)).unwrap();
        assert!(close(e, d.grid.energy(&idx)), "{idx:?}");
    }
    // Mistakes: a samples file without the coordinates, a cell that is no number, a model
    // with fewer than two real output coordinates (said before training it).
    std::fs::write(&samples, "z,w\n1,2\n").unwrap();
    let err = |model: &Model, opts: &PlotOptions| {
        plot::plot(Kind::Density, model, dir.path(), opts, &mut |_| {})
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert!(
        err(&model, &opts).contains("no column `y[0]`"),
        "{}",
        err(&model, &opts)
    );
    std::fs::write(&samples, "y[0],y[1]\n1,2\n1,oops\n").unwrap();
    assert!(err(&model, &opts)
        .contains("line 3, column 2 (`y[1]`): expected a finite number, found `oops`"));
    let iris = load(&examples().join("iris.ebm"));
    let mut notes = Vec::new();
    let e = plot::plot(
        Kind::Density,
        &iris,
        &examples(),
        &PlotOptions::default(),
        &mut |n| notes.push(n.to_string()),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("two real output coordinates; `iris` has 0"),
        "{e}"
    );
    assert!(notes.is_empty(), "refused before training: {notes:?}");
}
