//! JetStream basics over the core client: publish with acknowledgement
//! (with duplicate detection through `Nats-Msg-Id`), stream management,
//! durable pull consumers with `fetch` and `ack`/`nak`/`term`, and a small
//! key-value bucket.
//!
//! Everything is a request to the server's `$JS.API` subjects; replies are
//! JSON. API errors become [`ErrorKind::JetStream`] errors whose
//! [`Error::code`] is the server's `err_code` (e.g. 10059, stream not
//! found).
//!
//! ```no_run
//! use std::time::Duration;
//! use fibra_nats::jetstream::{ConsumerConfig, JetStream, StreamConfig};
//!
//! let client = fibra_nats::connect("nats://127.0.0.1:4222").unwrap();
//! let js = JetStream::new(client);
//! js.create_stream(&StreamConfig::new("ORDERS", ["orders.>"])).unwrap();
//! let ack = js.publish("orders.new", "42").unwrap();
//! assert_eq!(ack.stream, "ORDERS");
//! let consumer = js
//!     .create_pull_consumer("ORDERS", &ConsumerConfig::durable("worker"))
//!     .unwrap();
//! for msg in consumer.fetch(10, Duration::from_secs(1)).unwrap() {
//!     println!("{:?}", msg.message().payload_str());
//!     msg.ack().unwrap();
//! }
//! ```

use std::time::{Duration, Instant};

use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderMap;
use crate::subscription::{Message, Subscription};

/// Durations travel as integer nanoseconds.
mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = i64::deserialize(d)?;
        Ok(Duration::from_nanos(n.max(0) as u64))
    }
}

fn is_zero(d: &Duration) -> bool {
    d.is_zero()
}

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageType {
    /// On disk.
    #[default]
    File,
    /// In memory.
    Memory,
}

/// A stream's configuration (the commonly used fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamConfig {
    /// The stream's name.
    pub name: String,
    /// The subjects it captures.
    pub subjects: Vec<String>,
    /// Storage type.
    pub storage: StorageType,
    /// Replicas (1 on a single server).
    pub num_replicas: usize,
    /// Message limit (-1: none).
    pub max_msgs: i64,
    /// Byte limit (-1: none).
    pub max_bytes: i64,
    /// Per-subject message limit (-1: none); a KV bucket's history.
    pub max_msgs_per_subject: i64,
    /// Age limit (zero: none).
    #[serde(with = "nanos", skip_serializing_if = "is_zero")]
    pub max_age: Duration,
    /// The window in which `Nats-Msg-Id` duplicates are detected (zero:
    /// the server's default, 2 minutes).
    #[serde(with = "nanos", skip_serializing_if = "is_zero")]
    pub duplicate_window: Duration,
    /// Allow `Nats-Rollup` headers.
    pub allow_rollup_hdrs: bool,
    /// Refuse deleting messages through the API.
    pub deny_delete: bool,
    /// Discard policy when limits are reached: "old" (default) or "new".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discard: Option<String>,
}

impl StreamConfig {
    /// A file-backed stream with one replica and no limits.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        subjects: impl IntoIterator<Item = S>,
    ) -> StreamConfig {
        StreamConfig {
            name: name.into(),
            subjects: subjects.into_iter().map(Into::into).collect(),
            storage: StorageType::File,
            num_replicas: 1,
            max_msgs: -1,
            max_bytes: -1,
            max_msgs_per_subject: -1,
            ..StreamConfig::default()
        }
    }
}

/// A stream's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamState {
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// The first sequence number.
    pub first_seq: u64,
    /// The last sequence number.
    pub last_seq: u64,
    /// Consumers.
    pub consumer_count: u64,
}

/// A stream's configuration and state as the server reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The configuration in force.
    pub config: StreamConfig,
    /// The counters.
    pub state: StreamState,
}

/// The acknowledgement of a JetStream publish.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PubAck {
    /// The stream that stored the message.
    pub stream: String,
    /// Its sequence number in the stream.
    pub seq: u64,
    /// True if a message with the same `Nats-Msg-Id` was already stored
    /// (this one was not stored again).
    pub duplicate: bool,
    /// The JetStream domain, if any.
    pub domain: Option<String>,
}

