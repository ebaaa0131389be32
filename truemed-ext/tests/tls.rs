//! Each TLS feature reaches a local HTTPS server: a certificate authority and a server
//! certificate made at test time (rcgen), a rustls server on 127.0.0.1, and a client that
//! trusts that authority alone, passed in with `ClientBuilder::http_client`.
//!
//! `.ci/run` runs this file once per TLS feature set (`--no-default-features --features
//! rustls`, `rustls-no-provider`, `native-tls`, each with and without `http2`); with
//! `--all-features` every test here runs in one process. Without any TLS feature only the
//! refusal test runs: an `https` URL then never reaches the server.

mod support;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::{client_without_retries, error_getting_qs_1, API_KEY};
use truemed_ext::Error;

/// An HTTPS server on 127.0.0.1 that answers `GET .../qualification_session/qs_1`.
struct HttpsFake {
    base_url: String,
    /// The certificate authority that signed the server's certificate, in PEM.
    #[cfg_attr(
        not(any(feature = "rustls", feature = "rustls-no-provider", feature = "native-tls")),
        allow(dead_code)
    )]
    ca_pem: String,
    /// The HTTP version of each request the server received.
    versions: Arc<Mutex<Vec<Version>>>,
}

impl HttpsFake {
    async fn start() -> Self {
        // A CA, and a server certificate it signs for localhost and 127.0.0.1.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "truemed-rs test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let mut server_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        server_params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

        // The server's own rustls always uses ring, whatever provider the client has.
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![
                CertificateDer::from(server_cert.der().to_vec()),
                CertificateDer::from(ca.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let versions = Arc::new(Mutex::new(Vec::new()));
        let seen = versions.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let seen = seen.clone();
                        async move { Ok::<_, Infallible>(answer(&request, &seen)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        HttpsFake { base_url: format!("https://127.0.0.1:{port}"), ca_pem: ca.pem(), versions }
    }

    /// A `reqwest::Client` that trusts this server's CA and no other root.
    #[cfg(any(feature = "rustls", feature = "rustls-no-provider", feature = "native-tls"))]
    fn trusting(&self, builder: reqwest::ClientBuilder) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap();
        builder.tls_certs_only([ca]).build().unwrap()
    }

    fn versions(&self) -> Vec<Version> {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

fn answer(
    request: &Request<hyper::body::Incoming>,
    seen: &Mutex<Vec<Version>>,
) -> Response<Full<Bytes>> {
    seen.lock().unwrap_or_else(PoisonError::into_inner).push(request.version());
    let authorized = request.headers().get("x-truemed-api-key").is_some_and(|key| key == API_KEY);
    let (status, body) = match (authorized, request.uri().path()) {
        (false, _) => (401, r#"{"error":"unauthorized"}"#),
        (true, "/api/v1/qualification_session/qs_1") => {
            (200, r#"{"qualification_session_id":"qs_1","status":"approved","user_id":"user_42"}"#)
        }
        (true, _) => (404, r#"{"error":"not_found"}"#),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// With the `http2` feature the client offers h2 through ALPN and the server picks it.
#[cfg(any(feature = "rustls", feature = "rustls-no-provider", feature = "native-tls"))]
fn expected_version() -> Version {
    if cfg!(feature = "http2") {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    }
}

/// Gets `qs_1` from a new HTTPS fake through a `reqwest::Client` built by `builder` that
/// trusts the fake's CA alone, and checks what the server saw.
#[cfg(any(feature = "rustls", feature = "rustls-no-provider", feature = "native-tls"))]
async fn get_from_an_https_fake(builder: reqwest::ClientBuilder) {
    let fake = HttpsFake::start().await;
    let client = support::client_without_retries_over(&fake.base_url, fake.trusting(builder));
    let session = client.qualification_sessions().get("qs_1").await.unwrap();
    assert_eq!(session.qualification_session_id, "qs_1");
    assert_eq!(session.user_id.as_deref(), Some("user_42"));
    assert_eq!(fake.versions(), [expected_version()]);
}

/// `rustls-no-provider`: the application installs a crypto provider (here ring) before
/// building a client. With `rustls` also enabled, reqwest would otherwise use aws-lc-rs.
#[cfg(feature = "rustls-no-provider")]
fn install_crypto_provider() {
    // Err means a provider is installed already (another test here did it): as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(not(feature = "rustls-no-provider"))]
fn install_crypto_provider() {}

#[cfg(feature = "rustls")]
#[tokio::test]
async fn rustls_with_aws_lc_reaches_an_https_server() {
    get_from_an_https_fake(reqwest::Client::builder().tls_backend_rustls()).await;
}

#[cfg(feature = "rustls-no-provider")]
#[tokio::test]
async fn rustls_with_an_installed_provider_reaches_an_https_server() {
    install_crypto_provider();
    get_from_an_https_fake(reqwest::Client::builder().tls_backend_rustls()).await;
}

#[cfg(feature = "native-tls")]
#[tokio::test]
async fn native_tls_reaches_an_https_server() {
    get_from_an_https_fake(reqwest::Client::builder().tls_backend_native()).await;
}

/// The client's own `reqwest::Client` (the default TLS backend of the enabled features,
/// with the platform's roots) refuses a server whose CA it does not trust: certificates
/// are verified, and the request is never sent. Without a TLS feature it cannot speak TLS
/// at all, with the same outcome.
#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_refused() {
    install_crypto_provider();
    let fake = HttpsFake::start().await;
    let error = error_getting_qs_1(&client_without_retries(&fake.base_url)).await;
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert!(fake.versions().is_empty(), "{:?}", fake.versions());
}
