//! Staying connected: the driver runs the reader, restarts the writer
//! and, after every loss, walks the server pool, re-subscribes and sends
//! what was published meanwhile.

use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;

use crate::client::Event;
use crate::conn::{self, Established};
use crate::options::ServerAddr;
use crate::proto;
use crate::reader::reader_loop;
use crate::state::{Shared, Status, SubKind};
use crate::writer::writer_loop;

/// Keeps the client connected: runs the reader, restarts the writer and
/// walks the pool after every loss, until closed.
pub(crate) fn drive(shared: Arc<Shared>, mut est: Established) {
    loop {
        let gen = {
            let mut st = shared.lock();
            if st.status == Status::Closed {
                let _ = est.writer.shutdown(Shutdown::Both);
                return;
            }
            st.gen += 1;
            st.status = Status::Connected;
            st.transport = Some(est.writer.clone());
            st.gen
        };
        shared.space_cv.notify_all();
        let writer = {
            let (s, t) = (shared.clone(), est.writer.clone());
            fibra_runtime::spawn(move || writer_loop(s, t, gen))
        };
        let why = reader_loop(&shared, &mut est.reader);
        let _ = est.writer.shutdown(Shutdown::Both);
        let closed = {
            let mut st = shared.lock();
            st.gen += 1;
            st.transport = None;
            st.pongs.clear();
            st.pings_out = 0;
            let closed = st.status == Status::Closed;
            if !closed {
                st.status = Status::Reconnecting;
                // Try the other servers first.
                if let Some(cur) = st.current.clone() {
                    if let Some(i) = st.servers.iter().position(|s| s.same_endpoint(&cur)) {
                        let s = st.servers.remove(i);
                        st.servers.push(s);
                    }
                }
            }
            closed
        };
        shared.write_cv.notify_all();
        shared.space_cv.notify_all();
        let _ = writer.join();
        if closed {
            return;
        }
        tracing::debug!(error = %why, "nats connection lost");
        shared.emit(Event::Disconnected(why.to_string()));
        if !shared.opts.allow_reconnect {
            shared.close();
            return;
        }
        match reconnect(&shared) {
            Some(e) => {
                est = e;
                let url = {
                    let mut st = shared.lock();
                    let mut resend = Vec::new();
                    for (sid, sub) in &st.subs {
                        proto::encode_sub(&mut resend, &sub.subject, sub.queue.as_deref(), *sid);
                        if let SubKind::Chan { counters, .. } = &sub.kind {
                            let max = counters.max.load(Ordering::Relaxed);
                            if max != 0 {
                                let left =
                                    max.saturating_sub(counters.delivered.load(Ordering::Relaxed));
                                proto::encode_unsub(&mut resend, *sid, Some(left.max(1)));
                            }
                        }
                    }
                    resend.extend_from_slice(&st.wbuf);
                    st.wbuf = resend;
                    // From here on new SUBs go straight to the buffer.
                    st.status = Status::Connected;
                    let info = std::mem::take(&mut est.info);
                    shared.absorb_info(&mut st, info);
                    st.current
                        .as_ref()
                        .map(ServerAddr::display)
                        .unwrap_or_default()
                };
                shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                shared.emit(Event::Reconnected(url));
            }
            None => {
                shared.close();
                return;
            }
        }
    }
}

fn reconnect(shared: &Shared) -> Option<Established> {
    let opts = &shared.opts;
    loop {
        let servers = shared.lock().servers.clone();
        if servers.is_empty() {
            return None;
        }
        for s in servers {
            if shared.lock().status == Status::Closed {
                return None;
            }
            let r = conn::establish(&s, opts);
            let mut st = shared.lock();
            let Some(i) = st.servers.iter().position(|x| x.same_endpoint(&s)) else {
                continue;
            };
            match r {
                Ok(e) => {
                    st.servers[i].attempts = 0;
                    st.current = Some(st.servers[i].clone());
                    return Some(e);
                }
                Err(e) => {
                    tracing::debug!(server = %s.display(), error = %e, "reconnect failed");
                    st.servers[i].attempts += 1;
                    if opts
                        .max_reconnects
                        .is_some_and(|m| st.servers[i].attempts >= m)
                    {
                        st.servers.remove(i);
                    }
                }
            }
        }
        let jitter = opts.reconnect_jitter.as_nanos() as u64;
        let extra = if jitter == 0 {
            0
        } else {
            rand::rng().random_range(0..jitter)
        };
        // A canceled (or timed-out) driver gives up reconnecting rather
        // than retrying without a pause.
        if fibra_runtime::sleep_cancelable(opts.reconnect_wait + Duration::from_nanos(extra))
            .is_err()
        {
            return None;
        }
    }
}
