//! Reading: the reader coroutine decodes operations from the buffered
//! reading half and dispatches them (messages to subscriptions and
//! requests, PONGs to flush waiters, INFO updates) under the state lock.

use std::sync::atomic::Ordering;

use fibra_net::{Buffered, ReadHalf};
use fibra_runtime::chan::TrySendError;

use crate::conn;
use crate::error::{Error, ErrorKind, Result};
use crate::headers::HeaderMap;
use crate::proto::{self, ServerOp};
use crate::state::{Event, Shared, State, SubKind};
use crate::subscription::Message;

impl Shared {
    /// Handles one decoded operation with the state locked.
    pub(crate) fn handle(&self, st: &mut State, op: ServerOp<'_>) -> Result<()> {
        match op {
            ServerOp::Msg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => {
                self.stats.in_msgs.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .in_bytes
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                let Some(entry) = st.subs.get(&sid) else {
                    return Ok(());
                };
                let headers = match headers {
                    Some(h) => Some(HeaderMap::decode(h).map_err(|e| {
                        Error::new(ErrorKind::Protocol, format!("bad headers: {e}"))
                    })?),
                    None => None,
                };
                let msg = Message {
                    subject: subject.to_owned(),
                    reply: reply.map(str::to_owned),
                    headers,
                    payload: payload.to_vec(),
                };
                match &entry.kind {
                    SubKind::Mux => {
                        let token = subject
                            .strip_prefix(self.mux_prefix.as_str())
                            .and_then(|t| t.parse::<u64>().ok());
                        if let Some(tx) = token.and_then(|t| st.replies.remove(&t)) {
                            let _ = tx.send(msg);
                        }
                    }
                    SubKind::Chan { tx, counters } => {
                        let delivered = counters.delivered.fetch_add(1, Ordering::Relaxed) + 1;
                        let max = counters.max.load(Ordering::Relaxed);
                        if max != 0 && delivered > max {
                            return Ok(());
                        }
                        let size = msg.size();
                        let msgs = counters.pending_msgs.load(Ordering::Relaxed);
                        let bytes = counters.pending_bytes.load(Ordering::Relaxed);
                        if msgs >= counters.limit_msgs.load(Ordering::Relaxed)
                            || bytes + size > counters.limit_bytes.load(Ordering::Relaxed)
                        {
                            counters.dropped.fetch_add(1, Ordering::Relaxed);
                            if !counters.slow.swap(true, Ordering::Relaxed) {
                                self.emit(Event::SlowConsumer {
                                    sid,
                                    subject: entry.subject.clone(),
                                });
                            }
                        } else {
                            counters.pending_msgs.fetch_add(1, Ordering::Relaxed);
                            counters.pending_bytes.fetch_add(size, Ordering::Relaxed);
                            if let Err(e) = tx.try_send(msg) {
                                let m = match e {
                                    TrySendError::Full(m) | TrySendError::Disconnected(m) => m,
                                };
                                counters.pending_msgs.fetch_sub(1, Ordering::Relaxed);
                                counters
                                    .pending_bytes
                                    .fetch_sub(m.size(), Ordering::Relaxed);
                            }
                        }
                        if max != 0 && delivered >= max {
                            st.subs.remove(&sid);
                        }
                    }
                }
            }
            ServerOp::Ping => self.enqueue(st, proto::encode_pong),
            ServerOp::Pong => {
                st.pings_out = 0;
                if let Some(Some(tx)) = st.pongs.pop_front() {
                    let _ = tx.send(());
                }
            }
            ServerOp::Ok => {}
            ServerOp::Err(text) => {
                tracing::debug!(error = text, "nats server error");
                self.emit(Event::ServerError(text.to_owned()));
            }
            ServerOp::Info(json) => {
                let info = conn::parse_info(json)?;
                self.absorb_info(st, info);
            }
        }
        Ok(())
    }
}

/// Reads and dispatches until the connection fails; returns why.
pub(crate) fn reader_loop(shared: &Shared, reader: &mut Buffered<ReadHalf>) -> Error {
    let max = {
        let st = shared.lock();
        st.info.max_payload.max(1 << 20) + proto::MAX_CONTROL_LINE
    };
    reader.set_max_buffer(max);
    loop {
        if !reader.buffered().is_empty() {
            let mut st = shared.lock();
            loop {
                let step = match proto::decode(reader.buffered(), max) {
                    Ok(Some((op, n))) => shared.handle(&mut st, op).map(|()| Some(n)),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e.into()),
                };
                match step {
                    Ok(Some(n)) => reader.consume(n),
                    Ok(None) => break,
                    Err(e) => return e,
                }
            }
        }
        if let Err(e) = reader.fill() {
            return match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    Error::new(ErrorKind::Closed, "connection closed by the server")
                }
                _ => e.into(),
            };
        }
    }
}
