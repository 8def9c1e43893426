//! One webhook POST: the notification's JSON, success on any 2xx.
//!
//! The client is built like the HTTP gate's (hyper-util + hyper-rustls with aws-lc-rs and the
//! system roots, the stack the AWS SDK already compiles), so no second HTTP/TLS stack.

use std::error::Error as StdError;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{NotifyError, Webhook};

/// Of a refusal's body, this much is read and this much shown: enough for "invalid_token".
const MAX_ERROR_BODY: usize = 64 * 1024;
const SHOWN_ERROR_BODY_CHARS: usize = 200;

/// A parsed [`Webhook`] with its client; cheap to share.
pub(super) struct WebhookClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    header: Option<(HeaderName, HeaderValue)>,
}

impl WebhookClient {
    pub(super) fn new(webhook: &Webhook) -> Result<WebhookClient, NotifyError> {
        let (uri, header) = parse(webhook)?;
        Ok(WebhookClient {
            client: https_client(),
            uri,
            header,
        })
    }

    /// One POST of `body`, unbounded in time: the caller puts the timeout around it.
    pub(super) async fn post(&self, body: Bytes) -> Result<(), NotifyError> {
        let mut request = Request::post(self.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("cutover/", env!("CARGO_PKG_VERSION")));
        if let Some((name, value)) = &self.header {
            request = request.header(name.clone(), value.clone());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|error| NotifyError::Transport(error.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|error| NotifyError::Transport(chain(&error)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The body of a refusal usually says why ("invalid_token", "no_service"); a body that
        // cannot be read just leaves the status.
        let body = Limited::new(response.into_body(), MAX_ERROR_BODY)
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let body: String = String::from_utf8_lossy(&body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(SHOWN_ERROR_BODY_CHARS)
            .collect();
        Err(NotifyError::Status {
            status: status.as_u16(),
            body,
        })
    }
}

/// The URL and the extra header, checked: http(s) only, a header that HTTP can carry.
pub(super) fn parse(
    webhook: &Webhook,
) -> Result<(Uri, Option<(HeaderName, HeaderValue)>), NotifyError> {
    let uri: Uri = webhook
        .url
        .parse()
        .map_err(|error: http::uri::InvalidUri| NotifyError::BadUrl(error.to_string()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(NotifyError::BadUrl(
            "it must start with http:// or https:// and name a host".into(),
        ));
    }
    let header = match &webhook.header {
        None => None,
        Some((name, value)) => {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| NotifyError::BadHeaderName(name.clone()))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| NotifyError::BadHeaderValue(name.to_string()))?;
            // Keeps it out of hyper's and http's debug output.
            value.set_sensitive(true);
            Some((name, value))
        }
    };
    Ok((uri, header))
}

/// How logs name the webhook: its origin only, since the path of a chat webhook (Slack, Teams)
/// is itself the credential, and user info in the URL would be one too.
pub(super) fn label(url: &str) -> String {
    match url.parse::<Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => match uri.port_u16() {
                Some(port) => format!("webhook {scheme}://{host}:{port}"),
                None => format!("webhook {scheme}://{host}"),
            },
            _ => "webhook".to_string(),
        },
        Err(_) => "webhook".to_string(),
    }
}

fn https_client() -> Client<HttpsConnector<HttpConnector>, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build(crate::https::connector("webhooks"))
}

/// hyper's errors say "client error (Connect)" and keep the cause in the chain: show it all.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}
