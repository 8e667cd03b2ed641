//! A plugin's progress reports and log lines reach the calling client as MCP
//! notifications: progress when the request carried a progress token, logs
//! at or above the level the client asked for (`logging/setLevel` in a
//! session, the request's own log level in 2026-07-28), never otherwise.
#![allow(deprecated)]

mod common;

use std::time::Duration;

use common::*;
use rmcp::model::{CallToolRequestParams, LoggingLevel, RequestMetaObject, SetLevelRequestParams};
use serde_json::json;

fn progress_call(log_level: Option<LoggingLevel>) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("probe_progress")
        .with_arguments(json!({"steps": 3}).as_object().unwrap().clone());
    if let Some(level) = log_level {
        let mut meta = RequestMetaObject::default();
        meta.set_log_level(level);
        params.meta = Some(meta);
    }
    params
}

fn info_lines() -> Vec<(String, Option<String>, String)> {
    (1..=3)
        .map(|i| {
            (
                "info".to_string(),
                Some("probe".to_string()),
                format!("info {i}"),
            )
        })
        .collect()
}

#[tokio::test]
async fn legacy_sessions_get_progress_and_the_logs_they_asked_for() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let client = ScriptedClient::replying("x");
        let session = open(transport, &workspace, client.clone()).await;

        let result = session.client.call_tool(progress_call(None)).await.unwrap();
        assert_eq!(text(&result), "progressed");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let progress = client.progress.lock().unwrap().clone();
        assert_eq!(
            progress,
            (1..=3)
                .map(|i| (i as f64, Some(3.0), Some(format!("step {i}"))))
                .collect::<Vec<_>>(),
            "{transport:?}"
        );
        assert!(
            client.logs.lock().unwrap().is_empty(),
            "{transport:?}: no level set, no logs"
        );

        session
            .client
            .peer()
            .set_level(SetLevelRequestParams::new(LoggingLevel::Info))
            .await
            .unwrap();
        session.client.call_tool(progress_call(None)).await.unwrap();
        assert_eq!(
            client.logs_once(|logs| logs.len() >= 3).await,
            info_lines(),
            "{transport:?}: info and above, not debug"
        );
    }
}

#[tokio::test]
async fn modern_requests_get_logs_only_when_they_carry_a_level() {
    for transport in TRANSPORTS {
        let workspace = Workspace::standard();
        let client = ScriptedClient::replying("x").modern();
        let session = open(transport, &workspace, client.clone()).await;

        session.client.call_tool(progress_call(None)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(client.logs.lock().unwrap().is_empty(), "{transport:?}");
        assert_eq!(client.progress.lock().unwrap().len(), 3, "{transport:?}");

        session
            .client
            .call_tool(progress_call(Some(LoggingLevel::Info)))
            .await
            .unwrap();
        assert_eq!(
            client.logs_once(|logs| logs.len() >= 3).await,
            info_lines(),
            "{transport:?}"
        );
    }
}
