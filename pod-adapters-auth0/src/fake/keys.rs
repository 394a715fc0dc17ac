//! The fake's signing keys: [`RsaTestKey`] (an RSA key with a `kid`, for
//! RS256 tokens and the JWKS) and [`sign_hs256`].

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// An RSA signing key with a `kid`, for tests that need RS256 tokens.
#[derive(Clone)]
pub struct RsaTestKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
    public_der: Vec<u8>,
}

impl std::fmt::Debug for RsaTestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaTestKey")
            .field("kid", &self.kid)
            .finish()
    }
}

impl RsaTestKey {
    /// A fresh 2048-bit key named `kid`.
    pub fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = pair.as_der().expect("PKCS#8 encoding");
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PKCS#8 PEM");
        let public = pair.public_key();
        let parts = PublicKeyComponents::<Vec<u8>>::from(public);
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&parts.n),
            "e": URL_SAFE_NO_PAD.encode(&parts.e),
        });
        RsaTestKey {
            kid: kid.to_owned(),
            encoding,
            jwk,
            public_der: public.as_ref().to_vec(),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (for a `jwks.json`).
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// The public key, DER (PKCS#1), as an attacker could download it.
    pub fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// `claims` signed with RS256 under this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).expect("RS256 signing")
    }
}

/// `claims` signed with HS256 and `secret`.
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing")
}
