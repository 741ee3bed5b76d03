//! A failure as one self-contained HTML page: the report's text, the
//! finding's picture and the timeline as SVG, and the replay command with
//! a copy button. Nothing is fetched from the network: the styles, the
//! pictures and the few lines of script are inside the page.

use crate::failure::{Failure, FailureKind, PREDICTED_RACE};
use crate::markup::escape;
use crate::picture_svg::{graph_svg, legend_svg};
use crate::swimlanes::swimlanes;
use racecheck_detect::{finding_events, finding_graph};
use std::fmt::Write;

/// The page's styles: system fonts only.
const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}\
.sentence{font-size:15px;margin:4px 0 12px}\
.predicted{background:#fff6d6;border-left:4px solid #e0b000;padding:6px 10px}\
.command{display:flex;gap:8px;align-items:center;margin:4px 0}\
.command code{background:#f3f3f3;padding:6px 8px;border-radius:4px;overflow-x:auto;white-space:pre;flex:1}\
button.copy{padding:5px 12px;cursor:pointer}\
.picture{overflow-x:auto;border:1px solid #ddd;padding:8px}\
.picture svg.finding-graph{max-width:100%;height:auto;display:block}\
pre{background:#f7f7f7;padding:10px;overflow-x:auto;font-size:12px}";

/// Copies a command on a click (the clipboard API where the page is a
/// secure context, a selection otherwise) and marks the page as loaded.
const SCRIPT: &str = "function racecheckCopy(text){\
var area=document.createElement('textarea');area.value=text;document.body.appendChild(area);\
area.select();try{document.execCommand('copy');}finally{area.remove();}}\
document.querySelectorAll('button.copy').forEach(function(button){\
button.addEventListener('click',function(){\
var text=document.getElementById(button.getAttribute('data-target')).textContent;\
var done=function(){button.textContent='Copied';};\
if(navigator.clipboard&&window.isSecureContext){\
navigator.clipboard.writeText(text).then(done,function(){racecheckCopy(text);done();});}\
else{racecheckCopy(text);done();}});});\
document.documentElement.setAttribute('data-racecheck-ready','yes');";

/// The report's first line without its `racecheck: ` prefix, and for a
/// panic the first line of its message, which the next line holds.
fn headline(text: &str, panic: bool) -> String {
    let mut lines = text.lines();
    let first = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("racecheck: ");
    match (panic, lines.next()) {
        (true, Some(next)) => format!("{first} {}", next.trim()),
        _ => first.to_string(),
    }
}

impl Failure {
    /// The failure as one self-contained HTML page (no network access, no
    /// external fonts or scripts): the finding's sentence, the replay
    /// commands with copy buttons, the finding's picture (see
    /// [`racecheck_detect::finding_graph`]) and the timeline as SVG
    /// swimlanes (a lane per task; running, waiting, sleeping and holding
    /// slices; the finding's events circled), and the text report. The
    /// same failure gives the same bytes.
    ///
    /// ```
    /// use racecheck_explore::{explore, Config};
    ///
    /// let report = explore(&Config::default(), || async { panic!("boom") });
    /// let page = report.failure.unwrap().html();
    /// assert!(page.starts_with("<!DOCTYPE html>"));
    /// assert!(page.contains("class=\"swimlanes\""));
    /// ```
    pub fn html(&self) -> String {
        let text = self.to_string();
        let headline = headline(&text, matches!(self.kind, FailureKind::Panic { .. }));
        let mut page = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n");
        let _ = writeln!(
            page,
            "<meta charset=\"utf-8\">\n<title>racecheck: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>",
            escape(self.title())
        );
        let _ = writeln!(
            page,
            "<h1>racecheck: {}</h1>\n<p class=\"sentence\">{}</p>",
            escape(self.title()),
            escape(&headline)
        );
        if self.is_predicted_race() {
            let _ = writeln!(
                page,
                "<p class=\"predicted\">{}</p>",
                escape(PREDICTED_RACE)
            );
        }
        self.write_replay(&mut page);
        let finding = match &self.kind {
            FailureKind::Finding(finding) => Some(finding),
            _ => None,
        };
        let highlighted =
            finding.map_or_else(Vec::new, |finding| finding_events(&self.trace, finding));
        if let Some(finding) = finding {
            let graph = finding_graph(&self.trace, finding);
            let _ = writeln!(
                page,
                "<h2>The {}</h2>\n<div class=\"picture\">\n{}\n{}</div>",
                escape(finding.title()),
                graph_svg(&graph),
                legend_svg(&graph)
            );
        }
        let _ = writeln!(
            page,
            "<h2>Timeline</h2>\n<div class=\"picture\">\n{}</div>",
            swimlanes(&self.trace, &highlighted)
        );
        let _ = writeln!(
            page,
            "<h2>Report</h2>\n<pre id=\"report\">{}</pre>\n<script>{SCRIPT}</script>\n</body>\n</html>",
            escape(&text)
        );
        page
    }

    /// A short title: the finding's kind, or what went wrong.
    fn title(&self) -> &'static str {
        match &self.kind {
            FailureKind::Finding(finding) => finding.title(),
            FailureKind::Panic { .. } => "panic",
            FailureKind::StepLimit { .. } => "step limit",
            _ => "schedule mismatch",
        }
    }

    /// The replay commands, each with a copy button; the schedule itself
    /// when the front end wrote none.
    fn write_replay(&self, page: &mut String) {
        page.push_str("<h2>Replay</h2>\n");
        let schedule = [format!("{}", self.schedule)];
        let commands = if self.replay.is_empty() {
            &schedule[..]
        } else {
            &self.replay[..]
        };
        for (index, command) in commands.iter().enumerate() {
            let _ = writeln!(
                page,
                "<div class=\"command\"><code id=\"replay-{index}\">{}</code>\
                 <button class=\"copy\" type=\"button\" data-target=\"replay-{index}\">Copy</button></div>",
                escape(command)
            );
        }
    }
}
