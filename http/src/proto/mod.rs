//! The HTTP/1.x wire format without sockets (sans-I/O).
//!
//! - [`parse_request_head`] decodes a request head from a byte slice, on
//!   top of `httparse`, with the framing rules that keep requests from being
//!   smuggled (see [`ParseError`]).
//! - [`BodyDecoder`] is a state machine that decodes a `Content-Length` or
//!   chunked body from byte slices as they arrive.
//! - [`encode_response_head`], [`encode_chunk`] and [`encode_last_chunk`]
//!   encode a response into a `Vec<u8>`, with a cached `Date` header.
//! - [`parse_response_head`], [`response_body_framing`] and
//!   [`encode_request_head`] are the client's side of the same format.
//!
//! The server in this crate is blocking code on top of these functions; they
//! can be unit-tested and fuzzed without a network.

mod body;
mod client;
mod date;
mod request;
mod response;

pub use body::{BodyDecoder, BodyError};
pub use client::{
    encode_request_head, parse_response_head, response_body_framing, ResponseBodyFraming,
    ResponseError, ResponseHead,
};
pub use date::{fmt_http_date, parse_http_date, with_date};
pub use request::{parse_request_head, Framing, Limits, ParseError, RequestHead};
pub use response::{encode_chunk, encode_last_chunk, encode_response_head, ResponseFraming};

#[cfg(test)]
mod client_split_tests;
#[cfg(test)]
mod split_tests;