/// How a consumer expects acknowledgements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckPolicy {
    /// Every message must be acknowledged.
    #[default]
    Explicit,
    /// Acknowledging one acknowledges all before it.
    All,
    /// No acknowledgements.
    None,
}

/// Where a consumer starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    /// From the first message.
    #[default]
    All,
    /// From the last message.
    Last,
    /// Only new messages.
    New,
    /// The last message of each subject.
    LastPerSubject,
}

/// A consumer's configuration (the commonly used fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// The durable name (None: ephemeral).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_name: Option<String>,
    /// Only messages of this subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    /// Acknowledgement policy.
    pub ack_policy: AckPolicy,
    /// Where to start.
    pub deliver_policy: DeliverPolicy,
    /// How long the server waits for an ack before redelivering (zero:
    /// the server's default, 30 s).
    #[serde(with = "nanos", skip_serializing_if = "is_zero")]
    pub ack_wait: Duration,
    /// Deliveries per message before giving up (-1 or 0: unlimited).
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub max_deliver: i64,
    /// For push consumers: the subject messages are sent to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
    /// Replay policy: "instant".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_policy: Option<String>,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl ConsumerConfig {
    /// A durable pull consumer with explicit acks from the first message.
    pub fn durable(name: impl Into<String>) -> ConsumerConfig {
        ConsumerConfig {
            durable_name: Some(name.into()),
            ..ConsumerConfig::default()
        }
    }

    /// Only messages of `subject`.
    pub fn filter_subject(mut self, subject: impl Into<String>) -> Self {
        self.filter_subject = Some(subject.into());
        self
    }

    /// The redelivery timeout.
    pub fn ack_wait(mut self, d: Duration) -> Self {
        self.ack_wait = d;
        self
    }
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    code: u64,
    #[serde(default)]
    err_code: Option<u64>,
    #[serde(default)]
    description: String,
}

/// A JetStream context: a client plus the API prefix and timeout.
#[derive(Debug, Clone)]
pub struct JetStream {
    client: Client,
    prefix: String,
    timeout: Duration,
}

impl JetStream {
    /// A context on `client` with the default `$JS.API` prefix and a 5 s
    /// timeout.
    pub fn new(client: Client) -> JetStream {
        JetStream {
            client,
            prefix: "$JS.API".to_owned(),
            timeout: Duration::from_secs(5),
        }
    }

