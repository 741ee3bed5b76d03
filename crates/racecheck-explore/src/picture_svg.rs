//! A finding's picture ([`FindingGraph`]) as SVG, laid out by `layout-rs`
//! (Graphviz's layered layout in pure Rust), and its legend.

use crate::markup::{escape, px};
use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use racecheck_detect::{EdgeKind, FindingGraph, NodeKind};
use std::fmt::Write;

/// One font size for every label, `layout-rs`'s own (which it gives the
/// connectors it adds): it keeps its font styles in a `HashMap` and writes
/// them in that map's order, so one size (and `sorted_styles`) keeps the
/// output the same from run to run.
const FONT_SIZE: usize = 15;

/// The graph as an SVG element (no XML declaration, so that it can sit
/// inside an HTML page).
pub(crate) fn graph_svg(graph: &FindingGraph) -> String {
    let orientation = Orientation::TopToBottom;
    let mut visual = VisualGraph::new(orientation);
    let handles: Vec<_> = graph
        .nodes
        .iter()
        .map(|node| {
            let shape = match node.kind {
                NodeKind::Task => ShapeKind::new_circle(&node.label),
                _ => ShapeKind::new_box(&node.label),
            };
            let width = if node.kind == NodeKind::Finding { 3 } else { 1 };
            let rounded = if node.kind == NodeKind::Object { 12 } else { 0 };
            let fill = match node.kind {
                NodeKind::Finding => "mistyrose",
                NodeKind::CameFirst => "lightyellow",
                NodeKind::Object => "aliceblue",
                _ => "white",
            };
            let look = StyleAttr::new(
                Color::fast(node.kind.color()),
                width,
                Some(Color::fast(fill)),
                rounded,
                FONT_SIZE,
            );
            let size = get_shape_size(orientation, &shape, FONT_SIZE, false);
            visual.add_node(Element::create(shape, look, orientation, size))
        })
        .collect();
    for edge in &graph.edges {
        let look = StyleAttr::new(Color::fast(edge.kind.color()), 2, None, 0, FONT_SIZE);
        let end = if edge.kind == EdgeKind::Unordered {
            LineEndKind::None
        } else {
            LineEndKind::Arrow
        };
        let style = if edge.kind.dashed() {
            LineStyleKind::Dashed
        } else {
            LineStyleKind::Normal
        };
        let arrow = Arrow::new(
            LineEndKind::None,
            end,
            style,
            &edge.label,
            &look,
            &None,
            &None,
        );
        visual.add_edge(arrow, handles[edge.from], handles[edge.to]);
    }
    let mut writer = SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    let svg = writer.finalize();
    // layout-rs sizes the picture from each text's length in both
    // directions, which leaves a tall empty band below it and can clip a
    // label on the right: size it from the laid-out nodes instead.
    let (mut low, mut high) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    for node in visual.iter_nodes() {
        let (top_left, bottom_right) = visual.pos(node).bbox(false);
        low = (low.0.min(top_left.x), low.1.min(top_left.y));
        high = (high.0.max(bottom_right.x), high.1.max(bottom_right.y));
    }
    let margin = 10.0;
    let (x, y) = (low.0.min(0.0) - margin, low.1.min(0.0) - margin);
    let (width, height) = (high.0 - x + margin, high.1 - y + margin);
    let body = svg
        .find("<svg")
        .and_then(|start| Some(&svg[svg[start..].find('>')? + start + 1..]))
        .unwrap_or_default();
    format!(
        "<svg class=\"finding-graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" \
         height=\"{}\" viewBox=\"{} {} {} {}\">{}",
        px(width),
        px(height),
        px(x),
        px(y),
        px(width),
        px(height),
        sorted_styles(body)
    )
}

/// `svg` with the lines of its `<style>` element in order.
fn sorted_styles(svg: &str) -> String {
    let (Some(start), Some(end)) = (svg.find("<style>\n"), svg.find("</style>")) else {
        return svg.to_string();
    };
    let start = start + "<style>\n".len();
    if end < start {
        return svg.to_string();
    }
    let mut lines: Vec<&str> = svg[start..end].lines().collect();
    lines.sort_unstable();
    format!("{}{}\n{}", &svg[..start], lines.join("\n"), &svg[end..])
}

/// The legend of a picture: a sample of each node and edge style it uses,
/// with what it means.
pub(crate) fn legend_svg(graph: &FindingGraph) -> String {
    let (nodes, edges) = graph.legend();
    let row_height = 20.0;
    let height = row_height * (nodes.len() + edges.len()) as f64 + 8.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg class=\"legend\" xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"12\">",
        px(height)
    );
    let mut y = 4.0;
    for kind in nodes {
        let (rx, label) = match kind {
            NodeKind::Task => (8.0, "ellipse"),
            NodeKind::Object => (5.0, "rounded box"),
            _ => (0.0, "box"),
        };
        let width = if kind == NodeKind::Finding { 3 } else { 1 };
        let _ = writeln!(
            svg,
            "<rect x=\"4\" y=\"{}\" width=\"36\" height=\"14\" rx=\"{rx}\" fill=\"white\" \
             stroke=\"{}\" stroke-width=\"{width}\"/><text x=\"50\" y=\"{}\">{}: {}</text>",
            px(y),
            kind.color(),
            px(y + 11.0),
            label,
            escape(kind.meaning())
        );
        y += row_height;
    }
    for kind in edges {
        let dash = if kind.dashed() {
            " stroke-dasharray=\"5,4\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<line x1=\"4\" y1=\"{}\" x2=\"40\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\
             <text x=\"50\" y=\"{}\">arrow: {}</text>",
            px(y + 7.0),
            px(y + 7.0),
            kind.color(),
            px(y + 11.0),
            escape(kind.meaning())
        );
        y += row_height;
    }
    svg.push_str("</svg>\n");
    svg
}
