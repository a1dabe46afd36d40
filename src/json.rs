//! JSON as the browser reads it: always from bytes.
//!
//! serde_json's readers are generic, so every type read both from a `&str` and from a
//! `&[u8]` has its whole deserializer compiled into the bundle twice. Server
//! functions read their responses as bytes; resources (the data the server renders
//! into the page) and the editor read text. Reading that text as bytes too leaves
//! one copy of each deserializer.

use leptos::prelude::Resource;
use leptos::server::codee::{Decoder, Encoder};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses JSON text (through the byte reader: see the module's comment).
pub fn parse<T: DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_slice(text.as_bytes())
}

/// The codec of every resource: JSON, written as text and read as bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(text: &str) -> Result<T, serde_json::Error> {
        parse(text)
    }
}

/// A resource: loaded on the server, its value carried in the page, read back here
/// with [`Json`]. As `Resource::new`, with the codec.
pub fn resource<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, Json>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
