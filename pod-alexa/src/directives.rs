//! The outbound side of answering: Alexa's directive service, for
//! progressive responses (`POST {apiEndpoint}/v1/directives` with a
//! `VoicePlayer.Speak` directive and the request's `apiAccessToken`).
//!
//! [`DirectiveClient`] implements pod-ports' [`ProgressiveSpeech`]. The
//! `apiEndpoint` comes from the request, so it is checked before anything
//! is sent: HTTPS on port 443 and one of Amazon's API hosts
//! ([`AMAZON_API_HOSTS`]), or exactly the one test endpoint the operator
//! configured ([`DirectiveClient::with_test_endpoint`]). A forged request
//! cannot make pod post a token anywhere else, and the token never reaches
//! a log or an error.

use std::time::Duration;

use async_trait::async_trait;
use pod_ports::{ProgressiveSpeech, SpeechError, SpeechTarget};
use serde::{Deserialize, Serialize};
use url::Url;

/// The hosts of Alexa's APIs (North America, Europe, Far East): the only
/// `apiEndpoint` hosts a progressive response is sent to.
pub const AMAZON_API_HOSTS: [&str; 3] = [
    "api.amazonalexa.com",
    "api.eu.amazonalexa.com",
    "api.fe.amazonalexa.com",
];

/// The default timeout of one directive (connect and whole request): a
/// progressive response is worth nothing once the answer is out.
pub const DEFAULT_DIRECTIVE_TIMEOUT: Duration = Duration::from_secs(1);

/// The body of `POST /v1/directives`: `{"header":{"requestId":…},
/// "directive":{"type":"VoicePlayer.Speak","speech":"<speak>…</speak>"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressiveDirective {
    /// `header`.
    pub header: DirectiveHeader,
    /// `directive`.
    pub directive: SpeakDirective,
}

/// `header` of a directive: the request it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectiveHeader {
    /// `requestId` of the request being answered.
    #[serde(rename = "requestId")]
    pub request_id: String,
}

/// `directive`: what Alexa should do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakDirective {
    /// `type`: `VoicePlayer.Speak`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `speech`: SSML, a whole `<speak>` document.
    pub speech: String,
}

impl ProgressiveDirective {
    /// A `VoicePlayer.Speak` of `ssml` for the request `request_id`.
    pub fn speak(request_id: impl Into<String>, ssml: impl Into<String>) -> Self {
        ProgressiveDirective {
            header: DirectiveHeader {
                request_id: request_id.into(),
            },
            directive: SpeakDirective {
                kind: "VoicePlayer.Speak".into(),
                speech: ssml.into(),
            },
        }
    }
}

/// `<speak>text</speak>`, with the text's XML special characters escaped.
pub fn ssml(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 15);
    out.push_str("<speak>");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out.push_str("</speak>");
    out
}

/// Why a [`DirectiveClient`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DirectiveClientError {
    /// The HTTP client could not be built.
    #[error("cannot build the directive client: {0}")]
    Client(String),
    /// The test endpoint is not an `http`/`https` origin.
    #[error("the test API endpoint must be an http(s) origin such as http://127.0.0.1:9000: {0}")]
    TestEndpoint(String),
}

/// Sends progressive responses to Alexa's directive service with `reqwest`
/// (a timeout on connect and the whole request, no redirects).
#[derive(Debug, Clone)]
pub struct DirectiveClient {
    client: reqwest::Client,
    test_endpoint: Option<Url>,
}