    /// The timeout of API requests and publish acknowledgements.
    pub fn with_timeout(mut self, timeout: Duration) -> JetStream {
        self.timeout = timeout;
        self
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn parse<T: DeserializeOwned>(&self, msg: &Message) -> Result<T> {
        let v: serde_json::Value = serde_json::from_slice(&msg.payload)
            .map_err(|e| Error::new(ErrorKind::Protocol, format!("bad JetStream reply: {e}")))?;
        if let Some(err) = v.get("error") {
            let e: ApiError = serde_json::from_value(err.clone()).map_err(|e| {
                Error::new(ErrorKind::Protocol, format!("bad JetStream error: {e}"))
            })?;
            return Err(Error::new(ErrorKind::JetStream, e.description)
                .with_code(e.err_code.unwrap_or(e.code)));
        }
        serde_json::from_value(v)
            .map_err(|e| Error::new(ErrorKind::Protocol, format!("bad JetStream reply: {e}")))
    }

    fn request(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<Message> {
        let r = match headers {
            Some(h) => self
                .client
                .request_with_headers(subject, h, payload, self.timeout),
            None => self.client.request_timeout(subject, payload, self.timeout),
        };
        r.map_err(|e| {
            if e.is_no_responders() {
                Error::new(
                    ErrorKind::JetStream,
                    format!("JetStream not available for {subject}"),
                )
                .with_code(503)
            } else {
                e
            }
        })
    }

    fn api<T: DeserializeOwned>(&self, what: &str, body: &impl Serialize) -> Result<T> {
        let body = serde_json::to_vec(body).map_err(|e| Error::invalid(e.to_string()))?;
        let msg = self.request(&format!("{}.{what}", self.prefix), None, &body)?;
        self.parse(&msg)
    }

    /// Publishes to a subject a stream captures and waits for the stream's
    /// acknowledgement.
    ///
    /// # Errors
    /// `JetStream` with code 503 when no stream captures the subject;
    /// `Timeout`; the client's publish errors.
    pub fn publish(&self, subject: &str, payload: impl AsRef<[u8]>) -> Result<PubAck> {
        let msg = self.request(subject, None, payload.as_ref())?;
        self.parse(&msg)
    }

    /// Publishes with headers (e.g. `Nats-Msg-Id`, `Nats-Expected-Last-Sequence`).
    ///
    /// # Errors
    /// As [`publish`](JetStream::publish), and the stream's refusal of an
    /// expectation header.
    pub fn publish_with_headers(
        &self,
        subject: &str,
        headers: &HeaderMap,
        payload: impl AsRef<[u8]>,
    ) -> Result<PubAck> {
        let msg = self.request(subject, Some(headers), payload.as_ref())?;
        self.parse(&msg)
    }

    /// Publishes with a `Nats-Msg-Id`: a second publish with the same id
    /// within the stream's duplicate window is acknowledged with
    /// `duplicate: true` and not stored.
    ///
    /// # Errors
    /// As [`publish`](JetStream::publish).
    pub fn publish_with_id(
        &self,
        subject: &str,
        msg_id: &str,
        payload: impl AsRef<[u8]>,
    ) -> Result<PubAck> {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", msg_id);
        self.publish_with_headers(subject, &h, payload)
    }

    /// Creates a stream.
    ///
    /// # Errors
    /// `JetStream` (10058 when a stream of that name exists with another
    /// configuration); `Timeout`.
    pub fn create_stream(&self, config: &StreamConfig) -> Result<StreamInfo> {
        self.api(&format!("STREAM.CREATE.{}", config.name), config)
    }

    /// Updates a stream's configuration.
    ///
    /// # Errors
    /// `JetStream` (10059 when it does not exist, or for a change the
    /// server refuses); `Timeout`.
    pub fn update_stream(&self, config: &StreamConfig) -> Result<StreamInfo> {
        self.api(&format!("STREAM.UPDATE.{}", config.name), config)
    }

    /// A stream's configuration and state.
    ///
    /// # Errors
    /// `JetStream` (10059 when it does not exist); `Timeout`.
    pub fn stream_info(&self, name: &str) -> Result<StreamInfo> {
        self.api(&format!("STREAM.INFO.{name}"), &serde_json::json!({}))
    }

    /// Deletes a stream and its messages.
    ///
    /// # Errors
    /// `JetStream` (10059 when it does not exist); `Timeout`.
    pub fn delete_stream(&self, name: &str) -> Result<()> {
        #[derive(Deserialize)]
        struct Success {
            #[serde(default)]
            success: bool,
        }
        let r: Success = self.api(&format!("STREAM.DELETE.{name}"), &serde_json::json!({}))?;
        if r.success {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::JetStream,
                format!("stream {name} not deleted"),
            ))
        }
    }

    /// Creates (or binds to, if the same configuration exists) a durable
    /// pull consumer on `stream`.
    ///
    /// # Errors
    /// `InvalidInput` without a durable name; `JetStream`; `Timeout`.
    pub fn create_pull_consumer(
        &self,
        stream: &str,
        config: &ConsumerConfig,
    ) -> Result<PullConsumer> {
        let name = config
            .durable_name
            .clone()
            .ok_or_else(|| Error::invalid("a pull consumer needs a durable name"))?;
        let body = serde_json::json!({ "stream_name": stream, "config": config });
        let _: serde_json::Value =
            self.api(&format!("CONSUMER.DURABLE.CREATE.{stream}.{name}"), &body)?;
        Ok(PullConsumer {
            js: self.clone(),
            stream: stream.to_owned(),
            name,
        })
    }

    /// Deletes a consumer.
    ///
    /// # Errors
    /// `JetStream` (10014 when it does not exist); `Timeout`.
    pub fn delete_consumer(&self, stream: &str, name: &str) -> Result<()> {
        let _: serde_json::Value = self.api(
            &format!("CONSUMER.DELETE.{stream}.{name}"),
            &serde_json::json!({}),
        )?;
        Ok(())
    }

