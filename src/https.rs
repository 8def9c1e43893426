//! The connector for the requests cutover makes itself (HTTP gate probes, webhooks): rustls with
//! the aws-lc-rs provider the AWS SDK already builds, the system's root certificates, HTTP/1,
//! and plain `http://` allowed (local probes, test receivers).

use std::sync::Arc;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// A connector for `what` (`probes`, `webhooks`: named in the warning). Without system root
/// certificates it still connects: `https://` then fails with a certificate error at each
/// request, `http://` works; the missing roots are logged once, here.
pub fn connector(what: &str) -> HttpsConnector<HttpConnector> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder =
        match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!("no system root certificates for https {what}: {error}");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("the aws-lc-rs provider supports the default TLS versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
    builder.https_or_http().enable_http1().build()
}
