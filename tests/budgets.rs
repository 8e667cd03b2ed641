//! Sampling budgets (`[plugin.sampling]` `requests_per_minute`,
//! `tokens_per_call`, `tokens_per_day`): they refuse exactly at the limit,
//! also under 50 concurrent calls, with `refused` naming the budget and when
//! it refills; usage comes from the provider's report, or is estimated for
//! client sampling.

mod common;

use std::time::{Duration, Instant};

use common::fake_llm::*;
use common::*;
use serde_json::json;

/// The probe, routed to a provider at `api`, with `budgets` in its
/// `[plugin.sampling]`.
fn probe_with(api: &FakeLlm, budgets: &str) -> Workspace {
    Workspace::with_config(&format!(
        "llm = {{ kind = \"anthropic\", base_url = {:?}, retries = 0 }}\n[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.sampling]\nroute = \"provider\"\n{budgets}\n",
        api.url(),
        component("probe"),
    ))
}

async fn open_probe(workspace: &Workspace) -> Session {
    open_env(
        Transport::Stdio,
        workspace,
        ScriptedClient::without_sampling(),
        &["--max-client-calls", "100"],
        &[("ANTHROPIC_API_KEY", "sk-ant-test-key")],
    )
    .await
}

/// Run 50 `probe_sample` calls at once; return the texts of those answered
/// and of those refused.
async fn fifty_at_once(session: &Session, max_tokens: u64) -> (Vec<String>, Vec<String>) {
    let calls = (0..50).map(|i| {
        call(
            &session.client,
            "probe_sample",
            json!({"prompt": format!("q{i:02}"), "max_tokens": max_tokens}),
        )
    });
    let results = futures::future::join_all(calls).await;
    let (answered, refused): (Vec<_>, Vec<_>) = results
        .iter()
        .partition(|result| result.is_error != Some(true));
    (
        answered.into_iter().map(text).collect(),
        refused.into_iter().map(text).collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_per_minute_refuses_exactly_at_the_limit_under_50_concurrent_calls() {
    let api = FakeLlm::always(anthropic_answer("ok"), Duration::from_millis(100)).await;
    let workspace = probe_with(&api, "requests_per_minute = 10");
    let session = open_probe(&workspace).await;
    let started = Instant::now();
    let (answered, refused) = fifty_at_once(&session, 10).await;
    // The bucket holds 10 and gains one every 6 s: exact while the burst
    // takes less than that, which it does by far.
    let refills = (started.elapsed().as_secs_f64() / 6.0).floor() as usize;
    assert!(
        answered.len() >= 10 && answered.len() <= 10 + refills,
        "{} answered in {:?}",
        answered.len(),
        started.elapsed()
    );
    assert_eq!(
        api.received().len(),
        answered.len(),
        "refused requests are never sent"
    );
    assert_eq!(answered.len() + refused.len(), 50);
    for why in &refused {
        assert!(
            why.contains("Refused(\"sampling budget `sampling.requests_per_minute` = 10 is spent: the next request is allowed in")
                && why.contains("one more every 6.0 s"),
            "{why}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_per_day_reserves_the_worst_case_and_settles_to_reported_usage() {
    // Each request: prompt "qNN" (1 token) + 4 per message + 10 max tokens =
    // 15 reserved; the provider reports 8 + 4 = 12 used.
    let api = FakeLlm::always(
        anthropic_answer_using("ok", 8, 4),
        Duration::from_millis(200),
    )
    .await;
    let workspace = probe_with(&api, "tokens_per_day = 400");
    let session = open_probe(&workspace).await;
    let (answered, refused) = fifty_at_once(&session, 10).await;
    // 50 reservations of 15 at once: at least 26 fit, and never so many that
    // the reported use passes the budget.
    assert!(answered.len() >= 26, "{}", answered.len());
    assert!(answered.len() * 12 <= 400, "{}", answered.len());
    for why in &refused {
        assert!(
            why.contains("sampling budget `sampling.tokens_per_day` = 400 is spent")
                && why.contains("this request may need 15; it refills at 00:00 UTC, in"),
            "{why}"
        );
    }
    // One at a time until refused: the budget ends exactly where the next
    // worst case no longer fits (12 × 33 = 396; 396 + 15 > 400).
    loop {
        let result = call(
            &session.client,
            "probe_sample",
            json!({"prompt": "q99", "max_tokens": 10}),
        )
        .await;
        if result.is_error == Some(true) {
            assert!(
                text(&result).contains("tokens_per_day"),
                "{}",
                text(&result)
            );
            break;
        }
    }
    assert_eq!(api.received().len(), 33, "12 tokens each, 400 a day");
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_per_call_ends_one_calls_sampling_and_not_the_next_calls() {
    // "question N" is 3 tokens + 4 + 10 max = 17 reserved; 10 reported.
    let api = FakeLlm::always(anthropic_answer_using("ok", 5, 5), Duration::ZERO).await;
    let workspace = probe_with(&api, "tokens_per_call = 45");
    let session = open_probe(&workspace).await;
    for _ in 0..2 {
        let result = call(
            &session.client,
            "probe_sample_many",
            json!({"count": 5, "max_tokens": 10}),
        )
        .await;
        assert_eq!(result.is_error, Some(true));
        // 10 + 10 + 10 used, then 30 + 17 > 45.
        assert!(
            text(&result).contains("sample 3: Error::Refused(\"sampling budget `sampling.tokens_per_call` = 45 is spent: this call has used 30 tokens and this request may need 17; it refills only for a new tool call"),
            "{}",
            text(&result)
        );
    }
    assert_eq!(api.received().len(), 6, "three requests in each call");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_sampling_is_budgeted_by_estimate() {
    // A client route: the client pays, the plugin's budget still holds.
    let workspace = Workspace::with_config(&format!(
        "[[plugin]]\nname = \"probe\"\ncomponent = {:?}\n[plugin.sampling]\ntokens_per_call = 60\n",
        component("probe"),
    ));
    // Answers of 40 bytes: 10 tokens by the estimate.
    let client = ScriptedClient::replying(&"x".repeat(40));
    let asked = client.asked.clone();
    for transport in TRANSPORTS {
        let session = open(transport, &workspace, client.clone()).await;
        let result = call(
            &session.client,
            "probe_sample_many",
            json!({"count": 5, "max_tokens": 10}),
        )
        .await;
        // 17 reserved each; 3 + 4 + 10 = 17 estimated used: 17, 34, 51; 51 + 17 > 60.
        assert!(
            text(&result).contains("sample 3: Error::Refused(\"sampling budget `sampling.tokens_per_call` = 60 is spent: this call has used 51 tokens"),
            "{transport:?}: {}",
            text(&result)
        );
    }
    assert_eq!(asked.lock().unwrap().len(), 6);
}