    /// Creates a key-value bucket keeping `history` values per key (1–64).
    ///
    /// # Errors
    /// `InvalidInput` for a bad bucket name; `JetStream`; `Timeout`.
    pub fn create_key_value(&self, bucket: &str, history: i64) -> Result<KeyValue> {
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::invalid(format!("bad bucket name {bucket:?}")));
        }
        let mut cfg = StreamConfig::new(format!("KV_{bucket}"), [format!("$KV.{bucket}.>")]);
        cfg.max_msgs_per_subject = history.clamp(1, 64);
        cfg.allow_rollup_hdrs = true;
        cfg.deny_delete = true;
        cfg.discard = Some("new".to_owned());
        self.create_stream(&cfg)?;
        Ok(self.kv(bucket))
    }

    /// Binds to an existing bucket.
    ///
    /// # Errors
    /// `JetStream` (10059 when it does not exist); `Timeout`.
    pub fn key_value(&self, bucket: &str) -> Result<KeyValue> {
        self.stream_info(&format!("KV_{bucket}"))?;
        Ok(self.kv(bucket))
    }

    /// Deletes a bucket.
    ///
    /// # Errors
    /// As [`delete_stream`](JetStream::delete_stream).
    pub fn delete_key_value(&self, bucket: &str) -> Result<()> {
        self.delete_stream(&format!("KV_{bucket}"))
    }

    fn kv(&self, bucket: &str) -> KeyValue {
        KeyValue {
            js: self.clone(),
            bucket: bucket.to_owned(),
        }
    }
}

/// A durable pull consumer: [`fetch`](PullConsumer::fetch) batches of
/// messages and acknowledge each.
#[derive(Debug, Clone)]
pub struct PullConsumer {
    js: JetStream,
    stream: String,
    name: String,
}

impl PullConsumer {
    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks for up to `batch` messages and returns those that arrive
    /// within `timeout` (possibly none).
    ///
    /// # Errors
    /// `Timeout` is not an error here (an empty or short batch is
    /// returned); `JetStream` for a status the server reports (e.g. 409
    /// when the consumer was deleted); the client's errors.
    pub fn fetch(&self, batch: usize, timeout: Duration) -> Result<Vec<JsMessage>> {
        let client = &self.js.client;
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox)?;
        let expires = timeout
            .saturating_sub(Duration::from_millis(20))
            .max(Duration::from_millis(1));
        let body = serde_json::json!({ "batch": batch, "expires": expires.as_nanos() as u64 });
        client.publish_with_reply(
            &format!(
                "{}.CONSUMER.MSG.NEXT.{}.{}",
                self.js.prefix, self.stream, self.name
            ),
            &inbox,
            None,
            body.to_string(),
        )?;
        let deadline = Instant::now() + timeout;
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let m = match sub.next_timeout(left) {
                Ok(m) => m,
                Err(e) if e.is_timeout() => break,
                Err(e) => return Err(e),
            };
            match m.status() {
                None => out.push(JsMessage {
                    message: m,
                    client: client.clone(),
                }),
                Some(100) => {}
                Some(404 | 408) => break,
                Some(s) => {
                    if out.is_empty() {
                        let why = m
                            .headers
                            .as_ref()
                            .and_then(HeaderMap::description)
                            .unwrap_or("");
                        return Err(
                            Error::new(ErrorKind::JetStream, format!("fetch: {s} {why}"))
                                .with_code(u64::from(s)),
                        );
                    }
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Delivery details parsed from a JetStream message's reply subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    /// How many times this message was delivered (1 the first time).
    pub delivered: u64,
    /// Its sequence in the stream.
    pub stream_sequence: u64,
    /// Its sequence in the consumer.
    pub consumer_sequence: u64,
    /// Messages still pending for the consumer.
    pub pending: u64,
}

fn ack_info(reply: &str) -> Option<MessageInfo> {
    let t: Vec<&str> = reply.split('.').collect();
    if t.len() < 9 || t[0] != "$JS" || t[1] != "ACK" {
        return None;
    }
    // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
    // v2 adds <domain>.<account hash> after ACK and a random token at the end.
    let o = if t.len() == 9 { 4 } else { 6 };
    let n = |i: usize| t.get(o + i).and_then(|s| s.parse().ok());
    Some(MessageInfo {
        delivered: n(0)?,
        stream_sequence: n(1)?,
        consumer_sequence: n(2)?,
        pending: n(4)?,
    })
}

/// A message fetched from a pull consumer, to be acknowledged.
#[derive(Debug, Clone)]
pub struct JsMessage {
    message: Message,
    client: Client,
}

impl JsMessage {
    /// The message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Takes the message out.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// Delivery count and sequence numbers.
    pub fn info(&self) -> Option<MessageInfo> {
        self.message.reply.as_deref().and_then(ack_info)
    }

    fn reply(&self, body: &str) -> Result<()> {
        let reply = self
            .message
            .reply
            .as_deref()
            .ok_or_else(|| Error::invalid("message has no ack subject"))?;
        self.client.publish(reply, body)
    }

    /// Acknowledges the message (done with it).
    ///
    /// # Errors
    /// The client's publish errors.
    pub fn ack(&self) -> Result<()> {
        self.reply("+ACK")
    }

    /// Acknowledges and waits until the server confirms.
    ///
    /// # Errors
    /// `Timeout`; the client's errors.
    pub fn ack_sync(&self) -> Result<()> {
        let reply = self
            .message
            .reply
            .as_deref()
            .ok_or_else(|| Error::invalid("message has no ack subject"))?;
        self.client.request(reply, "+ACK").map(drop)
    }

    /// Negative acknowledgement: redeliver it.
    ///
    /// # Errors
    /// The client's publish errors.
    pub fn nak(&self) -> Result<()> {
        self.reply("-NAK")
    }

    /// Terminates it: never redeliver.
    ///
    /// # Errors
    /// The client's publish errors.
    pub fn term(&self) -> Result<()> {
        self.reply("+TERM")
    }

    /// Asks for more time before redelivery.
    ///
    /// # Errors
    /// The client's publish errors.
    pub fn in_progress(&self) -> Result<()> {
        self.reply("+WPI")
    }
}

/// What a key-value entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A value was put.
    Put,
    /// The key was deleted.
    Delete,
    /// The key was purged.
    Purge,
}

/// One value of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value (empty for deletes).
    pub value: Vec<u8>,
    /// The revision (the stream sequence).
    pub revision: u64,
    /// Put, delete or purge.
    pub operation: Operation,
}

