//! A loopback stand-in for the Anthropic Messages and OpenAI Chat
//! Completions APIs: it speaks their documented request and response shapes,
//! records every request (headers and body), answers from a script, then
//! from a fallback, and can take its time.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// The stand-in; its server runs until the test's runtime ends.
#[derive(Clone, Default)]
pub struct FakeLlm {
    script: Arc<Mutex<VecDeque<(u16, Value)>>>,
    fallback: Option<(u16, Value)>,
    delay: Duration,
    received: Arc<Mutex<Vec<Received>>>,
    pub address: Option<SocketAddr>,
}

impl FakeLlm {
    /// Answers from `script`, one entry per request; an unscripted request
    /// gets a 500.
    pub async fn start(script: Vec<(u16, Value)>) -> FakeLlm {
        Self::serve(script, None, Duration::ZERO).await
    }

    /// Answers every request with `answer` (status 200), after `delay`.
    pub async fn always(answer: Value, delay: Duration) -> FakeLlm {
        Self::serve(Vec::new(), Some((200, answer)), delay).await
    }

    async fn serve(
        script: Vec<(u16, Value)>,
        fallback: Option<(u16, Value)>,
        delay: Duration,
    ) -> FakeLlm {
        let mut api = FakeLlm {
            script: Arc::new(Mutex::new(script.into())),
            fallback,
            delay,
            received: Arc::default(),
            address: None,
        };
        let handler = |path: &'static str| {
            move |State(api): State<FakeLlm>, headers: HeaderMap, Json(body): Json<Value>| async move {
                api.received.lock().unwrap().push(Received {
                    path: path.to_string(),
                    headers,
                    body,
                });
                tokio::time::sleep(api.delay).await;
                let next = api.script.lock().unwrap().pop_front();
                let (status, answer) = next.or(api.fallback.clone()).unwrap_or((
                    500,
                    json!({"error": {"message": "the stand-in has no answer scripted for this request"}}),
                ));
                let mut response: Response =
                    (StatusCode::from_u16(status).unwrap(), Json(answer)).into_response();
                if status == 429 {
                    response
                        .headers_mut()
                        .insert("retry-after", "0".parse().unwrap());
                }
                response
            }
        };
        let router = axum::Router::new()
            .route("/v1/messages", axum::routing::post(handler("/v1/messages")))
            .route(
                "/v1/chat/completions",
                axum::routing::post(handler("/v1/chat/completions")),
            )
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        api.address = Some(listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        api
    }

    /// The base URL to give a provider (`/v1` included for Chat Completions).
    pub fn url(&self) -> String {
        format!("http://{}", self.address.unwrap())
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A Messages API answer with `text` and the given usage.
pub fn anthropic_answer(text: &str) -> Value {
    anthropic_answer_using(text, 10, 5)
}

pub fn anthropic_answer_using(text: &str, input: u64, output: u64) -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "usage": {"input_tokens": input, "output_tokens": output}
    })
}

/// A Chat Completions answer with `text` (and no usage, as some servers do).
pub fn openai_answer(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "llama3",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
    })
}

/// A Chat Completions answer with usage.
pub fn openai_answer_using(text: &str, input: u64, output: u64) -> Value {
    let mut answer = openai_answer(text);
    answer["usage"] = json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output});
    answer
}
