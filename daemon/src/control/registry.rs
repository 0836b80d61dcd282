//! What subsystems register with the control plane at start-up, so that
//! the modules which serve them (status, metrics, shutdown) need not know
//! the subsystems, and the subsystems need not know the daemon: status
//! document sections, metric families (with [`Exposition`], the Prometheus
//! text writer) and shutdown hooks. A leaf: it imports nothing of the
//! daemon.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

/// Writes families in the text format: `# HELP`, `# TYPE`, then samples.
#[derive(Default)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"");
                escape_label(&mut self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(self.out, "{}", value as i64);
        } else {
            let _ = writeln!(self.out, "{value}");
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

type MetricSection = Box<dyn Fn(&mut Exposition)>;

/// Metric families added by other subsystems (NAT traversal, the admin
/// API's own counters), rendered after the built-in ones in registration
/// order.
#[derive(Default)]
pub(crate) struct MetricSections(RefCell<Vec<MetricSection>>);

impl MetricSections {
    pub(crate) fn register(&self, section: impl Fn(&mut Exposition) + 'static) {
        self.0.borrow_mut().push(Box::new(section));
    }

    /// Writes every registered family to `m`.
    pub(crate) fn render(&self, m: &mut Exposition) {
        for section in self.0.borrow().iter() {
            section(m);
        }
    }
}

type StatusSection = Box<dyn Fn() -> Value>;

/// Status document sections added by other subsystems (NAT traversal).
/// A registered section replaces the built-in value of the same name.
#[derive(Default)]
pub(crate) struct StatusSections(RefCell<Vec<(&'static str, StatusSection)>>);

impl StatusSections {
    pub(crate) fn register(&self, name: &'static str, section: impl Fn() -> Value + 'static) {
        self.0.borrow_mut().push((name, Box::new(section)));
    }

    /// Puts every registered section into the document `map`.
    pub(crate) fn insert_into(&self, map: &mut serde_json::Map<String, Value>) {
        for (name, section) in self.0.borrow().iter() {
            map.insert((*name).to_string(), section());
        }
    }
}

/// How long one shutdown hook may take.
pub(crate) const HOOK_TIMEOUT: Duration = Duration::from_secs(5);

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>>>;

/// Async work to run once connections have drained, in registration order.
#[derive(Default)]
pub(crate) struct ShutdownHooks(RefCell<Vec<(&'static str, Hook)>>);

impl ShutdownHooks {
    /// Adds a hook, e.g. `hooks.register("nat mappings", || Box::pin(nat.release()))`.
    pub(crate) fn register(
        &self,
        name: &'static str,
        hook: impl FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + 'static,
    ) {
        self.0.borrow_mut().push((name, Box::new(hook)));
    }

    /// Runs and removes every hook, in registration order.
    pub(crate) async fn run(&self) {
        let hooks = std::mem::take(&mut *self.0.borrow_mut());
        for (name, hook) in hooks {
            match tokio::time::timeout(HOOK_TIMEOUT, hook()).await {
                Ok(()) => tracing::info!(hook = name, "shutdown hook done"),
                Err(_) => tracing::warn!(hook = name, "shutdown hook timed out"),
            }
        }
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
