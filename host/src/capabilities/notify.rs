//! Notifications a running call sends its client: progress and log
//! messages. The route is the request currently driving the call: a legacy
//! session's request for its whole life; for a 2026-07-28 call, whichever
//! request (first call or retry) is running it, and none while it is parked.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{Peer, RoleServer};

/// Where notifications go now, and which the client asked for.
#[derive(Clone)]
pub struct NotifyRoute {
    pub peer: Peer<RoleServer>,
    /// The request's progress token; progress is sent only with one.
    pub progress_token: Option<ProgressToken>,
    /// The least severe log level the client wants; none means no logs.
    pub log_level: Option<LoggingLevel>,
}

/// A call's notification channel to its client (cheap to clone).
#[derive(Clone, Default)]
pub struct Notifier {
    route: Arc<Mutex<Option<NotifyRoute>>>,
}

impl Notifier {
    pub fn new(route: Option<NotifyRoute>) -> Self {
        Notifier {
            route: Arc::new(Mutex::new(route)),
        }
    }

    /// Send later notifications along `route` (or nowhere).
    pub fn reroute(&self, route: Option<NotifyRoute>) {
        *self.route.lock().unwrap_or_else(|e| e.into_inner()) = route;
    }

    fn current(&self) -> Option<NotifyRoute> {
        self.route.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<String>) {
        let Some(route) = self.current() else { return };
        let Some(token) = route.progress_token else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token, progress);
        param.total = total;
        param.message = message;
        if let Err(error) = route.peer.notify_progress(param).await {
            tracing::debug!("progress notification not sent: {error}");
        }
    }

    pub async fn log(&self, plugin: &str, level: LoggingLevel, message: &str) {
        let Some(route) = self.current() else { return };
        let Some(wanted) = route.log_level else {
            return;
        };
        if severity(level) < severity(wanted) {
            return;
        }
        let mut param =
            LoggingMessageNotificationParam::new(level, serde_json::Value::from(message));
        param.logger = Some(plugin.to_string());
        if let Err(error) = route.peer.notify_logging_message(param).await {
            tracing::debug!("log notification not sent: {error}");
        }
    }
}

/// RFC 5424 order, least severe first.
pub fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}
