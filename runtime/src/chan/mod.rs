//! Go-style channels: [`bounded`] (including rendezvous, capacity 0),
//! [`unbounded`], [`oneshot`], and [`select!`](crate::select).
//!
//! Both halves are `Clone` (multi-producer, multi-consumer). Blocking calls
//! park the coroutine, or block the thread when called from a plain OS
//! thread. They honour cancellation and `with_timeout` scopes like I/O
//! calls do: a canceled coroutine's `send`/`recv` returns a `Canceled`
//! error and a passed scope deadline a `Timeout` error; the value of a
//! failed send always comes back in the error.
//!
//! Close semantics follow Go: [`Sender::close`] (or dropping the last
//! sender) closes the channel; receivers first drain what is buffered, then
//! get [`RecvError::Disconnected`]. Sending on a closed channel returns
//! [`SendError::Disconnected`] instead of panicking. When the last receiver
//! drops, sends fail too and the buffer is dropped.
//!
//! Waiters are served FIFO. Rendezvous sends hand the value straight to a
//! receiver: `send` returns `Ok` only once a receiver has it.
//!
//! ```
//! use fibra_runtime::chan;
//!
//! let (tx, rx) = chan::bounded(0);
//! let h = fibra_runtime::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap();
//!     }
//! });
//! let got: Vec<i32> = rx.iter().collect();
//! assert_eq!(got, [0, 1, 2]);
//! h.join().unwrap();
//! ```

mod channel;
mod error;
mod oneshot;
mod select;

pub use channel::{bounded, unbounded, IntoIter, Iter, Receiver, Sender, TryIter};
pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use oneshot::{oneshot, OneshotReceiver, OneshotSender};

/// Support for [`select!`](crate::select); not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use super::channel::{AsReceiver, AsSender, RecvCase, SendCase};
    pub use super::select::{select, Fired, Registered, SelectCase, Token};

    /// A receive case on anything receiver-like.
    pub fn recv_case<R: AsReceiver + ?Sized>(rx: &R) -> RecvCase<'_, R::Item> {
        RecvCase::new(rx.as_receiver())
    }

    /// A send case on anything sender-like.
    pub fn send_case<S: AsSender + ?Sized>(tx: &S, value: S::Item) -> SendCase<'_, S::Item> {
        SendCase::new(tx.as_sender(), value)
    }
}

