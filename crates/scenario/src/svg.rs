//! The scenario graph as a standalone SVG 1.1 drawing, laid out here with no external
//! program.
//!
//! The layout is layered (Sugiyama-style), left to right:
//!
//! 1. cycles are broken by reversing the back edges a depth-first search finds, starting
//!    from the initial state and then from the other states in order;
//! 2. every state gets a layer, the longest path to it from a state nothing enters;
//!    layers are columns, with a column between each two for the edges' bends and labels,
//!    so an edge crossing several layers becomes a chain of dummy points, one per column,
//!    and its label is one of them (as wide as the label);
//! 3. the order within each column comes from a few barycenter sweeps (ties broken by
//!    index), keeping the order with the fewest crossings;
//! 4. vertical positions are found by repeatedly moving everything towards the mean of
//!    its neighbours while keeping the order and the spacing (isotonic regression);
//! 5. edges are straight within a column and cubic Bézier curves between columns, from
//!    ports spread along the boxes' sides; back edges run right to left, self-loops are
//!    arcs above their state.
//!
//! The drawing is deterministic: the same graph gives the same bytes.

use std::collections::VecDeque;
use std::fmt::Write;

use crate::graph::Graph;

const FONT_SIZE: f64 = 12.0;
/// Estimated advance of one character of the monospace font at [`FONT_SIZE`].
const CHAR_W: f64 = 7.2;
const TITLE_FONT_SIZE: f64 = 14.0;
const TITLE_CHAR_W: f64 = 8.4;
const TITLE_H: f64 = 30.0;
const NODE_H: f64 = 34.0;
const NODE_PAD_X: f64 = 14.0;
const MIN_NODE_W: f64 = 60.0;
/// The inset of a final state's inner border.
const FINAL_INSET: f64 = 3.5;
const LABEL_H: f64 = 17.0;
const LABEL_PAD_X: f64 = 4.0;
const MAX_LABEL_CHARS: usize = 80;
const MARGIN: f64 = 16.0;
/// Room left of the initial state for its dot and arrow.
const INITIAL_SPACE: f64 = 28.0;
/// The thickness of a dummy point that carries no label.
const DUMMY_H: f64 = 2.0;
const GAP_NODE: f64 = 22.0;
const GAP_DUMMY: f64 = 9.0;
const MIN_COL_GAP: f64 = 36.0;
const MAX_COL_GAP: f64 = 90.0;
const LOOP_H0: f64 = 30.0;
/// How much higher each further self-loop of a state rises: its label and some air.
const LOOP_H_STEP: f64 = LABEL_H + 14.0;
/// The vertical room each port on a box's side needs.
const PORT_STEP: f64 = 8.0;
const ORDER_ROUNDS: usize = 8;
const POSITION_ROUNDS: usize = 24;

/// An axis-aligned rectangle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl Rect {
    /// Whether the two rectangles share some area (touching edges do not count).
    pub fn intersects(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }

    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }

    fn right(&self) -> f64 {
        self.x + self.w
    }

    fn bottom(&self) -> f64 {
        self.y + self.h
    }
}

/// A point.
pub type Point = (f64, f64);

/// One piece of an edge's path, from where the previous one ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Segment {
    /// A straight line to the point.
    Line(Point),
    /// A cubic Bézier curve: two control points, then the end.
    Cubic(Point, Point, Point),
}

impl Segment {
    fn end(&self) -> Point {
        match *self {
            Segment::Line(p) | Segment::Cubic(_, _, p) => p,
        }
    }
}

/// Where a state is drawn.
#[derive(Clone, Debug)]
pub struct NodeLayout {
    /// The box (the outer border for a final state).
    pub rect: Rect,
    /// The text shown: the label, cleaned and shortened.
    pub text: String,
    /// Whether the label was shortened.
    pub truncated: bool,
    /// Whether it is a final state.
    pub is_final: bool,
    /// How a final state ends the process (`success`, `failed`, `cancelled`).
    pub outcome: Option<&'static str>,
    /// Whether it is the initial state.
    pub is_initial: bool,
}

/// Where an edge is drawn.
#[derive(Clone, Debug)]
pub struct EdgeLayout {
    /// The index of the edge in the graph.
    pub index: usize,
    /// Where the path starts.
    pub start: Point,
    /// The path; it ends on the target's border, where the arrowhead goes.
    pub segments: Vec<Segment>,
    /// The label's background, when the label is not empty.
    pub label: Option<Rect>,
    /// The text shown: the label, cleaned and shortened.
    pub text: String,
    /// Whether the label was shortened.
    pub truncated: bool,
    /// Whether a system carries the action out (drawn dashed).
    pub system: bool,
    /// Whether the edge runs against the layout's direction (right to left).
    pub back: bool,
    /// Whether the edge leaves and enters the same state.
    pub self_loop: bool,
}

/// The whole drawing's geometry. Edges whose ends are not states of the graph are left
/// out.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The drawing's width.
    pub width: f64,
    /// The drawing's height.
    pub height: f64,
    /// The title shown at the top, cleaned and shortened.
    pub title: String,
    /// One per state, in the graph's order.
    pub nodes: Vec<NodeLayout>,
    /// One per drawable edge, in the graph's order.
    pub edges: Vec<EdgeLayout>,
}

