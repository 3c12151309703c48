//! Writing: the writer coroutine, which sends the shared buffer in one
//! socket write per turn (so concurrent publishes are batched) and the
//! keep-alive PINGs, and the publisher that writes a full buffer itself.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Instant;

use fibra_net::WriteHalf;
use fibra_runtime::sync::MutexGuard;

use crate::error::{Error, ErrorKind, Result};
use crate::proto;
use crate::state::{Shared, State, Status};

/// Publishers wait while this much is queued for the socket.
///
/// Kept small on purpose: the writer swaps out the whole buffer, so this
/// is also the size of one socket write. A 4 MiB mark made each cycle grow
/// a fresh multi-megabyte buffer (page faults on every new page, about one
/// per 4 KiB published) and copy it through memory far bigger than the
/// caches; with 128 KiB the two buffers stay warm and reused, and the 1 KiB
/// publish benchmark spends about half the CPU time.
const HIGH_WATER: usize = 128 << 10;
/// The writer's spare buffer is kept for reuse up to this capacity (one
/// high-water buffer plus a large message); bigger ones, grown while
/// reconnecting or by a huge publish, are given back.
const KEEP_SPARE: usize = 2 << 20;

impl Shared {
    /// Locks the state once there is room for `size` more bytes.
    pub(crate) fn lock_for_write(&self, size: usize) -> Result<MutexGuard<'_, State>> {
        let mut st = self.lock();
        loop {
            match st.status {
                Status::Closed => return Err(Error::closed()),
                Status::Reconnecting => {
                    if st.wbuf.len() + size > self.opts.reconnect_buffer_size {
                        return Err(Error::new(
                            ErrorKind::BufferFull,
                            "reconnect buffer full: publish after reconnecting",
                        ));
                    }
                    return Ok(st);
                }
                Status::Connected | Status::Draining => {
                    if st.wbuf.len() < HIGH_WATER {
                        return Ok(st);
                    }
                    // A full buffer and an idle socket: write it from this
                    // coroutine, as nats.go's publisher does, instead of
                    // handing it to the writer and waiting. One coroutine
                    // keeps the pipeline going when the machine is busy and
                    // the writer's worker is not scheduled.
                    if !st.writing {
                        if let Some(t) = st.transport.clone() {
                            let chunk = self.take_chunk(&mut st);
                            drop(st);
                            let r = t.write_all_counted(&chunk);
                            let soft = self.finish_write(chunk, r, &t, true);
                            if let Some(e) = soft {
                                return Err(e.into());
                            }
                            st = self.lock();
                            continue;
                        }
                    }
                    st.space_waiters += 1;
                    st = self.space_cv.wait(st);
                    st.space_waiters -= 1;
                }
            }
        }
    }

    /// Takes the write buffer for one socket write (`writing` is set).
    pub(crate) fn take_chunk(&self, st: &mut State) -> Vec<u8> {
        st.writing = true;
        st.unflushed = false;
        let spare = std::mem::take(&mut st.spare);
        let chunk = std::mem::replace(&mut st.wbuf, spare);
        if st.space_waiters > 0 {
            self.space_cv.notify_all();
        }
        chunk
    }

    /// Ends the socket write of `chunk` started by `take_chunk`. On a
    /// failed write the bytes that did not go out are put back in front
    /// of the buffer, so the stream stays whole: for the next connection
    /// after an I/O error (which also shuts the transport down, for the
    /// reader to notice), or for the writer to go on with when only the
    /// calling coroutine's deadline or cancellation stopped it
    /// (`caller_deadline`: a publisher writing); that error is returned.
    pub(crate) fn finish_write(
        &self,
        mut chunk: Vec<u8>,
        r: std::result::Result<(), (usize, io::Error)>,
        t: &WriteHalf,
        caller_deadline: bool,
    ) -> Option<io::Error> {
        let mut st = self.lock();
        st.writing = false;
        let soft = match r {
            Ok(()) => {
                chunk.clear();
                if chunk.capacity() <= KEEP_SPARE && st.spare.capacity() < chunk.capacity() {
                    st.spare = chunk;
                }
                None
            }
            Err((written, e)) => {
                let soft = caller_deadline
                    && (fibra_runtime::is_canceled(&e) || e.kind() == io::ErrorKind::TimedOut);
                if st.status != Status::Closed && (soft || written == 0) {
                    chunk.drain(..written);
                    chunk.extend_from_slice(&st.wbuf);
                    st.wbuf = chunk;
                }
                if soft {
                    // Under TLS the bytes taken may still be waiting to
                    // go out: the writer sends them with its next turn.
                    st.unflushed = true;
                    self.write_cv.notify_one();
                    Some(e)
                } else {
                    tracing::debug!(error = %e, "nats write failed");
                    drop(st);
                    let _ = t.shutdown(Shutdown::Both);
                    return None;
                }
            }
        };
        if !st.wbuf.is_empty() {
            self.write_cv.notify_one();
        }
        if st.space_waiters > 0 {
            self.space_cv.notify_all();
        }
        soft
    }
}

pub(crate) fn writer_loop(shared: Arc<Shared>, t: WriteHalf, gen: u64) {
    let interval = shared.opts.ping_interval;
    let mut next_ping = Instant::now() + interval;
    loop {
        let mut st = shared.lock();
        let chunk = loop {
            if st.gen != gen {
                return;
            }
            let now = Instant::now();
            if now >= next_ping {
                next_ping = now + interval;
                if st.pings_out >= shared.opts.max_pings_out {
                    drop(st);
                    tracing::debug!("stale connection: PINGs unanswered");
                    let _ = t.shutdown(Shutdown::Both);
                    return;
                }
                st.pings_out += 1;
                st.pongs.push_back(None);
                proto::encode_ping(&mut st.wbuf);
            }
            if (!st.wbuf.is_empty() || st.unflushed) && !st.writing {
                break shared.take_chunk(&mut st);
            }
            st = shared.write_cv.wait_timeout(st, next_ping - now).0;
        };
        drop(st);
        let r = t.write_all_counted(&chunk);
        let failed = r.is_err();
        // The writer has no deadline of its own: any error is the socket's
        // (finish_write shuts the transport down).
        let _ = shared.finish_write(chunk, r, &t, false);
        if failed {
            return;
        }
    }
}