fn operation(headers: Option<&HeaderMap>) -> Operation {
    match headers.and_then(|h| h.get("KV-Operation")) {
        Some("DEL") => Operation::Delete,
        Some("PURGE") => Operation::Purge,
        _ => Operation::Put,
    }
}

fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && !key.starts_with('.')
        && !key.ends_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!("bad key {key:?}")))
    }
}

/// A key-value bucket stored in a stream (`KV_<bucket>`).
#[derive(Debug, Clone)]
pub struct KeyValue {
    js: JetStream,
    bucket: String,
}

impl KeyValue {
    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn subject(&self, key: &str) -> String {
        format!("$KV.{}.{key}", self.bucket)
    }

    /// Stores `value` under `key`; returns the new revision.
    ///
    /// # Errors
    /// `InvalidInput` for a bad key; `JetStream`; `Timeout`.
    pub fn put(&self, key: &str, value: impl AsRef<[u8]>) -> Result<u64> {
        check_key(key)?;
        Ok(self.js.publish(&self.subject(key), value)?.seq)
    }

    /// The latest value of `key`, or `None` if it has none or was deleted.
    ///
    /// # Errors
    /// `InvalidInput` for a bad key; `JetStream`; `Timeout`.
    pub fn get(&self, key: &str) -> Result<Option<Entry>> {
        check_key(key)?;
        #[derive(Deserialize)]
        struct Stored {
            #[serde(default)]
            seq: u64,
            #[serde(default)]
            data: Option<String>,
            #[serde(default)]
            hdrs: Option<String>,
        }
        #[derive(Deserialize)]
        struct Reply {
            message: Stored,
        }
        let body = serde_json::json!({ "last_by_subj": self.subject(key) });
        let r: Reply = match self
            .js
            .api(&format!("STREAM.MSG.GET.KV_{}", self.bucket), &body)
        {
            Ok(r) => r,
            Err(e) if e.code() == Some(10037) || e.code() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let decode = |s: Option<String>| -> Result<Vec<u8>> {
            s.map_or(Ok(Vec::new()), |s| {
                b64.decode(s)
                    .map_err(|e| Error::new(ErrorKind::Protocol, format!("bad base64: {e}")))
            })
        };
        let hdrs = decode(r.message.hdrs)?;
        let headers = if hdrs.is_empty() {
            None
        } else {
            Some(HeaderMap::decode(&hdrs).map_err(|e| Error::new(ErrorKind::Protocol, e))?)
        };
        let op = operation(headers.as_ref());
        if op != Operation::Put {
            return Ok(None);
        }
        Ok(Some(Entry {
            key: key.to_owned(),
            value: decode(r.message.data)?,
            revision: r.message.seq,
            operation: op,
        }))
    }

    /// Deletes `key` (a delete marker is stored; history is kept).
    ///
    /// # Errors
    /// `InvalidInput` for a bad key; `JetStream`; `Timeout`.
    pub fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let mut h = HeaderMap::new();
        h.insert("KV-Operation", "DEL");
        self.js.publish_with_headers(&self.subject(key), &h, "")?;
        Ok(())
    }