/// The text to show: control characters become spaces, and text over
/// [`MAX_LABEL_CHARS`] characters is cut with an ellipsis. Also says whether it was cut.
fn display_text(s: &str) -> (String, bool) {
    let cleaned = s.chars().map(|c| if c.is_control() { ' ' } else { c });
    if s.chars().count() > MAX_LABEL_CHARS {
        let mut out: String = cleaned.take(MAX_LABEL_CHARS - 1).collect();
        out.push('…');
        (out, true)
    } else {
        (cleaned.collect(), false)
    }
}

/// Whether a character takes two cells in a monospace font (East Asian wide, emoji).
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1FAFF
        | 0x20000..=0x3FFFD)
}

/// The estimated width of the text, in character cells times `char_w`.
fn text_width(s: &str, char_w: f64) -> f64 {
    let cells: usize = s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum();
    cells as f64 * char_w
}

/// Text made safe for XML content and attribute values. Characters XML 1.0 does not
/// allow at all become U+FFFD.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A number for an attribute: one decimal at most, no `-0`.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    let r = if r == 0.0 || !r.is_finite() { 0.0 } else { r };
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn pt(p: Point) -> String {
    format!("{},{}", num(p.0), num(p.1))
}

/// The non-decreasing sequence nearest to `targets` (weighted least squares), by pooling
/// adjacent violators.
fn isotonic(targets: &[f64], weights: &[f64]) -> Vec<f64> {
    // (weighted sum, total weight, count)
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(targets.len());
    for (t, w) in targets.iter().zip(weights) {
        blocks.push((t * w, *w, 1));
        while blocks.len() >= 2 {
            let (s2, w2, n2) = blocks[blocks.len() - 1];
            let (s1, w1, n1) = blocks[blocks.len() - 2];
            if s1 / w1 > s2 / w2 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1 + s2, w1 + w2, n1 + n2);
            } else {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(targets.len());
    for (s, w, n) in blocks {
        out.extend(std::iter::repeat_n(s / w, n));
    }
    out
}

/// What an item of the layered graph stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// A state.
    Node,
    /// A point an edge passes through; `label` when its label sits there.
    Dummy { label: bool },
}

/// Something placed in a column: a state (with room for its self-loops and initial
/// marker) or an edge's dummy point.
#[derive(Clone, Debug)]
struct Item {
    kind: Kind,
    col: usize,
    /// The slot's width and height.
    w: f64,
    /// How far the slot reaches above its anchor (the box's middle, or the dummy's).
    up: f64,
    /// How far the slot reaches below its anchor.
    down: f64,
    /// For a state: how far left of the slot's centre the box's centre is.
    box_shift: f64,
}

/// One step of an edge's chain between two neighbouring columns.
#[derive(Clone, Copy, Debug)]
struct Link {
    left: usize,
    right: usize,
    edge: usize,
}