impl DirectiveClient {
    /// A client that sends only to Amazon's API hosts, over HTTPS.
    pub fn new(timeout: Duration) -> Result<Self, DirectiveClientError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DirectiveClientError::Client(e.to_string()))?;
        Ok(DirectiveClient {
            client,
            test_endpoint: None,
        })
    }

    /// Also accepts requests whose `apiEndpoint` is exactly `endpoint`'s
    /// origin (plain `http` allowed): for tests with a fake directive
    /// service. Configuration only; a request never widens what is allowed.
    pub fn with_test_endpoint(mut self, endpoint: &str) -> Result<Self, DirectiveClientError> {
        let url = Url::parse(endpoint.trim())
            .map_err(|e| DirectiveClientError::TestEndpoint(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || !is_bare_origin(&url) {
            return Err(DirectiveClientError::TestEndpoint(endpoint.to_owned()));
        }
        self.test_endpoint = Some(url);
        Ok(self)
    }

    /// `{apiEndpoint}/v1/directives`, when `api_endpoint` is allowed.
    ///
    /// Errors: [`SpeechError::EndpointRefused`] for anything but an allowed
    /// bare origin.
    pub fn directives_url(&self, api_endpoint: &str) -> Result<Url, SpeechError> {
        let refused = || SpeechError::EndpointRefused(api_endpoint.chars().take(100).collect());
        let url = Url::parse(api_endpoint).map_err(|_| refused())?;
        if !is_bare_origin(&url) {
            return Err(refused());
        }
        let amazon = url.scheme() == "https"
            && url.port().is_none()
            && url
                .host_str()
                .is_some_and(|host| AMAZON_API_HOSTS.contains(&host));
        let test = self
            .test_endpoint
            .as_ref()
            .is_some_and(|test| test.origin() == url.origin());
        if !(amazon || test) {
            return Err(refused());
        }
        url.join("/v1/directives").map_err(|_| refused())
    }
}

/// No user, password, query or fragment, and no path but `/`.
fn is_bare_origin(url: &Url) -> bool {
    url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && matches!(url.path(), "" | "/")
        && url.host_str().is_some()
}

#[async_trait]
impl ProgressiveSpeech for DirectiveClient {
    async fn speak(&self, target: &SpeechTarget, ssml: &str) -> Result<(), SpeechError> {
        let url = self.directives_url(&target.api_endpoint)?;
        let body = ProgressiveDirective::speak(&target.request_id, ssml);
        let response = self
            .client
            .post(url)
            .bearer_auth(&target.api_access_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                SpeechError::Unavailable(if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    e.without_url().to_string()
                })
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SpeechError::Status(status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_amazon_hosts_over_https_are_allowed() {
        let client = DirectiveClient::new(DEFAULT_DIRECTIVE_TIMEOUT).unwrap();
        for allowed in [
            "https://api.amazonalexa.com",
            "https://api.eu.amazonalexa.com/",
            "https://api.fe.amazonalexa.com:443",
            "https://API.AMAZONALEXA.COM",
        ] {
            let url = client.directives_url(allowed).unwrap();
            assert_eq!(url.path(), "/v1/directives", "{allowed}");
            assert_eq!(url.scheme(), "https");
        }
        for refused in [
            "http://api.amazonalexa.com",
            "https://api.amazonalexa.com:8443",
            "https://api.amazonalexa.com.evil.example",
            "https://evil.example",
            "https://api.amazonalexa.com./",
            "https://user:pw@api.amazonalexa.com",
            "https://api.amazonalexa.com/v1/directives",
            "https://api.amazonalexa.com?x=1",
            "https://evil.example#api.amazonalexa.com",
            "http://127.0.0.1:9000",
            "api.amazonalexa.com",
            "",
        ] {
            assert!(
                matches!(
                    client.directives_url(refused),
                    Err(SpeechError::EndpointRefused(_))
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn the_test_endpoint_is_allowed_only_by_configuration_and_exactly() {
        let client = DirectiveClient::new(DEFAULT_DIRECTIVE_TIMEOUT)
            .unwrap()
            .with_test_endpoint("http://127.0.0.1:9000")
            .unwrap();
        assert_eq!(
            client
                .directives_url("http://127.0.0.1:9000")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9000/v1/directives"
        );
        assert!(client.directives_url("http://127.0.0.1:9001").is_err());
        assert!(client.directives_url("https://127.0.0.1:9000").is_err());
        assert!(client.directives_url("https://api.amazonalexa.com").is_ok());
        assert!(
            DirectiveClient::new(DEFAULT_DIRECTIVE_TIMEOUT)
                .unwrap()
                .with_test_endpoint("http://127.0.0.1:9000/path")
                .is_err()
        );
    }

    #[test]
    fn the_directive_is_alexas_voice_player_speak() {
        let body = ProgressiveDirective::speak("amzn1.echo-api.request.1", ssml("Fish & <chips>"));
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "header": {"requestId": "amzn1.echo-api.request.1"},
                "directive": {
                    "type": "VoicePlayer.Speak",
                    "speech": "<speak>Fish &amp; &lt;chips&gt;</speak>"
                }
            })
        );
    }

    #[test]
    fn a_target_never_shows_its_token() {
        let target = SpeechTarget {
            api_endpoint: "https://api.amazonalexa.com".into(),
            api_access_token: "secret-api-token".into(),
            request_id: "r".into(),
        };
        assert!(!format!("{target:?}").contains("secret-api-token"));
    }
}