    /// Watches keys matching `pattern` (`>` for all, `*` wildcards): first
    /// the latest entry of each matching key, then every change.
    ///
    /// # Errors
    /// `JetStream`; `Timeout`; the client's errors.
    pub fn watch(&self, pattern: &str) -> Result<Watcher> {
        let client = &self.js.client;
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox)?;
        let stream = format!("KV_{}", self.bucket);
        let config = ConsumerConfig {
            deliver_subject: Some(inbox),
            deliver_policy: DeliverPolicy::LastPerSubject,
            ack_policy: AckPolicy::None,
            filter_subject: Some(self.subject(pattern)),
            replay_policy: Some("instant".to_owned()),
            ..ConsumerConfig::default()
        };
        let body = serde_json::json!({ "stream_name": stream, "config": config });
        let _: serde_json::Value = self.js.api(&format!("CONSUMER.CREATE.{stream}"), &body)?;
        Ok(Watcher {
            sub,
            prefix: format!("$KV.{}.", self.bucket),
        })
    }
}

/// Changes of watched keys, from [`KeyValue::watch`]. Iterating blocks
/// until the next change.
#[derive(Debug)]
pub struct Watcher {
    sub: Subscription,
    prefix: String,
}

impl Watcher {
    fn entry(&self, m: Message) -> Option<Entry> {
        if m.status().is_some() {
            return None;
        }
        let revision = m
            .reply
            .as_deref()
            .and_then(ack_info)
            .map_or(0, |i| i.stream_sequence);
        Some(Entry {
            key: m
                .subject
                .strip_prefix(self.prefix.as_str())
                .unwrap_or(&m.subject)
                .to_owned(),
            operation: operation(m.headers.as_ref()),
            value: m.payload,
            revision,
        })
    }

    /// The next change within `timeout`.
    ///
    /// # Errors
    /// `Timeout`; `Closed`.
    pub fn next_timeout(&self, timeout: Duration) -> Result<Entry> {
        let deadline = Instant::now() + timeout;
        loop {
            let m = self
                .sub
                .next_timeout(deadline.saturating_duration_since(Instant::now()))?;
            if let Some(e) = self.entry(m) {
                return Ok(e);
            }
        }
    }
}

impl Iterator for Watcher {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            let m = self.sub.next_message()?;
            if let Some(e) = self.entry(m) {
                return Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ack_subjects() {
        let i = ack_info("$JS.ACK.S.C.2.10.7.1700000000.3").unwrap();
        assert_eq!(
            (
                i.delivered,
                i.stream_sequence,
                i.consumer_sequence,
                i.pending
            ),
            (2, 10, 7, 3)
        );
        let i = ack_info("$JS.ACK.dom.hash.S.C.1.5.4.1700000000.0.rand").unwrap();
        assert_eq!(
            (i.delivered, i.stream_sequence, i.consumer_sequence),
            (1, 5, 4)
        );
        assert!(ack_info("_INBOX.x").is_none());
    }

    #[test]
    fn stream_config_json() {
        let c = StreamConfig::new("S", ["a.>"]);
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["name"], "S");
        assert_eq!(j["storage"], "file");
        assert!(j.get("max_age").is_none());
        let c = ConsumerConfig::durable("d").ack_wait(Duration::from_secs(1));
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["ack_wait"], 1_000_000_000u64);
        assert_eq!(j["ack_policy"], "explicit");
    }

    #[test]
    fn keys() {
        assert!(check_key("a.b-c_d/e=f").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("a b").is_err());
        assert!(check_key(".a").is_err());
    }
}