/// Finds the edges to reverse: those a depth-first search meets going back up its path.
/// `out[v]` lists `(edge, target)` in edge order; self-loops are not in it.
fn back_edges(n: usize, out: &[Vec<(usize, usize)>], roots: &[usize], n_edges: usize) -> Vec<bool> {
    let mut reversed = vec![false; n_edges];
    let mut state = vec![0u8; n]; // 0 unseen, 1 on the path, 2 done
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for &root in roots {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        stack.push((root, 0));
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&(e, w)) = out[v].get(*next) {
                *next += 1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => reversed[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    reversed
}

/// The number of crossing links between each two neighbouring columns, summed.
fn crossings(links_by_col: &[Vec<usize>], links: &[Link], pos: &[usize]) -> usize {
    let mut total = 0;
    for col_links in links_by_col {
        let ends: Vec<(usize, usize)> = col_links
            .iter()
            .map(|&l| (pos[links[l].left], pos[links[l].right]))
            .collect();
        for i in 0..ends.len() {
            for j in i + 1..ends.len() {
                let (a, b) = (ends[i], ends[j]);
                if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                    total += 1;
                }
            }
        }
    }
    total
}

/// Reorders one column by the mean position of each item's neighbours in the column
/// next to it; items with none keep their place. Ties go to the lower item index.
fn barycenter_sort(layer: &mut [usize], neighbours: &[Vec<usize>], pos: &mut [usize]) {
    let mut keyed: Vec<(f64, usize)> = layer
        .iter()
        .map(|&it| {
            let ns = &neighbours[it];
            let bary = if ns.is_empty() {
                pos[it] as f64
            } else {
                ns.iter().map(|&o| pos[o] as f64).sum::<f64>() / ns.len() as f64
            };
            (bary, it)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (i, (_, it)) in keyed.into_iter().enumerate() {
        layer[i] = it;
        pos[it] = i;
    }
}

/// Places a column's items as near as possible to `desired` (their anchors), keeping
/// their order and spacing.
fn place_column(layer: &[usize], items: &[Item], desired: &[f64], y: &mut [f64]) {
    if layer.is_empty() {
        return;
    }
    let mut offsets = Vec::with_capacity(layer.len());
    let mut offset = 0.0;
    for (i, &it) in layer.iter().enumerate() {
        if i > 0 {
            let prev = &items[layer[i - 1]];
            let gap = if prev.kind == Kind::Node || items[it].kind == Kind::Node {
                GAP_NODE
            } else {
                GAP_DUMMY
            };
            offset += prev.down + gap + items[it].up;
        }
        offsets.push(offset);
    }
    let targets: Vec<f64> = desired.iter().zip(&offsets).map(|(d, o)| d - o).collect();
    let weights: Vec<f64> = layer
        .iter()
        .map(|&it| {
            if items[it].kind == Kind::Node {
                2.0
            } else {
                1.0
            }
        })
        .collect();
    let z = isotonic(&targets, &weights);
    for (i, &it) in layer.iter().enumerate() {
        y[it] = z[i] + offsets[i];
    }
}

/// A curve between two columns, leaving and arriving horizontally.
fn s_curve(from: Point, to: Point) -> Segment {
    if (from.1 - to.1).abs() < 0.05 {
        return Segment::Line(to);
    }
    let mid = (from.0 + to.0) / 2.0;
    Segment::Cubic((mid, from.1), (mid, to.1), to)
}

/// Appends a piece unless it has no length (an arrowhead needs a direction).
fn push_segment(segments: &mut Vec<Segment>, current: &mut Point, seg: Segment) {
    let end = seg.end();
    if (end.0 - current.0).abs() < 0.01 && (end.1 - current.1).abs() < 0.01 {
        return;
    }
    segments.push(seg);
    *current = end;
}

/// The same path, walked the other way.
fn reverse_path(start: Point, segments: &[Segment]) -> (Point, Vec<Segment>) {
    let mut points = vec![start];
    points.extend(segments.iter().map(Segment::end));
    let mut out = Vec::with_capacity(segments.len());
    for (i, seg) in segments.iter().enumerate().rev() {
        out.push(match *seg {
            Segment::Line(_) => Segment::Line(points[i]),
            Segment::Cubic(c1, c2, _) => Segment::Cubic(c2, c1, points[i]),
        });
    }
    (*points.last().unwrap_or(&start), out)
}

/// The shape of a state's self-loops, innermost first: for each, the half-distance
/// between its ends on the box's top, its half-width, and its height. Each loop is wide
/// enough to pass outside the labels of the loops inside it, which sit just above their
/// tops; `label_widths` should grow, so the narrowest labels are innermost.
fn loop_shapes(label_widths: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut shapes: Vec<(f64, f64, f64)> = Vec::with_capacity(label_widths.len());
    let mut inner_label: f64 = 0.0;
    for (j, w) in label_widths.iter().enumerate() {
        let a = 10.0 + 10.0 * j as f64;
        let mut half = a + 10.0;
        if let Some(&(_, prev, _)) = shapes.last() {
            half = half.max(prev + 10.0).max(inner_label / 2.0 + 12.0);
        }
        shapes.push((a, half, LOOP_H0 + LOOP_H_STEP * j as f64));
        inner_label = inner_label.max(*w);
    }
    shapes
}

/// A self-loop above a box whose top middle is `(cx, top)`: up and out from the left
/// end, over, and down into the box at the right end.
fn loop_path(cx: f64, top: f64, (a, half, h): (f64, f64, f64)) -> (Point, Vec<Segment>) {
    let side = top - 0.55 * h;
    let low = top - 0.3 * h;
    let high = top - 1.15 * h;
    let segments = vec![
        Segment::Cubic((cx - a, low), (cx - half, low), (cx - half, side)),
        Segment::Cubic((cx - half, high), (cx + half, high), (cx + half, side)),
        Segment::Cubic((cx + half, low), (cx + a, low), (cx + a, top)),
    ];
    ((cx - a, top), segments)
}

/// Lays the graph out.
pub fn layout(g: &Graph) -> Layout {
    let n = g.nodes.len();
    let (title, _) = display_text(&g.title);
    let title_h = if title.trim().is_empty() {
        0.0
    } else {
        TITLE_H
    };

    // Drawable edges, self-loops apart.
    let valid: Vec<usize> = (0..g.edges.len())
        .filter(|&i| g.edges[i].from < n && g.edges[i].to < n)
        .collect();
    let edge_texts: Vec<(String, bool)> = g.edges.iter().map(|e| display_text(&e.label)).collect();
    let label_w = |i: usize| -> f64 {
        let t = &edge_texts[i].0;
        if t.is_empty() {
            0.0
        } else {
            text_width(t, CHAR_W) + 2.0 * LABEL_PAD_X
        }
    };
    let mut loops: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new(); n];
    for &i in &valid {
        let e = &g.edges[i];
        if e.from == e.to {
            loops[e.from].push(i);
        } else {
            out[e.from].push((i, e.to));
        }
    }
    for vl in &mut loops {
        vl.sort_by(|&a, &b| label_w(a).total_cmp(&label_w(b)).then(a.cmp(&b)));
    }

    // 1. Break cycles.
    let mut roots: Vec<usize> = (0..n).filter(|&v| g.nodes[v].is_initial).collect();
    roots.extend((0..n).filter(|&v| !g.nodes[v].is_initial));
    let reversed = back_edges(n, &out, &roots, g.edges.len());
    // The acyclic edges, as (edge, left end, right end).
    let dag: Vec<(usize, usize, usize)> = valid
        .iter()
        .filter(|&&i| g.edges[i].from != g.edges[i].to)
        .map(|&i| {
            let e = &g.edges[i];
            if reversed[i] {
                (i, e.to, e.from)
            } else {
                (i, e.from, e.to)
            }
        })
        .collect();

    // 2. Layers: the longest path from a source.
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(_, u, v) in &dag {
        succ[u].push(v);
        indegree[v] += 1;
    }
    let mut rank = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(u) = queue.pop_front() {
        for &v in &succ[u] {
            rank[v] = rank[v].max(rank[u] + 1);
            indegree[v] -= 1;
            if indegree[v] == 0 {
                queue.push_back(v);
            }
        }
    }
    let n_cols = if n == 0 {
        0
    } else {
        2 * rank.iter().copied().max().unwrap_or(0) + 1
    };

    // Node and edge texts.
    let node_texts: Vec<(String, bool)> =
        g.nodes.iter().map(|nd| display_text(&nd.label)).collect();

    // Items: the states first (item i is state i), then dummies edge by edge.
    let mut items: Vec<Item> = Vec::with_capacity(n + 2 * dag.len());
    let mut box_sizes: Vec<(f64, f64)> = Vec::with_capacity(n);
    let mut loop_geometry: Vec<Vec<(f64, f64, f64)>> = Vec::with_capacity(n);
    let mut ports = vec![(0usize, 0usize); n];
    for &(_, u, v) in &dag {
        ports[u].1 += 1;
        ports[v].0 += 1;
    }
    for v in 0..n {
        let shapes = loop_shapes(&loops[v].iter().map(|&i| label_w(i)).collect::<Vec<_>>());
        let loops_w = shapes
            .last()
            .map_or(0.0, |&(a, half, _)| 2.0 * half.max(a + 12.0));
        let bw = (text_width(&node_texts[v].0, CHAR_W) + 2.0 * NODE_PAD_X)
            .max(MIN_NODE_W)
            .max(shapes.last().map_or(0.0, |&(a, _, _)| 2.0 * a + 16.0));
        let bh = NODE_H.max(PORT_STEP * (ports[v].0.max(ports[v].1) + 1) as f64);
        box_sizes.push((bw, bh));
        let loop_w = loops[v].iter().map(|&i| label_w(i)).fold(loops_w, f64::max);
        let reserve = shapes
            .last()
            .map_or(0.0, |&(_, _, h)| h + 1.0 + LABEL_H + 3.0);
        loop_geometry.push(shapes);
        let marker = if g.nodes[v].is_initial {
            INITIAL_SPACE
        } else {
            0.0
        };
        let left = (bw / 2.0 + marker).max(loop_w / 2.0);
        let right = (bw / 2.0).max(loop_w / 2.0);
        items.push(Item {
            kind: Kind::Node,
            col: 2 * rank[v],
            w: left + right,
            up: bh / 2.0 + reserve,
            down: bh / 2.0,
            box_shift: (left + right) / 2.0 - left,
        });
    }
    let mut links: Vec<Link> = Vec::new();
    // Per edge: its chain of items from left to right, and its label item.
    let mut chains: Vec<(usize, Vec<usize>, Option<usize>)> = Vec::with_capacity(dag.len());
    for &(i, u, v) in &dag {
        let (lo, hi) = (2 * rank[u], 2 * rank[v]);
        let mut mid = (lo + hi) / 2;
        if mid % 2 == 0 {
            mid -= 1;
        }
        let has_label = !edge_texts[i].0.is_empty();
        let mut chain = vec![u];
        let mut label_item = None;
        for col in lo + 1..hi {
            let is_label = has_label && col == mid;
            let h = if is_label { LABEL_H } else { DUMMY_H };
            if is_label {
                label_item = Some(items.len());
            }
            chain.push(items.len());
            items.push(Item {
                kind: Kind::Dummy { label: is_label },
                col,
                w: if is_label { label_w(i) } else { 0.0 },
                up: h / 2.0,
                down: h / 2.0,
                box_shift: 0.0,
            });
        }
        chain.push(v);
        for pair in chain.windows(2) {
            links.push(Link {
                left: pair[0],
                right: pair[1],
                edge: i,
            });
        }
        chains.push((i, chain, label_item));
    }

    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    let mut links_by_col: Vec<Vec<usize>> = vec![Vec::new(); n_cols.saturating_sub(1)];
    for (li, l) in links.iter().enumerate() {
        preds[l.right].push(l.left);
        succs[l.left].push(l.right);
        links_by_col[items[l.left].col].push(li);
    }

    // 3. Order within columns.
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); n_cols];
    for (it, item) in items.iter().enumerate() {
        layers[item.col].push(it);
    }
    let mut pos = vec![0usize; items.len()];
    for layer in &layers {
        for (p, &it) in layer.iter().enumerate() {
            pos[it] = p;
        }
    }
    let mut best = layers.clone();
    let mut best_crossings = crossings(&links_by_col, &links, &pos);
    for _ in 0..ORDER_ROUNDS {
        if best_crossings == 0 {
            break;
        }
        for layer in layers.iter_mut().skip(1) {
            barycenter_sort(layer, &preds, &mut pos);
        }
        for layer in layers.iter_mut().rev().skip(1) {
            barycenter_sort(layer, &succs, &mut pos);
        }
        let now = crossings(&links_by_col, &links, &pos);
        if now < best_crossings {
            best_crossings = now;
            best = layers.clone();
        }
    }
    let layers = best;

    // 4. Vertical positions (anchors).
    let mut y = vec![0.0f64; items.len()];
    for layer in &layers {
        let mut cur = 0.0;
        for (i, &it) in layer.iter().enumerate() {
            if i > 0 {
                cur += GAP_NODE;
            }
            y[it] = cur + items[it].up;
            cur = y[it] + items[it].down;
        }
        for &it in layer {
            y[it] -= cur / 2.0;
        }
    }
    for round in 0..POSITION_ROUNDS {
        for k in 0..n_cols {
            let c = if round % 2 == 0 { k } else { n_cols - 1 - k };
            let layer = &layers[c];
            let desired: Vec<f64> = layer
                .iter()
                .map(|&it| {
                    let ns = preds[it].iter().chain(&succs[it]);
                    let count = preds[it].len() + succs[it].len();
                    if count == 0 {
                        y[it]
                    } else {
                        ns.map(|&o| y[o]).sum::<f64>() / count as f64
                    }
                })
                .collect();
            place_column(layer, &items, &desired, &mut y);
        }
    }

    // Column widths and the gaps between them, wider where links climb further.
    let mut col_w = vec![0.0f64; n_cols];
    for item in &items {
        col_w[item.col] = col_w[item.col].max(item.w);
    }
    let mut col_x = vec![0.0f64; n_cols];
    let mut x = 0.0;
    for c in 0..n_cols {
        col_x[c] = x;
        x += col_w[c];
        if let Some(col_links) = links_by_col.get(c) {
            let climb = col_links
                .iter()
                .map(|&l| (y[links[l].left] - y[links[l].right]).abs())
                .fold(0.0, f64::max);
            x += (climb * 0.3).clamp(MIN_COL_GAP, MAX_COL_GAP);
        }
    }

    // Move everything so the top-left of the content sits below the title, inside the margin.
    let mut top = f64::INFINITY;
    for (it, item) in items.iter().enumerate() {
        top = top.min(y[it] - item.up);
    }
    if !top.is_finite() {
        top = 0.0;
    }
    let dy = MARGIN + title_h - top;
    for v in &mut y {
        *v += dy;
    }
    for v in &mut col_x {
        *v += MARGIN;
    }

    // Boxes.
    let mut nodes: Vec<NodeLayout> = Vec::with_capacity(n);
    for v in 0..n {
        let item = &items[v];
        let (bw, bh) = box_sizes[v];
        let cx = col_x[item.col] + col_w[item.col] / 2.0 - item.box_shift;
        nodes.push(NodeLayout {
            rect: Rect {
                x: cx - bw / 2.0,
                y: y[v] - bh / 2.0,
                w: bw,
                h: bh,
            },
            text: node_texts[v].0.clone(),
            truncated: node_texts[v].1,
            is_final: g.nodes[v].is_final,
            outcome: g.nodes[v].outcome,
            is_initial: g.nodes[v].is_initial,
        });
    }

    // 5. Ports: the links at each side of a box, spread along it in the order of the
    // other ends.
    let mut port_y: Vec<(f64, f64)> = links.iter().map(|l| (y[l.left], y[l.right])).collect();
    let mut at_right: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut at_left: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (l, link) in links.iter().enumerate() {
        if link.left < n {
            at_right[link.left].push(l);
        }
        if link.right < n {
            at_left[link.right].push(l);
        }
    }
    for ((nd, mut right), mut left) in nodes.iter().zip(at_right).zip(at_left) {
        let r = nd.rect;
        right.sort_by(|&a, &b| {
            y[links[a].right]
                .total_cmp(&y[links[b].right])
                .then(links[a].edge.cmp(&links[b].edge))
        });
        left.sort_by(|&a, &b| {
            y[links[a].left]
                .total_cmp(&y[links[b].left])
                .then(links[a].edge.cmp(&links[b].edge))
        });
        for (k, &l) in right.iter().enumerate() {
            port_y[l].0 = r.y + r.h * (k + 1) as f64 / (right.len() + 1) as f64;
        }
        for (k, &l) in left.iter().enumerate() {
            port_y[l].1 = r.y + r.h * (k + 1) as f64 / (left.len() + 1) as f64;
        }
    }
    let link_of: std::collections::HashMap<(usize, usize), usize> = links
        .iter()
        .enumerate()
        .map(|(li, l)| ((l.edge, l.left), li))
        .collect();

    let mut edge_layouts: Vec<Option<EdgeLayout>> = vec![None; g.edges.len()];
    for (i, chain, label_item) in &chains {
        let i = *i;
        let first = chain[0];
        let first_link = link_of[&(i, first)];
        let mut start = (nodes[first].rect.right(), port_y[first_link].0);
        let mut current = start;
        let mut segments = Vec::new();
        let col_right = |c: usize| col_x[c] + col_w[c];
        push_segment(
            &mut segments,
            &mut current,
            Segment::Line((col_right(items[first].col), start.1)),
        );
        for (k, &it) in chain.iter().enumerate().skip(1) {
            let col = items[it].col;
            if k + 1 < chain.len() {
                let p = (col_x[col], y[it]);
                let curve = s_curve(current, p);
                push_segment(&mut segments, &mut current, curve);
                push_segment(
                    &mut segments,
                    &mut current,
                    Segment::Line((col_right(col), y[it])),
                );
            } else {
                let link = link_of[&(i, chain[k - 1])];
                let r = nodes[it].rect;
                let py = port_y[link].1;
                let curve = s_curve(current, (col_x[col], py));
                push_segment(&mut segments, &mut current, curve);
                push_segment(&mut segments, &mut current, Segment::Line((r.x, py)));
            }
        }
        if reversed[i] {
            let (s, segs) = reverse_path(start, &segments);
            start = s;
            segments = segs;
        }
        let label = label_item.map(|it| {
            let w = items[it].w;
            let cx = col_x[items[it].col] + col_w[items[it].col] / 2.0;
            Rect {
                x: cx - w / 2.0,
                y: y[it] - LABEL_H / 2.0,
                w,
                h: LABEL_H,
            }
        });
        let e = &g.edges[i];
        edge_layouts[i] = Some(EdgeLayout {
            index: i,
            start,
            segments,
            label,
            text: edge_texts[i].0.clone(),
            truncated: edge_texts[i].1,
            system: e.system,
            back: reversed[i],
            self_loop: false,
        });
    }
    // Self-loops: nested loops above the box, each label just above its loop.
    for (v, vl) in loops.iter().enumerate() {
        let r = nodes[v].rect;
        for (j, &i) in vl.iter().enumerate() {
            let shape = loop_geometry[v][j];
            let (cx, topy) = (r.cx(), r.y);
            let (start, segments) = loop_path(cx, topy, shape);
            let w = label_w(i);
            let label = (w > 0.0).then(|| Rect {
                x: cx - w / 2.0,
                y: topy - shape.2 - 1.0 - LABEL_H,
                w,
                h: LABEL_H,
            });
            let e = &g.edges[i];
            edge_layouts[i] = Some(EdgeLayout {
                index: i,
                start,
                segments,
                label,
                text: edge_texts[i].0.clone(),
                truncated: edge_texts[i].1,
                system: e.system,
                back: false,
                self_loop: true,
            });
        }
    }
    let edges: Vec<EdgeLayout> = edge_layouts.into_iter().flatten().collect();

    // The drawing's size.
    let mut right = MARGIN + text_width(&title, TITLE_CHAR_W);
    let mut bottom = MARGIN + title_h;
    for nd in &nodes {
        right = right.max(nd.rect.right());
        bottom = bottom.max(nd.rect.bottom());
    }
    for e in &edges {
        if let Some(l) = e.label {
            right = right.max(l.right());
            bottom = bottom.max(l.bottom());
        }
        for s in &e.segments {
            let p = s.end();
            right = right.max(p.0);
            bottom = bottom.max(p.1);
        }
    }
    Layout {
        width: (right + MARGIN).max(2.0 * MARGIN).ceil(),
        height: (bottom + MARGIN).max(2.0 * MARGIN).ceil(),
        title,
        nodes,
        edges,
    }
}

