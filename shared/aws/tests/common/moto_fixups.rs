//! A test-only HTTP client in front of moto that repairs the one answer moto serializes wrongly
//! for the collector: `GetBucketVersioning` comes back under a `<GetBucketVersioningResponse>`
//! root instead of AWS's `<VersioningConfiguration>`, which the SDK (rightly) refuses to parse.
//! Everything else passes through untouched, so the collector's real parsing runs on moto's data.

use aws_config::SdkConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

const MOTO_ROOT: &str = "GetBucketVersioningResponse";
const AWS_ROOT: &str = "VersioningConfiguration";

#[derive(Debug, Clone)]
struct Fixups {
    inner: SharedHttpClient,
}

impl HttpClient for Fixups {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(FixupConnector { inner: self.inner.http_connector(settings, components) })
    }
}

#[derive(Debug)]
struct FixupConnector {
    inner: SharedHttpConnector,
}

impl HttpConnector for FixupConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let versioning = request.uri().contains("versioning");
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            let mut response = inner.call(request).await?;
            if versioning {
                let bytes = ByteStream::new(response.take_body())
                    .collect()
                    .await
                    .map_err(|e| aws_smithy_runtime_api::client::result::ConnectorError::io(e.into()))?
                    .into_bytes();
                let text = String::from_utf8_lossy(&bytes).replace(MOTO_ROOT, AWS_ROOT);
                response.headers_mut().insert("content-length", text.len().to_string());
                *response.body_mut() = SdkBody::from(text);
            }
            Ok(response)
        })
    }
}

/// `base` with its HTTP client replaced by one that repairs moto's versioning answers.
pub fn with_moto_fixups(base: &SdkConfig) -> SdkConfig {
    let inner = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).build_https();
    base.to_builder().http_client(Fixups { inner }).build()
}