/// Waits on several channel operations at once and runs the arm of the
/// first that completes, like Go's `select`.
///
/// Arms (separated by commas; a comma after a `{ block }` is optional):
///
/// - `recv(rx) -> res => body`: `res` is `Result<T, RecvError>`
///   (`Err(Disconnected)` once `rx` is closed and drained).
/// - `send(tx, value) -> res => body`: `res` is `Result<(), SendError<T>>`.
///   `value` is evaluated up front; if another arm fires it is dropped.
/// - `default => body`: makes the select non-blocking.
/// - `timeout(duration) => body`: runs if nothing fired within `duration`.
/// - `interrupted(e) => body`: makes the wait cancel-aware; runs with the
///   `io::Error` when the coroutine is canceled or the `with_timeout`
///   scope's deadline passes.
///
/// When several arms are ready, one is chosen at random (by a random
/// start index), so no arm is starved. A `recv` arm takes anything
/// receiver-like: a [`Receiver`], a reference to one, a [`OneshotReceiver`].
///
/// Differences from Go: there are no nil channels (build the select
/// without the arm instead); sending on a closed channel fires the arm with
/// `Err(SendError::Disconnected(value))` instead of panicking; a receive
/// from a closed channel gives `Err(Disconnected)` instead of a zero value;
/// `timeout(d)` replaces `case <-time.After(d)`; and a blocking select
/// without an `interrupted` arm ignores cancellation and `with_timeout`
/// scopes (Go's select knows no cancellation but `ctx.Done()`).
///
/// ```
/// use std::time::Duration;
/// use fibra_runtime::{chan, select};
///
/// let (tx, rx) = chan::unbounded::<i32>();
/// let (_tx2, rx2) = chan::bounded::<&str>(1);
/// tx.send(7).unwrap();
/// let got = select! {
///     recv(rx) -> v => v.unwrap(),
///     recv(rx2) -> s => s.map(|s| s.len() as i32).unwrap_or(-1),
///     timeout(Duration::from_millis(100)) => 0,
/// };
/// assert_eq!(got, 7);
/// ```
#[macro_export]
macro_rules! select {
    ($($tokens:tt)*) => {
        $crate::__select_parse!([] [] [] [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    ([$($c:tt)*] $d:tt $t:tt $i:tt) => {
        $crate::__select_gen!([$($c)*] $d $t $i)
    };
    ($c:tt $d:tt $t:tt $i:tt recv($rx:expr) -> $res:pat => $($tail:tt)*) => {
        $crate::__select_body!($c $d $t $i
            (case ($rx) ($crate::chan::__private::recv_case) () $res) $($tail)*)
    };
    ($c:tt $d:tt $t:tt $i:tt send($tx:expr, $val:expr) -> $res:pat => $($tail:tt)*) => {
        $crate::__select_body!($c $d $t $i
            (case ($tx) ($crate::chan::__private::send_case) (, $val) $res) $($tail)*)
    };
    ($c:tt $d:tt $t:tt $i:tt default => $($tail:tt)*) => {
        $crate::__select_body!($c $d $t $i (default) $($tail)*)
    };
    ($c:tt $d:tt $t:tt $i:tt timeout($dur:expr) => $($tail:tt)*) => {
        $crate::__select_body!($c $d $t $i (timeout $dur) $($tail)*)
    };
    ($c:tt $d:tt $t:tt $i:tt interrupted($e:pat) => $($tail:tt)*) => {
        $crate::__select_body!($c $d $t $i (interrupted $e) $($tail)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_body {
    ($c:tt $d:tt $t:tt $i:tt $arm:tt $body:block, $($rest:tt)*) => {
        $crate::__select_push!($c $d $t $i $arm $body; $($rest)*)
    };
    ($c:tt $d:tt $t:tt $i:tt $arm:tt $body:block $($rest:tt)*) => {
        $crate::__select_push!($c $d $t $i $arm $body; $($rest)*)
    };
    ($c:tt $d:tt $t:tt $i:tt $arm:tt $body:expr, $($rest:tt)*) => {
        $crate::__select_push!($c $d $t $i $arm { $body }; $($rest)*)
    };
    ($c:tt $d:tt $t:tt $i:tt $arm:tt $body:expr) => {
        $crate::__select_push!($c $d $t $i $arm { $body };)
    };
}

/// Each expansion of this macro mints fresh (hygienic) `__case`, `__hold`
/// and `__idx` identifiers for the arm it pushes.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_push {
    ([$($c:tt)*] $d:tt $t:tt $i:tt (case $target:tt $ctor:tt $extra:tt $res:pat) $body:block;
     $($rest:tt)*) => {
        $crate::__select_parse!(
            [$($c)* (__case __hold __idx $target $ctor $extra ($res) $body)] $d $t $i $($rest)*)
    };
    ($c:tt [] $t:tt $i:tt (default) $body:block; $($rest:tt)*) => {
        $crate::__select_parse!($c [$body] $t $i $($rest)*)
    };
    ($c:tt $d:tt [] $i:tt (timeout $dur:expr) $body:block; $($rest:tt)*) => {
        $crate::__select_parse!($c $d [($dur) $body] $i $($rest)*)
    };
    ($c:tt $d:tt $t:tt [] (interrupted $e:pat) $body:block; $($rest:tt)*) => {
        $crate::__select_parse!($c $d $t [($e) $body] $($rest)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_some {
    () => {
        false
    };
    ($($t:tt)+) => {
        true
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_gen {
    ([$(($name:ident $hold:ident $idx:ident ($target:expr) ($($ctor:tt)*) ($($extra:tt)*)
         ($res:pat) $body:block))*]
     [$($dbody:block)?]
     [$(($dur:expr) $tbody:block)?]
     [$(($ipat:pat) $ibody:block)?]) => {{
        let mut __n: usize = 0;
        $(
            let $idx = __n;
            __n += 1;
        )*
        let _ = __n;
        $(
            let $hold = &$target;
            let mut $name = $($ctor)*($hold $($extra)*);
        )*
        let __fired = $crate::chan::__private::select(
            &mut [$(&mut $name as &mut dyn $crate::chan::__private::SelectCase),*],
            $crate::__select_some!($($dbody)?),
            ::core::option::Option::<::std::time::Duration>::None $(.or(Some($dur)))?,
            $crate::__select_some!($($ibody)?),
        );
        match __fired {
            $(
                $crate::chan::__private::Fired::Case(__k) if __k == $idx => {
                    let $res = $name.into_result();
                    $body
                }
            )*
            $( $crate::chan::__private::Fired::Default => $dbody )?
            $( $crate::chan::__private::Fired::Timeout => $tbody )?
            $( $crate::chan::__private::Fired::Interrupted($ipat) => $ibody )?
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("select fired an arm it does not have"),
        }
    }};
}