fn path_data(start: Point, segments: &[Segment]) -> String {
    let mut d = format!("M{}", pt(start));
    for s in segments {
        match *s {
            Segment::Line(p) => {
                let _ = write!(d, " L{}", pt(p));
            }
            Segment::Cubic(c1, c2, p) => {
                let _ = write!(d, " C{} {} {}", pt(c1), pt(c2), pt(p));
            }
        }
    }
    d
}

const STYLE: &str = "text{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:12px;fill:#1f2328}\
.title{font-size:14px;font-weight:bold}\
.node rect{fill:#eef3fb;stroke:#44679a;stroke-width:1.4}\
.final rect{fill:#eef7ee;stroke:#3b7a3b}\
.failed rect{fill:#fbeeee;stroke:#b3261e}\
.cancelled rect{fill:#f2f2f2;stroke:#6e6e6e;stroke-dasharray:4 3}\
.edge path{fill:none;stroke:#555;stroke-width:1.3}\
.system path{stroke-dasharray:6 4}\
.elabel rect{fill:#fff;fill-opacity:0.92;stroke:none}\
.elabel text{fill:#333}";

/// The graph as a standalone SVG 1.1 document.
pub fn to_svg(g: &Graph) -> String {
    let l = layout(g);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        w = num(l.width),
        h = num(l.height)
    );
    let _ = writeln!(out, "<title>{}</title>", xml_escape(&g.title));
    out.push_str("<defs>\n");
    let _ = writeln!(out, "<style type=\"text/css\">{STYLE}</style>");
    out.push_str(
        "<marker id=\"accord-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" \
         markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\" stroke=\"none\"/></marker>\n",
    );
    out.push_str("</defs>\n");
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>",
        num(l.width),
        num(l.height)
    );
    if !l.title.trim().is_empty() {
        let _ = writeln!(
            out,
            "<text class=\"title\" x=\"{}\" y=\"{}\">{}</text>",
            num(MARGIN),
            num(MARGIN + TITLE_FONT_SIZE),
            xml_escape(&l.title)
        );
    }

    // Edges first, then their labels over them, then the states.
    out.push_str("<g class=\"edges\">\n");
    for e in &l.edges {
        let class = if e.system { "edge system" } else { "edge" };
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><path d=\"{}\" marker-end=\"url(#accord-arrow)\"/></g>",
            path_data(e.start, &e.segments)
        );
    }
    out.push_str("</g>\n<g class=\"edge-labels\">\n");
    for e in &l.edges {
        let Some(r) = e.label else { continue };
        out.push_str("<g class=\"elabel\">");
        if e.truncated {
            let _ = write!(
                out,
                "<title>{}</title>",
                xml_escape(&g.edges[e.index].label)
            );
        }
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h),
            num(r.cx()),
            num(r.cy() + FONT_SIZE * 0.35),
            xml_escape(&e.text)
        );
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for (v, nd) in l.nodes.iter().enumerate() {
        let r = nd.rect;
        let class = match nd.outcome {
            Some(o) => format!("node final {o}"),
            None if nd.is_final => "node final".to_string(),
            None => "node".to_string(),
        };
        let _ = write!(out, "<g class=\"{class}\">");
        if nd.truncated {
            let _ = write!(out, "<title>{}</title>", xml_escape(&g.nodes[v].label));
        }
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/>",
            num(r.x),
            num(r.y),
            num(r.w),
            num(r.h)
        );
        if nd.is_final {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\"/>",
                num(r.x + FINAL_INSET),
                num(r.y + FINAL_INSET),
                num(r.w - 2.0 * FINAL_INSET),
                num(r.h - 2.0 * FINAL_INSET)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></g>",
            num(r.cx()),
            num(r.cy() + FONT_SIZE * 0.35),
            xml_escape(&nd.text)
        );
        if nd.is_initial {
            let dot = (r.x - INITIAL_SPACE + 5.0, r.cy());
            let _ = writeln!(
                out,
                "<g class=\"initial\"><circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"#1f2328\"/><path d=\"M{} L{}\" \
                 fill=\"none\" stroke=\"#1f2328\" stroke-width=\"1.3\" marker-end=\"url(#accord-arrow)\"/></g>",
                num(dot.0),
                num(dot.1),
                pt(dot),
                pt((r.x, r.cy()))
            );
        }
    }
    out.push_str("</g>\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{GraphEdge, Node};

    fn node(key: &str, label: &str) -> Node {
        Node {
            key: key.into(),
            label: label.into(),
            is_final: key.starts_with(':'),
            outcome: match key {
                ":success" => Some("success"),
                ":failed" => Some("failed"),
                ":cancelled" => Some("cancelled"),
                _ => None,
            },
            is_initial: key == "initial",
        }
    }

    fn edge(from: usize, to: usize, label: &str, system: bool) -> GraphEdge {
        GraphEdge {
            from,
            to,
            label: label.into(),
            system,
        }
    }

    fn graph(nodes: Vec<Node>, edges: Vec<GraphEdge>) -> Graph {
        Graph {
            title: "test graph".into(),
            nodes,
            edges,
        }
    }

    fn chain() -> Graph {
        graph(
            vec![
                node("initial", "Draft"),
                node("review", "Under review"),
                node("sign", "Signing"),
                node(":success", "Done"),
            ],
            vec![
                edge(0, 1, "request", false),
                edge(1, 2, "review: accept", false),
                edge(2, 3, "sign", true),
            ],
        )
    }

    fn cycle() -> Graph {
        graph(
            vec![
                node("initial", "A"),
                node("b", "B"),
                node("c", "C"),
                node(":success", "end"),
            ],
            vec![
                edge(0, 1, "go", false),
                edge(1, 2, "on", false),
                edge(2, 0, "back", false),
                edge(2, 3, "finish", true),
            ],
        )
    }

    fn self_loops() -> Graph {
        graph(
            vec![node("initial", "Waiting")],
            vec![
                edge(0, 0, "ping", false),
                edge(0, 0, "poke: again", true),
                edge(0, 0, "", false),
            ],
        )
    }

    fn multi() -> Graph {
        graph(
            vec![node("initial", "A"), node("b", "B")],
            vec![
                edge(0, 1, "one", false),
                edge(0, 1, "two", false),
                edge(0, 1, "two", true),
                edge(1, 0, "back", false),
                edge(1, 0, "back again", false),
            ],
        )
    }

    fn empty() -> Graph {
        Graph {
            title: String::new(),
            nodes: vec![],
            edges: vec![],
        }
    }

    fn nasty() -> Graph {
        let long = "x".repeat(200);
        Graph {
            title: "<&>\"' title".into(),
            nodes: vec![
                node("initial", "<&>\"'"),
                node("b", &long),
                node(":failure", ""),
            ],
            edges: vec![
                edge(0, 1, "a<b && c>\"d\" 'e'", false),
                edge(1, 2, &long, true),
                edge(0, 7, "dangling", false),
                edge(2, 2, "\u{1}ctl\nline", false),
            ],
        }
    }

    fn all() -> Vec<Graph> {
        vec![chain(), cycle(), self_loops(), multi(), empty(), nasty()]
    }

    /// Every tag opened is closed, in order.
    fn assert_balanced(svg: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(!name.is_empty(), "bad tag {tag:?}");
            if tag.starts_with('/') {
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()), "in {svg}");
            } else if !tag.ends_with('/') {
                stack.push(name);
            }
            // Text between tags holds no markup characters.
            let text_end = rest[close..].find('<').map_or(rest.len(), |i| i + close);
            assert!(!rest[close + 1..text_end].contains('>'));
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn svg_is_well_formed() {
        for g in all() {
            let svg = to_svg(&g);
            assert_balanced(&svg);
            assert!(
                svg.contains("width=\"")
                    && svg.contains("height=\"")
                    && svg.contains("viewBox=\"0 0 ")
            );
            assert!(svg.contains(&format!("<title>{}</title>", xml_escape(&g.title))));
            assert!(!svg.contains("NaN") && !svg.contains("inf"));
        }
    }

    #[test]
    fn svg_shows_every_label_escaped() {
        for g in all() {
            let svg = to_svg(&g);
            for nd in &g.nodes {
                let shown = display_text(&nd.label).0;
                assert!(
                    svg.contains(&format!(">{}</text>", xml_escape(&shown))),
                    "{shown:?} missing"
                );
            }
            for e in g
                .edges
                .iter()
                .filter(|e| e.from < g.nodes.len() && e.to < g.nodes.len() && !e.label.is_empty())
            {
                let shown = display_text(&e.label).0;
                assert!(
                    svg.contains(&format!(">{}</text>", xml_escape(&shown))),
                    "{shown:?} missing"
                );
            }
        }
        let svg = to_svg(&nasty());
        assert!(svg.contains("&lt;&amp;&gt;&quot;&apos;"));
        assert!(svg.contains("a&lt;b &amp;&amp; c&gt;&quot;d&quot; &apos;e&apos;"));
        assert!(svg.contains(&format!(">{}…</text>", "x".repeat(79))));
    }

    #[test]
    fn svg_long_labels_are_truncated() {
        let svg = to_svg(&nasty());
        let longest_text = svg
            .split("<text")
            .skip(1)
            .map(|t| {
                t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()]
                    .chars()
                    .count()
            })
            .max()
            .unwrap();
        assert_eq!(longest_text, MAX_LABEL_CHARS);
    }

    #[test]
    fn svg_layout_has_no_overlaps() {
        for g in all() {
            let l = layout(&g);
            assert_eq!(l.nodes.len(), g.nodes.len());
            let mut rects: Vec<Rect> = l.nodes.iter().map(|n| n.rect).collect();
            rects.extend(l.edges.iter().filter_map(|e| e.label));
            for (i, a) in rects.iter().enumerate() {
                assert!(
                    a.x >= 0.0 && a.y >= 0.0 && a.right() <= l.width && a.bottom() <= l.height,
                    "{a:?} outside"
                );
                for b in &rects[i + 1..] {
                    assert!(!a.intersects(b), "{a:?} and {b:?} overlap in {}", g.title);
                }
            }
        }
    }

    #[test]
    fn svg_edges_end_on_their_targets() {
        for g in all() {
            let l = layout(&g);
            for e in &l.edges {
                let ge = &g.edges[e.index];
                let end = e.segments.last().expect("a path").end();
                let target = l.nodes[ge.to].rect;
                let on_x = (end.0 - target.x).abs() < 0.01 || (end.0 - target.right()).abs() < 0.01;
                let on_y = (end.1 - target.y).abs() < 0.01;
                let inside_y = end.1 >= target.y && end.1 <= target.bottom();
                let inside_x = end.0 >= target.x && end.0 <= target.right();
                assert!(
                    (on_x && inside_y) || (on_y && inside_x),
                    "{end:?} not on {target:?}"
                );
                let start = l.nodes[ge.from].rect;
                let s = e.start;
                assert!(s.0 >= start.x - 0.01 && s.0 <= start.right() + 0.01);
                assert!(s.1 >= start.y - 0.01 && s.1 <= start.bottom() + 0.01);
            }
        }
    }

    #[test]
    fn svg_multi_edges_are_apart() {
        let l = layout(&multi());
        let labels: Vec<Rect> = l.edges.iter().filter_map(|e| e.label).collect();
        assert_eq!(labels.len(), 5);
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(a != b && !a.intersects(b));
            }
        }
        assert_eq!(l.edges.iter().filter(|e| e.back).count(), 2);
    }

    #[test]
    fn svg_is_deterministic() {
        for g in all() {
            assert_eq!(to_svg(&g), to_svg(&g));
            assert_eq!(to_svg(&g), to_svg(&g.clone()));
        }
    }

    #[test]
    fn svg_marks_final_initial_and_system() {
        let svg = to_svg(&chain());
        assert!(svg.contains("class=\"node final success\""));
        assert!(svg.contains("class=\"initial\""));
        assert!(svg.contains("class=\"edge system\""));
        assert!(svg.contains("stroke-dasharray"));
        assert!(svg.contains("<marker id=\"accord-arrow\""));
    }

    #[test]
    fn svg_survives_larger_graphs() {
        // A dense graph with cycles, self-loops and long edges.
        let nodes: Vec<Node> = (0..30)
            .map(|i| node(if i == 0 { "initial" } else { "s" }, &format!("state {i}")))
            .collect();
        let mut edges = Vec::new();
        for i in 0..30usize {
            edges.push(edge(i, (i * 7 + 3) % 30, &format!("e{i}"), i % 3 == 0));
            edges.push(edge(i, (i + 1) % 30, "next", false));
            if i % 5 == 0 {
                edges.push(edge(i, i, "stay", false));
            }
        }
        let g = graph(nodes, edges);
        let l = layout(&g);
        let mut rects: Vec<Rect> = l.nodes.iter().map(|n| n.rect).collect();
        rects.extend(l.edges.iter().filter_map(|e| e.label));
        for (i, a) in rects.iter().enumerate() {
            for b in &rects[i + 1..] {
                assert!(!a.intersects(b));
            }
        }
        assert_balanced(&to_svg(&g));
    }
}
