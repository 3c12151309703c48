//! LISTEN/NOTIFY and cancel requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::config::Config;
use crate::error::Result;
use crate::proto;

/// A notification from `NOTIFY channel, 'payload'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notifying backend's process ID.
    pub process_id: i32,
    /// The channel.
    pub channel: String,
    /// The payload.
    pub payload: String,
}

impl Client {
    /// The notifications of channels this connection `LISTEN`s to.
    /// Notifications that arrive during other calls are buffered until
    /// read here.
    ///
    /// ```no_run
    /// # fn f(client: &mut fibra_postgres::Client) -> fibra_postgres::Result<()> {
    /// client.batch_execute("LISTEN jobs")?;
    /// for n in client.notifications().blocking_iter() {
    ///     let n = n?;
    ///     println!("{}: {}", n.channel, n.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn notifications(&mut self) -> Notifications<'_> {
        Notifications { client: self }
    }
}

/// Access to a connection's notifications; from [`Client::notifications`].
#[derive(Debug)]
pub struct Notifications<'a> {
    client: &'a mut Client,
}

impl<'a> Notifications<'a> {
    /// How many notifications are buffered.
    pub fn len(&self) -> usize {
        self.client.notifications.len()
    }

    /// Whether none are buffered.
    pub fn is_empty(&self) -> bool {
        self.client.notifications.is_empty()
    }

    /// The buffered notifications, without waiting.
    pub fn iter(&mut self) -> impl Iterator<Item = Notification> + '_ {
        std::iter::from_fn(|| self.client.notifications.pop_front())
    }

    /// Blocks (parking the coroutine) until a notification arrives; the
    /// iterator never ends unless the connection fails, which it reports
    /// once as an error.
    pub fn blocking_iter(self) -> BlockingIter<'a> {
        BlockingIter {
            client: self.client,
            timeout: None,
            failed: false,
        }
    }

    /// Like [`Notifications::blocking_iter`], but each wait lasts at most
    /// `timeout`; the iterator ends when one passes without a notification.
    pub fn timeout_iter(self, timeout: Duration) -> BlockingIter<'a> {
        BlockingIter {
            client: self.client,
            timeout: Some(timeout),
            failed: false,
        }
    }
}

/// A blocking iterator over notifications.
#[derive(Debug)]
pub struct BlockingIter<'a> {
    client: &'a mut Client,
    timeout: Option<Duration>,
    failed: bool,
}

impl Iterator for BlockingIter<'_> {
    type Item = Result<Notification>;

    fn next(&mut self) -> Option<Result<Notification>> {
        if self.failed {
            return None;
        }
        let deadline = self.timeout.map(|t| Instant::now() + t);
        match self.client.wait_notification(deadline) {
            Ok(n) => n.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Cancels the query running on a connection, from anywhere; from
/// [`Client::cancel_token`]. The server answers a cancel request on a new
/// connection; the canceled query fails with SQLSTATE `57014`.
#[derive(Debug, Clone)]
pub struct CancelToken {
    pub(crate) config: Arc<Config>,
    pub(crate) process_id: i32,
    pub(crate) secret_key: i32,
}

impl CancelToken {
    /// Sends the cancel request. Success means the request was delivered,
    /// not that a query was running or got canceled.
    ///
    /// # Errors
    /// The server could not be reached.
    pub fn cancel_query(&self) -> Result<()> {
        let mut buf = Vec::with_capacity(16);
        proto::encode_cancel_request(&mut buf, self.process_id, self.secret_key);
        crate::transport::cancel(&self.config, &buf)
    }
}
